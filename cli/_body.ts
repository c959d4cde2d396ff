/**
 * The callback body a command sends or hands to a plugin: a built-in sample numbered afresh,
 * or `--body FILE` (`-` for stdin), changed by `--set Key=value`; its command from `--command`
 * or from the body's `CallbackCommand`.
 *
 * @module
 */
import { freshSample } from "../core/protocol/samples.ts";
import { type CliOptions, UsageError } from "./_command.ts";
import { printError } from "./_output.ts";

/** A body to send and the command it is sent as. */
export interface CallbackBody {
  command: string;
  /** The body's text: the file as it was when nothing changed it. */
  text: string;
}

/**
 * The body of `options` (`body`, `set`, `command`); `fallback` names the command of the sample
 * when neither `--command` nor `--body` does. Throws `UsageError` when no command can be found.
 */
export async function callbackBody(
  options: CliOptions,
  fallback?: string,
): Promise<CallbackBody> {
  const sets = (options.set ?? []).map(parseSet);
  let text: string | undefined;
  let value: unknown;
  if (options.body !== undefined) {
    text = options.body === "-" || options.body === "/dev/stdin"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(options.body);
    if (sets.length > 0 || options.command === undefined) value = parseBody(text, options.body);
  } else {
    const command = options.command ?? fallback;
    if (command === undefined) throw new UsageError("Give --command CMD or --body FILE");
    value = freshSample(command, Date.now(), randomSeq());
    if (value === undefined) {
      throw new UsageError(
        `There is no built-in sample for "${command}"; give one with --body FILE`,
      );
    }
  }
  if (sets.length > 0) {
    if (!isObject(value)) throw new UsageError("--set needs a body that is a JSON object");
    for (const [path, item] of sets) setPath(value, path, item);
  }
  if (value !== undefined && (text === undefined || sets.length > 0)) text = JSON.stringify(value);
  const named = isObject(value) ? value.CallbackCommand : undefined;
  const command = options.command ?? (typeof named === "string" ? named : undefined);
  if (command === undefined) {
    throw new UsageError("The body has no CallbackCommand: give --command CMD");
  }
  if (typeof named === "string" && named !== command) {
    printError(
      `Warning: --command ${command} differs from the body's CallbackCommand "${named}" (the listener answers 400)`,
    );
  }
  return { command, text: text! };
}

/** `Key=value` or `A.B.0.C=value`: the value as JSON, or as a string when it is not JSON. */
function parseSet(text: string): [(string | number)[], unknown] {
  const at = text.indexOf("=");
  if (at <= 0) throw new UsageError(`--set "${text}": expected Key=value`);
  const path = text.slice(0, at).split(".").map((key) => /^\d+$/.test(key) ? Number(key) : key);
  if (path.some((key) => key === "" || key === "__proto__")) {
    throw new UsageError(`--set "${text}": expected Key=value`);
  }
  const raw = text.slice(at + 1);
  try {
    return [path, JSON.parse(raw)];
  } catch {
    return [path, raw];
  }
}

function setPath(target: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = target;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next === "object" && next !== null) {
      node = next as Record<string | number, unknown>;
    } else {
      const created = typeof path[i + 1] === "number" ? [] : {};
      node[key] = created;
      node = created as Record<string | number, unknown>;
    }
  }
}

function parseBody(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `The body of ${file === "-" ? "stdin" : `"${file}"`} is not JSON (${
        (error as Error).message
      }): give --command CMD to send it anyway`,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A random `MsgSeq` from 1 to 2^31 - 1: two sends are never one message to the dedup. */
function randomSeq(): number {
  return (crypto.getRandomValues(new Uint32Array(1))[0]! >>> 1) || 1;
}
