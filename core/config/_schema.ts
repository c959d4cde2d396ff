/**
 * The config's schema (zod): each key, its default, and the checks of its leaf values, whose
 * messages say what was expected and what was found.
 *
 * @module
 */
import { z } from "zod";
import { BUILTINS } from "../delivery/builtins.ts";
import { commandKind } from "../protocol/commands.ts";
import { errorMessage } from "./config_error.ts";
import { parsePatterns } from "./patterns.ts";
import { parseDuration, parseSize } from "./units.ts";

/** A host and port to listen on; `hostname` has no brackets (`::`, not `[::]`). */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** The Deno permissions a plugin entry may grant, by name. */
export const PERMISSION_NAMES = ["net", "read", "write", "env", "run", "ffi", "sys"] as const;

/** A plugin's `permissions`: `all` (what the daemon has), or Deno's shape per permission. */
export type PluginPermissions =
  | "all"
  | Partial<Record<(typeof PERMISSION_NAMES)[number], string[] | boolean>>;

/** Built-in plugins that `use: builtin:NAME` may name. */
export const BUILTIN_PLUGINS: readonly string[] = Object.freeze([...BUILTINS.keys()]);

/** What a value is, without showing it: "a list", "a string", ... */
function kind(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `a ${typeof value}`;
}

/** A value for a message: quoted when it is a string or number, else its kind. */
function describe(value: unknown): string {
  if (typeof value === "string" || typeof value === "number") return `"${value}"`;
  return kind(value);
}

const EXPECTED: Record<string, string> = {
  array: "a list",
  object: "a map",
  record: "a map",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
};

/** Error messages for zod's own issues: short, and never quoting a string value. */
export function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === "invalid_type") {
    if (issue.input === undefined) return "required";
    return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${kind(issue.input)}`;
  }
  return undefined;
}

/** A leaf value checked by a function that throws TypeError/RangeError with the message. */
function leaf<T>(check: (value: unknown) => T): z.ZodType<T> {
  return z.unknown().transform((value, ctx): T => {
    if (value === undefined) {
      ctx.issues.push({ code: "custom", message: "required", input: value });
      return z.NEVER;
    }
    try {
      return check(value);
    } catch (error) {
      ctx.issues.push({ code: "custom", message: errorMessage(error), input: value });
      return z.NEVER;
    }
  });
}

function text(value: unknown): string {
  if (typeof value !== "string") {
    throw new TypeError(`expected a string, got ${kind(value)}`);
  }
  return value;
}

function integer(min: number): (value: unknown) => number {
  return (value) => {
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      throw new TypeError(`expected an integer of at least ${min}, got ${describe(value)}`);
    }
    if (value < min) {
      throw new RangeError(`expected an integer of at least ${min}, got ${value}`);
    }
    return value;
  };
}

function duration({ positive = false } = {}): (value: unknown) => number {
  return (value) => {
    if (typeof value !== "string" && typeof value !== "number") {
      throw new TypeError(
        `expected a duration such as 500ms, 10s, 5m or 7d, got ${describe(value)}`,
      );
    }
    const ms = parseDuration(value);
    if (positive && ms <= 0) throw new RangeError(`expected a duration above zero, got "${value}"`);
    return ms;
  };
}

/** A size; a bare number is bytes only with `bareBytes`, for keys that name the unit. */
function size({ bareBytes = false } = {}): (value: unknown) => number {
  return (value) => {
    if (typeof value !== "string" && typeof value !== "number") {
      throw new TypeError(`expected a size such as 512KiB or 10MiB, got ${describe(value)}`);
    }
    const bytes = parseSize(value, { bareBytes });
    if (bytes < 1) throw new RangeError(`expected a size of at least 1 byte, got "${value}"`);
    return bytes;
  };
}

function oneOf<const T extends string>(...values: T[]): (value: unknown) => T {
  return (value) => {
    if (!values.includes(value as T)) {
      throw new RangeError(
        `expected one of ${values.join(", ")}, got ${describe(value)}`,
      );
    }
    return value as T;
  };
}

function listen(value: unknown): ListenAddress {
  const match = typeof value === "string"
    ? /^(?:\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(value)
    : null;
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new RangeError(
      `invalid listen address ${
        describe(value)
      }: expected host:port such as 127.0.0.1:8080 or [::]:8080`,
    );
  }
  return { hostname: match[1] ?? match[2]!, port };
}

function urlPath(value: unknown): string {
  const path = text(value);
  if (!path.startsWith("/") || /[\s?#]/.test(path)) {
    throw new RangeError(`invalid path "${path}": expected a URL path starting with "/"`);
  }
  return path;
}

function sdkAppId(value: unknown): string {
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === "string" && /^\d+$/.test(value)) return value;
  throw new TypeError(`expected an SDKAppID (an integer), got ${describe(value)}`);
}

function token(value: unknown): string | undefined {
  if (value === null) return undefined;
  if (typeof value !== "string") {
    throw new TypeError(`expected a string, got ${kind(value)}`);
  }
  return value === "" ? undefined : value;
}

function pluginName(value: unknown): string {
  const name = text(value);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new RangeError(`invalid name "${name}": use letters, digits, "_", "-" and "."`);
  }
  return name;
}

function moduleSpecifier(value: unknown): string {
  const use = text(value);
  if (use.startsWith("builtin:")) {
    const name = use.slice("builtin:".length);
    if (!BUILTIN_PLUGINS.includes(name)) {
      throw new RangeError(
        `unknown built-in plugin "${name}": expected one of ${BUILTIN_PLUGINS.join(", ")}`,
      );
    }
    return use;
  }
  if (!/\.(?:ts|js|mts|mjs)$/.test(use)) {
    throw new RangeError(
      `invalid plugin "${use}": expected builtin:NAME or a path to a .ts, .js, .mts or .mjs file`,
    );
  }
  return use;
}

/** Tencent waits this long for the answer to a decision callback, at most. */
const TENCENT_TIMEOUT_MS = 2_000;

function deadline(value: unknown): number {
  const ms = duration({ positive: true })(value);
  if (ms >= TENCENT_TIMEOUT_MS) {
    throw new RangeError(
      `expected a duration below Tencent's 2s timeout (the answer must follow the journal commit), got "${value}"`,
    );
  }
  return ms;
}

