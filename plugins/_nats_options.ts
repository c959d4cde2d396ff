/**
 * The options of `builtin:nats_forwarder`: their parsed shape, how the raw config entry is
 * checked (every bad option reported at once), the subject template's rules, and the
 * permissions they need.
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import type { PluginOptionsContext } from "../plugin.ts";
import { parseDuration } from "../core/config/units.ts";
import { isRecord, OptionErrors, show } from "./_options.ts";

/** The parsed options of `builtin:nats_forwarder`. */
export interface NatsForwarderOptions {
  /** `host:port` of each server (a `nats://` prefix is dropped). */
  servers: string[];
  stream: string;
  /** The subject template, with `{command}` and `{sdk_app_id}`. */
  subject: string;
  /** Absolute path of a `.creds` file (user JWT and NKey seed), when set. */
  credentials?: string;
  createStream: boolean;
  /** The `duplicate_window` of a stream this plugin creates, in ms (default 24 h). */
  duplicateWindowMs: number;
  /** How long a publish waits for the stream's ack, in ms (default 10 s). */
  timeoutMs: number;
}

const OPTION_KEYS = [
  "servers",
  "stream",
  "subject",
  "credentials",
  "create_stream",
  "duplicate_window",
  "timeout",
];
const DEFAULT_PORT = 4222;
/** The placeholders of a subject template. */
export const PLACEHOLDER = /\{(command|sdk_app_id)\}/g;

/** Validates the raw `options` of a `builtin:nats_forwarder` entry. */
export function parseNatsForwarderOptions(
  raw: unknown,
  ctx: PluginOptionsContext,
): NatsForwarderOptions {
  if (!isRecord(raw)) {
    throw new TypeError(
      `options: expected a mapping with "servers" and "stream", got ${show(raw)}`,
    );
  }
  const errors = new OptionErrors();
  errors.unknownKeys(raw, OPTION_KEYS, "options");
  const servers = errors.check(() => {
    const list = typeof raw.servers === "string" ? [raw.servers] : raw.servers;
    if (!Array.isArray(list) || list.length === 0) {
      throw new TypeError(
        `options.servers: expected a list of host:port, got ${show(raw.servers)}`,
      );
    }
    return list;
  })?.map((server, i) => errors.check(() => parseServer(server, `options.servers[${i}]`))!);
  const stream = errors.check(() => {
    const stream = raw.stream;
    if (typeof stream !== "string" || !/^[A-Za-z0-9_-]{1,255}$/.test(stream)) {
      throw new RangeError(
        `options.stream: expected a stream name of letters, digits, _ and -, got ${show(stream)}`,
      );
    }
    return stream;
  });
  const subject = errors.check(() => {
    const subject = raw.subject ?? "im.{command}";
    if (typeof subject !== "string" || !validSubject(subject.replace(PLACEHOLDER, "x"))) {
      throw new RangeError(
        `options.subject: expected a subject such as im.{command}, without spaces or wildcards, got ${
          show(subject)
        }`,
      );
    }
    if (subject.split(".")[0]!.includes("{")) {
      throw new RangeError(
        `options.subject: the first token must be plain text (the stream's subjects are "FIRST.>"), got ${
          show(subject)
        }`,
      );
    }
    return subject;
  });
  const duplicateWindowMs = errors.check(() =>
    duration(raw.duplicate_window, "duplicate_window", "24h")
  );
  const timeoutMs = errors.check(() => duration(raw.timeout, "timeout", "10s"));
  const createStream = errors.check(() => {
    if (raw.create_stream === undefined) return false;
    if (typeof raw.create_stream !== "boolean") {
      throw new TypeError(
        `options.create_stream: expected true or false, got ${show(raw.create_stream)}`,
      );
    }
    return raw.create_stream;
  });
  const credentials = errors.check(() => {
    const path = raw.credentials;
    if (path === undefined) return undefined;
    if (typeof path !== "string" || path === "") {
      throw new TypeError(
        `options.credentials: expected the path of a .creds file, got ${show(path)}`,
      );
    }
    return isAbsolute(path) ? path : join(ctx.configDir, path);
  });
  errors.throwIfAny();
  const options: NatsForwarderOptions = {
    servers: servers!,
    stream: stream!,
    subject: subject!,
    createStream: createStream!,
    duplicateWindowMs: duplicateWindowMs!,
    timeoutMs: timeoutMs!,
  };
  if (credentials !== undefined) options.credentials = credentials;
  return options;
}

function parseServer(raw: unknown, at: string): string {
  if (typeof raw !== "string") throw new TypeError(`${at}: expected host:port, got ${show(raw)}`);
  const text = raw.replace(/^nats:\/\//, "");
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text);
  const port = Number(match?.[2] ?? DEFAULT_PORT);
  if (match === null || port < 1 || port > 65535) {
    throw new RangeError(`${at}: expected host:port such as nats-1:4222, got ${show(raw)}`);
  }
  return `${match[1]}:${port}`;
}

function duration(raw: unknown, key: string, fallback: string): number {
  const value = raw ?? fallback;
  let ms: number;
  try {
    if (typeof value !== "string") throw new TypeError();
    ms = parseDuration(value);
  } catch {
    throw new RangeError(
      `options.${key}: expected a duration such as 10s or 24h, got ${show(value)}`,
    );
  }
  if (ms <= 0 || ms > 2 ** 31 - 1) {
    throw new RangeError(
      `options.${key}: expected a duration above 0 and below 24 days, got ${show(value)}`,
    );
  }
  return ms;
}

/** Tokens of visible characters other than the wildcards `*` and `>`, joined by dots. */
export function validSubject(subject: string): boolean {
  return subject.split(".").every((token) => /^[\x21-\x7e]+$/.test(token) && !/[*>]/.test(token));
}

/** The permissions `builtin:nats_forwarder` needs: each server, and its credentials file. */
export function natsForwarderPermissions(
  options: NatsForwarderOptions,
): Deno.PermissionOptionsObject {
  return {
    net: [...options.servers],
    read: options.credentials === undefined ? false : [options.credentials],
  };
}
