/**
 * Loading and validation of imhookd's YAML configuration: `${VAR}` / `${file:PATH}`
 * interpolation, defaults, relative paths resolved against the config file's folder, and
 * every problem reported at once with its file, line, column and key path.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parse as parseYaml,
  parseDocument,
  Scalar,
} from "yaml";
import { z } from "zod";
import { parseDuration, parseSize } from "./units.ts";

/** A host and port to listen on; `hostname` has no brackets (`::`, not `[::]`). */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** One SDKAppID accepted by the daemon. */
export interface AppConfig {
  /** The SDKAppID, as a digit string. */
  sdkAppId: string;
  /** The callback auth token; absent (or configured empty) means `Sign` is not checked. */
  token?: string;
  /** Allowed |now - RequestTime|, in ms. */
  maxSkewMs: number;
}

/** One entry of `plugins`. */
export interface PluginEntry {
  /** Unique name, used in metrics, status and replay. */
  name: string;
  /** `use` as written: `builtin:file_logger` or a path. */
  use: string;
  /** `builtin:NAME`, or the absolute module path resolved against the config file's folder. */
  module: string;
  /** CallbackCommand patterns: an exact command, `Prefix.*` or `*`. */
  on: string[];
  /** Callbacks of different groups handled at once by this plugin. */
  concurrency: number;
  /**
   * `ordering` set on this plugin, overriding `delivery.ordering` (which applies when this is
   * undefined). `none` for a plugin whose result does not depend on order, such as
   * `builtin:sqlite_sync`: callbacks of one group may then be handled at the same time.
   */
  ordering?: "per_group" | "none";
  /** Free-form options, validated later by the plugin. */
  options: unknown;
  /**
   * `permissions` as configured, paths made absolute; absent means the default (a built-in's
   * own declaration, read access to its module's folder for a user plugin).
   */
  permissions?: PluginPermissions;
  /** Where the plugin runs: a thread of the daemon (default) or a child process. */
  isolation: "thread" | "process";
  /** `memory_limit` in bytes (`isolation: process` only). */
  memoryLimit?: number;
  /** Position in `plugins`. */
  index: number;
}

/** The Deno permissions a plugin entry may grant, by name. */
export const PERMISSION_NAMES = ["net", "read", "write", "env", "run", "ffi", "sys"] as const;

/** A plugin's `permissions`: `all` (what the daemon has), or Deno's shape per permission. */
export type PluginPermissions =
  | "all"
  | Partial<Record<(typeof PERMISSION_NAMES)[number], string[] | boolean>>;

/** The validated configuration, with defaults filled and paths made absolute. */
export interface Config {
  /** Absolute path of the config file. */
  file: string;
  /** Absolute folder of the config file. */
  dir: string;
  server: {
    listen: ListenAddress;
    path: string;
    maxBodyBytes: number;
    maxInFlight: number;
    tls?: { certFile: string; keyFile: string };
  };
  /** Absent when `admin` is not configured. */
  admin?: { listen: ListenAddress };
  apps: AppConfig[];
  journal: {
    path: string;
    retentionMs: number;
    durability: "os" | "fsync";
    dedupWindowMs: number;
  };
  delivery: {
    maxAttempts: number;
    initialBackoffMs: number;
    maxBackoffMs: number;
    handlerTimeoutMs: number;
    ordering: "per_group" | "none";
    shutdownGraceMs: number;
    /** A plugin whose heartbeat stops this long is restarted. */
    pluginStallMs: number;
    /** Threads that cannot be reclaimed tolerated before the daemon stops to be restarted. */
    maxStuckThreads: number;
    /** Longest a plugin's import plus `create` may take at start and reload. */
    startTimeoutMs: number;
  };
  log: {
    level: "debug" | "info" | "warning" | "error";
    format: "auto" | "json" | "pretty";
  };
  plugins: PluginEntry[];
  /**
   * `"file:line:column"` of the YAML node at a key path (nearest existing ancestor), e.g.
   * `locate(["plugins", 0, "options", "path"])` gives `"/abs/config.yaml:21:7"`.
   */
  locate(path: readonly (string | number)[]): string;
}

/** One problem found in a config file. */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** Key path such as `plugins[1].on`; `""` for the whole file. */
  path: string;
  message: string;
}