function fallbacks(value: unknown): Record<string, "allow" | "reject"> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`expected a map of commands to allow or reject, got ${kind(value)}`);
  }
  const verdict = oneOf("allow", "reject");
  const out: Record<string, "allow" | "reject"> = {};
  for (const [command, fallback] of Object.entries(value)) {
    if (commandKind(command) !== "before") {
      throw new RangeError(
        `"${command}" is not a decision command (a .CallbackBefore or .CallbackPrev one)`,
      );
    }
    try {
      out[command] = verdict(fallback);
    } catch (error) {
      throw new RangeError(`${command}: ${errorMessage(error)}`);
    }
  }
  return out;
}

/** The smallest `memory_limit`: a plugin process needs about 40 MiB before any plugin code. */
const MIN_MEMORY_LIMIT = 64 * 1024 * 1024;

function memoryLimit(value: unknown): number {
  const bytes = size()(value);
  if (bytes < MIN_MEMORY_LIMIT) {
    throw new RangeError(`expected at least 64MiB, got ${describe(value)}`);
  }
  return bytes;
}

function permissions(value: unknown): PluginPermissions {
  if (value === "all") return "all";
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `expected "all" or a map of ${
        PERMISSION_NAMES.join(", ")
      } (each a list, true or false), got ${describe(value)}`,
    );
  }
  const out: Exclude<PluginPermissions, "all"> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!(PERMISSION_NAMES as readonly string[]).includes(key)) {
      throw new RangeError(`unknown permission "${key}": expected ${PERMISSION_NAMES.join(", ")}`);
    }
    if (typeof item === "boolean") {
      out[key as keyof typeof out] = item;
    } else if (Array.isArray(item) && item.every((entry) => typeof entry === "string")) {
      out[key as keyof typeof out] = item as string[];
    } else {
      throw new TypeError(`${key}: expected a list of strings, true or false, got ${kind(item)}`);
    }
  }
  return out;
}

/**
 * A config section. `key:` with nothing after it reads as null: taken as "not given", which
 * is `{}` (all defaults) for sections that always exist.
 */
function section<T extends z.ZodType>(
  schema: T,
  { always = false } = {},
): z.ZodType<z.output<T>, unknown> {
  return z.preprocess((value) => value ?? (always ? {} : undefined), schema);
}

/**
 * One entry of `plugins`. Also checked alone: the entries that pass are loaded even when other
 * parts of the config fail, so that `check` reports their errors in the same run.
 */
export const pluginSchema = z.strictObject({
  name: leaf(pluginName),
  use: leaf(moduleSpecifier),
  on: leaf(parsePatterns).default(["*"]),
  concurrency: leaf(integer(1)).default(8),
  ordering: leaf(oneOf("per_group", "none")).optional(),
  options: z.unknown().optional().transform((value) => value ?? {}),
  permissions: leaf(permissions).optional(),
  isolation: leaf(oneOf("thread", "process")).default("thread"),
  memory_limit: leaf(memoryLimit).optional(),
}).superRefine((plugin, ctx) => {
  if (plugin.memory_limit !== undefined && plugin.isolation !== "process") {
    ctx.addIssue({
      code: "custom",
      path: ["memory_limit"],
      message: "applies to isolation: process only (a thread shares the daemon's memory)",
    });
  }
});

