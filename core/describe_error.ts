/**
 * Turning whatever was thrown into one readable line. Plugins may throw anything: `null`, a
 * null-prototype object, a Proxy whose traps throw, an object whose `toString` or `message`
 * getter throws, an error whose `cause` chain loops. None of that may escape as a second
 * exception from the code that only wanted to log or store the first.
 *
 * @module
 */

/** Options of {@linkcode describeError}. */
export interface DescribeOptions {
  /** Longest text returned; longer text is cut and ends with `…`. Default 1000. */
  maxLength?: number;
  /** How many `cause` links to follow. Default 5. */
  maxCauses?: number;
  /** False to leave out the outermost error's name (`TypeError: `). Default true. */
  name?: boolean;
}

/**
 * One line describing `error`: `Name: message` (no name for a plain `Error`), then each
 * `cause` as `; caused by Name: message`. Never throws; bounded in length; newlines become
 * spaces.
 */
export function describeError(error: unknown, options: DescribeOptions = {}): string {
  const maxLength = options.maxLength ?? 1000;
  const maxCauses = options.maxCauses ?? 5;
  const seen = new Set<unknown>();
  const parts: string[] = [];
  let current: unknown = error;
  let length = 0;
  for (let depth = 0; depth <= maxCauses; depth++) {
    seen.add(current);
    const text = describeOne(current, depth > 0 || options.name !== false);
    parts.push(text);
    length += text.length;
    if (length > maxLength) break;
    const cause = read(current, "cause");
    if (cause === undefined || cause === NOTHING || seen.has(cause)) break;
    if (depth === maxCauses) {
      parts.push("…");
      break;
    }
    current = cause;
  }
  const line = parts.join("; caused by ").replace(/\s*[\r\n]+\s*/g, " ");
  return line.length > maxLength ? `${line.slice(0, Math.max(0, maxLength - 1))}…` : line;
}

/** What {@linkcode read} returns when reading threw. */
const NOTHING = Symbol("nothing");

/** `value[key]`, or {@linkcode NOTHING} when `value` is no object or reading it throws. */
function read(value: unknown, key: string): unknown {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) {
    return undefined;
  }
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return NOTHING;
  }
}

function describeOne(value: unknown, named = true): string {
  switch (typeof value) {
    case "string":
      return value === "" ? '""' : value;
    case "undefined":
      return "undefined";
    case "symbol":
      return safe(() => value.toString()) ?? "a symbol";
    case "function":
      return `a function ${safe(() => JSON.stringify(value.name)) ?? ""}`.trimEnd();
    case "object":
      if (value === null) return "null";
      return describeObject(value, named);
    default:
      return String(value);
  }
}

function describeObject(value: object, named: boolean): string {
  const message = read(value, "message");
  if (typeof message === "string") {
    const name = named ? read(value, "name") : undefined;
    const label = typeof name === "string" && name !== "" && name !== "Error" ? `${name}: ` : "";
    const errors = read(value, "errors");
    const inner = Array.isArray(errors) && errors.length > 0
      ? ` [${errors.slice(0, 3).map((inner) => describeOne(inner)).join("; ")}${
        errors.length > 3 ? "; …" : ""
      }]`
      : "";
    return `${label}${message === "" ? "(no message)" : message}${inner}`;
  }
  const text = safe(() => String(value));
  if (text !== undefined && !/^\[object \w*\]$/.test(text)) return text;
  const json = safe(() => JSON.stringify(value));
  if (json !== undefined) return json;
  const tag = safe(() => Object.prototype.toString.call(value));
  return `an object that cannot be printed${tag !== undefined ? ` (${tag})` : ""}`;
}

/** `fn()`, or undefined when it throws or returns no string. */
function safe(fn: () => string | undefined): string | undefined {
  try {
    const result = fn();
    return typeof result === "string" ? result : undefined;
  } catch {
    return undefined;
  }
}