/** A config that cannot be used; `issues` lists every problem found, in file order. */
export class ConfigError extends SyntaxError {
  /** Every problem found, in file order. */
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** Options of {@linkcode loadConfig} and {@linkcode parseConfig}. */
export interface LoadOptions {
  /** Variables for `${VAR}`; default: the process environment. */
  env?: Record<string, string | undefined>;
}

/** Built-in plugins that `use: builtin:NAME` may name. */
export const BUILTIN_PLUGINS: readonly string[] = [
  "file_logger",
  "webhook_forwarder",
  "sqlite_sync",
];

/** Reads and validates a config file; throws {@linkcode ConfigError} listing every problem. */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new ConfigError([{
      file,
      line: 1,
      column: 1,
      path: "",
      message: `cannot read the config file: ${errorMessage(error)}`,
    }]);
  }
  return parseConfig(text, file, options);
}

/**
 * Validates config text read from `file` (used to resolve relative paths and in messages);
 * throws {@linkcode ConfigError} listing every problem. `${file:...}` is read synchronously.
 */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const absFile = resolve(file);
  const dir = dirname(absFile);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((error) => ({
      file,
      ...at(error.pos[0]),
      path: "",
      message: error.message,
    })));
  }
  if (doc.contents === null) {
    throw new ConfigError([{
      file,
      line: 1,
      column: 1,
      path: "",
      message: "the config is empty: expected a map with at least an `apps` list",
    }]);
  }

  const locateOffset = (path: readonly (string | number)[]): number => findOffset(doc, path);
  const issues: ConfigIssue[] = [];
  const converter = new Converter(doc, {
    env: options.env ?? Deno.env.toObject(),
    dir,
    onError(node, path, message) {
      issues.push({ file, ...at(node.range?.[0] ?? 0), path: formatPath(path), message });
    },
  });
  const raw = converter.convert();
  const failed = new Set(issues.map((issue) => issue.path));
  const report = (path: readonly PropertyKey[], message: string): void => {
    const keyPath = path.filter((key) => typeof key !== "symbol");
    const formatted = formatPath(keyPath);
    if (failed.has(formatted)) return; // already reported by interpolation
    issues.push({ file, ...at(locateOffset(keyPath)), path: formatted, message });
  };

  const result = configSchema.safeParse(raw, { error: describeIssue });
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) report([...issue.path, key], "unknown key");
      } else {
        report(issue.path, issue.message);
      }
    }
  }
  for (const [path, message] of findDuplicates(raw)) report(path, message);

  if (issues.length > 0 || !result.success) {
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(issues.map((issue) => ({
      ...issue,
      message: redact(issue.message, converter.secrets),
    })));
  }

  const value = result.data;
  const config: Config = {
    file: absFile,
    dir,
    server: {
      listen: value.server.listen,
      path: value.server.path,
      maxBodyBytes: value.server.max_body_bytes,
      maxInFlight: value.server.max_in_flight,
    },
    apps: value.apps.map((app) => ({
      sdkAppId: app.sdk_app_id,
      ...(app.token ? { token: app.token } : {}),
      maxSkewMs: app.max_skew,
    })),
    journal: {
      path: resolve(dir, value.journal.path),
      retentionMs: value.journal.retention,
      durability: value.journal.durability,
      dedupWindowMs: value.journal.dedup_window,
    },
    delivery: {
      maxAttempts: value.delivery.max_attempts,
      initialBackoffMs: value.delivery.initial_backoff,
      maxBackoffMs: value.delivery.max_backoff,
      handlerTimeoutMs: value.delivery.handler_timeout,
      ordering: value.delivery.ordering,
      shutdownGraceMs: value.delivery.shutdown_grace,
      pluginStallMs: value.delivery.plugin_stall,
      maxStuckThreads: value.delivery.max_stuck_threads,
      startTimeoutMs: value.delivery.start_timeout,
    },
    log: { level: value.log.level, format: value.log.format },
    plugins: value.plugins.map((plugin, index) => ({
      name: plugin.name,
      use: plugin.use,
      module: plugin.use.startsWith("builtin:") ? plugin.use : resolve(dir, plugin.use),
      on: plugin.on,
      concurrency: plugin.concurrency,
      ...(plugin.ordering !== undefined ? { ordering: plugin.ordering } : {}),
      options: plugin.options,
      ...(plugin.permissions !== undefined
        ? { permissions: resolvePermissions(plugin.permissions, dir) }
        : {}),
      isolation: plugin.isolation,
      ...(plugin.memory_limit !== undefined ? { memoryLimit: plugin.memory_limit } : {}),
      index,
    })),
    locate(path) {
      const { line, column } = at(locateOffset(path));
      return `${absFile}:${line}:${column}`;
    },
  };
  if (value.server.tls) {
    config.server.tls = {
      certFile: resolve(dir, value.server.tls.cert_file),
      keyFile: resolve(dir, value.server.tls.key_file),
    };
  }
  if (value.admin) config.admin = { listen: value.admin.listen };
  return config;
}