/** The whole config file, snake_case keys as written, defaults filled. */
export const configSchema = z.strictObject({
  server: section(
    z.strictObject({
      listen: leaf(listen).default({ hostname: "127.0.0.1", port: 8080 }),
      path: leaf(urlPath).default("/im/callback"),
      max_body_bytes: leaf(size({ bareBytes: true })).default(1_048_576),
      max_in_flight: leaf(integer(1)).default(1024),
      max_connections: leaf(integer(1)).default(1024),
      header_timeout: leaf(duration({ positive: true })).default(10_000),
      idle_timeout: leaf(duration({ positive: true })).default(60_000),
      tls: section(z.strictObject({ cert_file: leaf(text), key_file: leaf(text) }).optional()),
    }),
    { always: true },
  ),
  admin: section(
    z.strictObject({
      listen: leaf(listen).default({ hostname: "127.0.0.1", port: 9090 }),
    }).optional(),
  ),
  apps: z.array(z.strictObject({
    sdk_app_id: leaf(sdkAppId),
    token: leaf(token).optional(),
    max_skew: leaf(duration()).default(60_000),
  })).min(1, "expected at least one app"),
  journal: section(
    z.strictObject({
      path: leaf(text).default("./data/journal.db"),
      retention: leaf(duration()).default(7 * 86_400_000),
      durability: leaf(oneOf("os", "fsync")).default("os"),
      dedup_window: leaf(duration()).default(86_400_000),
    }),
    { always: true },
  ),
  delivery: section(
    z.strictObject({
      max_attempts: leaf(integer(1)).default(12),
      initial_backoff: leaf(duration()).default(1_000),
      max_backoff: leaf(duration()).default(600_000),
      handler_timeout: leaf(duration({ positive: true })).default(30_000),
      ordering: leaf(oneOf("per_group", "none")).default("per_group"),
      shutdown_grace: leaf(duration()).default(10_000),
      plugin_stall: leaf(duration({ positive: true })).default(30_000),
      max_stuck_threads: leaf(integer(0)).default(2),
      start_timeout: leaf(duration({ positive: true })).default(30_000),
    }),
    { always: true },
  ),
  log: section(
    z.strictObject({
      level: leaf(oneOf("debug", "info", "warning", "error")).default("info"),
      format: leaf(oneOf("auto", "json", "pretty")).default("auto"),
    }),
    { always: true },
  ),
  decisions: section(
    z.strictObject({
      deadline: leaf(deadline).default(1_500),
      fallback: leaf(oneOf("allow", "reject")).default("allow"),
      fallback_by_command: leaf(fallbacks).default({}),
      breaker: section(
        z.strictObject({
          failures: leaf(integer(0)).default(5),
          cooldown: leaf(duration({ positive: true })).default(30_000),
        }),
        { always: true },
      ),
    }),
    { always: true },
  ),
  plugins: section(z.array(pluginSchema).default([])),
});

/** Duplicate plugin names and SDKAppIDs, checked on the raw values so they join other issues. */
export function findDuplicates(raw: unknown): [(string | number)[], string][] {
  const root = typeof raw === "object" && raw !== null ? raw as Record<string, unknown> : {};
  return [
    ...duplicates(root.apps, "apps", "sdk_app_id", (value) => {
      if (typeof value === "number" || typeof value === "string") return sdkAppIdOrUndefined(value);
      return undefined;
    }),
    ...duplicates(root.plugins, "plugins", "name", (v) => typeof v === "string" ? v : undefined),
  ];
}

function sdkAppIdOrUndefined(value: unknown): string | undefined {
  try {
    return sdkAppId(value);
  } catch {
    return undefined;
  }
}

function duplicates(
  list: unknown,
  section: string,
  key: string,
  normalize: (value: unknown) => string | undefined,
): [(string | number)[], string][] {
  if (!Array.isArray(list)) return [];
  const found: [(string | number)[], string][] = [];
  const seen = new Map<string, number>();
  list.forEach((item: unknown, index) => {
    if (typeof item !== "object" || item === null) return;
    const value = normalize((item as Record<string, unknown>)[key]);
    if (value === undefined) return;
    const first = seen.get(value);
    if (first === undefined) seen.set(value, index);
    else {
      found.push([
        [section, index, key],
        `"${value}" is already the ${key} of ${section}[${first}]`,
      ]);
    }
  });
  return found;
}