/** Does a CallbackCommand match an `on` pattern (`*`, `Group.*` or an exact command)? */
export function matchesPattern(pattern: string, command: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) {
    const prefix = pattern.slice(0, -1);
    return command.length > prefix.length && command.startsWith(prefix);
  }
  return pattern === command;
}

function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return issue.path === ""
    ? `${where} ${issue.message}`
    : `${where} ${issue.path}: ${issue.message}`;
}

function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function redact(message: string, secrets: ReadonlySet<string>): string {
  for (const secret of secrets) message = message.replaceAll(secret, "***");
  return message;
}

// ---------------------------------------------------------------------------
// YAML tree to plain values, with interpolation

/**
 * Scalars the config reads as text: an entirely-substituted value there stays a string
 * (a digit-only token must not become a number); elsewhere it is re-read as a YAML scalar.
 */
const TEXT_PATHS = new Set([
  "server.listen",
  "server.path",
  "server.tls.cert_file",
  "server.tls.key_file",
  "admin.listen",
  "apps.#.token",
  "journal.path",
  "plugins.#.name",
  "plugins.#.use",
  "plugins.#.on.#",
  ...["net", "read", "write", "env", "run", "ffi", "sys"].map((name) =>
    `plugins.#.permissions.${name}.#`
  ),
]);

const SECRET_PATHS = new Set(["apps.#.token"]);

const MAX_ALIASES = 1000;

interface ConverterOptions {
  env: Record<string, string | undefined>;
  dir: string;
  onError(node: Node, path: (string | number)[], message: string): void;
}

/** Turns the YAML document into plain values, substituting `${...}` in string scalars. */
class Converter {
  /** Text that must never appear in a message: file contents and tokens. */
  readonly secrets: Set<string> = new Set();
  #doc: Document;
  #options: ConverterOptions;
  #aliases = 0;

  constructor(doc: Document, options: ConverterOptions) {
    this.#doc = doc;
    this.#options = options;
  }

  convert(): unknown {
    return this.#value(this.#doc.contents, []);
  }

  #value(node: unknown, path: (string | number)[]): unknown {
    if (isAlias(node)) {
      if (++this.#aliases > MAX_ALIASES) {
        this.#options.onError(node, path, `more than ${MAX_ALIASES} aliases`);
        return null;
      }
      return this.#value(node.resolve(this.#doc), path);
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        // defineProperty: a "__proto__" key must stay a plain key
        Object.defineProperty(out, key, {
          value: this.#value(pair.value, [...path, key]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((item, i) => this.#value(item, [...path, i]));
    if (isScalar(node)) {
      return typeof node.value === "string" ? this.#string(node, node.value, path) : node.value;
    }
    return null;
  }

  #string(node: Scalar, source: string, path: (string | number)[]): unknown {
    const pattern = path.map((key) => typeof key === "number" ? "#" : key).join(".");
    let text = source;
    if (source.includes("${")) {
      try {
        text = this.#interpolate(source);
      } catch (error) {
        this.#options.onError(node, path, errorMessage(error));
        return source;
      }
    }
    if (SECRET_PATHS.has(pattern) && text !== "") this.secrets.add(text);
    const whole = source.startsWith("${") && closingBrace(source, 2) === source.length - 1;
    if (whole && node.type === Scalar.PLAIN && !TEXT_PATHS.has(pattern)) return retype(text);
    return text;
  }

  #interpolate(source: string): string {
    let out = "";
    let i = 0;
    while (i < source.length) {
      if (source.startsWith("$${", i)) {
        out += "${";
        i += 3;
      } else if (source.startsWith("${", i)) {
        const end = closingBrace(source, i + 2);
        if (end < 0) {
          throw new SyntaxError(`unterminated "\${" at character ${i + 1}: missing "}"`);
        }
        out += this.#reference(source.slice(i + 2, end));
        i = end + 1;
      } else {
        out += source[i];
        i += 1;
      }
    }
    return out;
  }

  #reference(body: string): string {
    if (body.startsWith("file:")) {
      const file = resolve(this.#options.dir, this.#interpolate(body.slice(5)));
      let content: string;
      try {
        content = Deno.readTextFileSync(file);
      } catch (error) {
        throw new RangeError(`cannot read "${file}" for \${file:...}: ${errorMessage(error)}`);
      }
      content = content.replace(/\r?\n$/, "");
      if (content !== "") this.secrets.add(content);
      return content;
    }
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/.exec(body);
    if (!match) {
      throw new SyntaxError(
        `invalid reference "\${${body}}": expected \${VAR}, \${VAR:-default} or \${file:PATH}`,
      );
    }
    const [, name, fallback] = match as unknown as [string, string, string | undefined];
    const value = this.#options.env[name];
    if (value !== undefined && (fallback === undefined || value !== "")) return value;
    if (fallback !== undefined) return this.#interpolate(fallback);
    throw new RangeError(
      `environment variable "${name}" is not set (write \${${name}:-default} to give a default)`,
    );
  }
}

/** Index of the `}` closing a `${` whose body starts at `from`, or -1. */
function closingBrace(source: string, from: number): number {
  let depth = 0;
  for (let i = from; i < source.length; i++) {
    if (source.startsWith("$${", i)) {
      i += 2;
    } else if (source.startsWith("${", i)) {
      depth += 1;
      i += 1;
    } else if (source[i] === "}") {
      if (depth === 0) return i;
      depth -= 1;
    }
  }
  return -1;
}

/** Re-reads substituted text as a plain YAML scalar: numbers, booleans and null get typed. */
function retype(text: string): unknown {
  if (/^(?:null|Null|NULL|~|)$/.test(text.trim())) return null;
  try {
    const value = parseYaml(text, { logLevel: "silent" });
    if (typeof value === "number" || typeof value === "boolean") return value;
  } catch {
    // not a scalar YAML accepts: keep the text
  }
  return text;
}

/** Offset of the node (a map key for map entries) at `path`, or its nearest ancestor. */
function findOffset(doc: Document, path: readonly (string | number)[]): number {
  let node: unknown = doc.contents;
  let offset = 0;
  let aliases = 0;
  if (isNodeWithRange(node)) offset = node.range[0];
  for (const key of path) {
    while (isAlias(node) && aliases++ < MAX_ALIASES) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) =>
        isScalar(item.key) ? String(item.key.value) === String(key) : false
      );
      if (!pair) break;
      if (isNodeWithRange(pair.key)) offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number") {
      const item = node.items[key];
      if (item === undefined) break;
      if (isNodeWithRange(item)) offset = item.range[0];
      node = item;
    } else {
      break;
    }
  }
  return offset;
}

function isNodeWithRange(node: unknown): node is { range: [number, number, number] } {
  return typeof node === "object" && node !== null && "range" in node &&
    Array.isArray((node as { range: unknown }).range);
}

// ---------------------------------------------------------------------------
// Schema

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
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
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

function size(value: unknown): number {
  if (typeof value !== "string" && typeof value !== "number") {
    throw new TypeError(`expected a size such as 1048576 or 10MiB, got ${describe(value)}`);
  }
  const bytes = parseSize(value);
  if (bytes < 1) throw new RangeError(`expected a size of at least 1 byte, got "${value}"`);
  return bytes;
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

function patterns(value: unknown): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw new TypeError("expected a list of strings");
  }
  if (value.length === 0) throw new RangeError("expected at least one pattern");
  for (const pattern of value as string[]) {
    if (!/^(?:\*|[^*\s]+\.\*|[^*\s]+)$/.test(pattern)) {
      throw new RangeError(
        `invalid pattern "${pattern}": expected an exact command, "Prefix.*" or "*"`,
      );
    }
  }
  return value as string[];
}

/** The smallest `memory_limit`: a plugin process needs about 40 MiB before any plugin code. */
const MIN_MEMORY_LIMIT = 64 * 1024 * 1024;

function memoryLimit(value: unknown): number {
  const bytes = size(value);
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

/** Makes the paths of `read`, `write`, `ffi` and `run` (those with a slash) absolute. */
function resolvePermissions(permissions: PluginPermissions, dir: string): PluginPermissions {
  if (permissions === "all") return permissions;
  const out: Exclude<PluginPermissions, "all"> = { ...permissions };
  for (const key of ["read", "write", "ffi", "run"] as const) {
    const list = out[key];
    if (!Array.isArray(list)) continue;
    out[key] = list.map((entry) =>
      key !== "run" || entry.includes("/") ? resolve(dir, entry) : entry
    );
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

const configSchema = z.strictObject({
  server: section(
    z.strictObject({
      listen: leaf(listen).default({ hostname: "127.0.0.1", port: 8080 }),
      path: leaf(urlPath).default("/im/callback"),
      max_body_bytes: leaf(size).default(1_048_576),
      max_in_flight: leaf(integer(1)).default(1024),
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
  plugins: section(
    z.array(
      z.strictObject({
        name: leaf(pluginName),
        use: leaf(moduleSpecifier),
        on: leaf(patterns).default(["*"]),
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
      }),
    ).default([]),
  ),
});

/** Duplicate plugin names and SDKAppIDs, checked on the raw values so they join other issues. */
function findDuplicates(raw: unknown): [(string | number)[], string][] {
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
