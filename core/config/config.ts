/**
 * Loading and validation of imhookd's YAML configuration: `${VAR}` / `${file:PATH}`
 * interpolation (`_yaml.ts`), the schema with its defaults (`_schema.ts`), relative paths
 * resolved against the config file's folder, and every problem reported at once with its file,
 * line, column and key path (`config_error.ts`).
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import {
  configSchema,
  describeIssue,
  findDuplicates,
  type ListenAddress,
  type PluginPermissions,
  pluginSchema,
} from "./_schema.ts";
import { Converter, findOffset } from "./_yaml.ts";
import { ConfigError, type ConfigIssue, errorMessage, formatPath, redact } from "./config_error.ts";
import { patternWarnings } from "./patterns.ts";
import { KNOWN_COMMANDS } from "../protocol/commands.ts";

export { ConfigError, type ConfigIssue } from "./config_error.ts";
export {
  BUILTIN_PLUGINS,
  type ListenAddress,
  PERMISSION_NAMES,
  type PluginPermissions,
} from "./_schema.ts";

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
    maxConnections: number;
    headerTimeoutMs: number;
    idleTimeoutMs: number;
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
  /** How decision callbacks (`.CallbackBefore*`, `.CallbackPrev*`) are decided. */
  decisions: {
    /** The whole decision's time from receipt, in ms (below Tencent's fixed 2 s). */
    deadlineMs: number;
    /** What a decider that fails counts as. */
    fallback: "allow" | "reject";
    /** The fallback of particular commands. */
    fallbackByCommand: Record<string, "allow" | "reject">;
    /** Failures in a row that have a decider skipped for `cooldownMs` (0: never). */
    breaker: { failures: number; cooldownMs: number };
  };
  plugins: PluginEntry[];
  /**
   * `"file:line:column"` of the YAML node at a key path (nearest existing ancestor), e.g.
   * `locate(["plugins", 0, "options", "path"])` gives `"/abs/config.yaml:21:7"`.
   */
  locate(path: readonly (string | number)[]): string;
}

/** Options of {@linkcode loadConfig} and {@linkcode parseConfig}. */
export interface LoadOptions {
  /** Variables for `${VAR}`; default: the process environment. */
  env?: Record<string, string | undefined>;
}

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

  const locateIn = (name: string) => (path: readonly (string | number)[]): string => {
    const { line, column } = at(locateOffset(path));
    return `${name}:${line}:${column}`;
  };
  if (issues.length > 0 || !result.success) {
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(
      issues.map((issue) => ({ ...issue, message: redact(issue.message, converter.secrets) })),
      // The file as the issues name it, so that the plugins' errors read the same way.
      { dir, plugins: usablePlugins(raw, dir, issues), locate: locateIn(file) },
    );
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
      maxConnections: value.server.max_connections,
      headerTimeoutMs: value.server.header_timeout,
      idleTimeoutMs: value.server.idle_timeout,
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
    decisions: {
      deadlineMs: value.decisions.deadline,
      fallback: value.decisions.fallback,
      fallbackByCommand: value.decisions.fallback_by_command,
      breaker: {
        failures: value.decisions.breaker.failures,
        cooldownMs: value.decisions.breaker.cooldown,
      },
    },
    plugins: value.plugins.map((plugin, index) => pluginEntry(plugin, index, dir)),
    locate: locateIn(absFile),
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

function pluginEntry(
  plugin: z.output<typeof pluginSchema>,
  index: number,
  dir: string,
): PluginEntry {
  return {
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
  };
}

/** The entries of `plugins` with no issue of their own, as they would be configured. */
function usablePlugins(raw: unknown, dir: string, issues: readonly ConfigIssue[]): PluginEntry[] {
  const list = (raw as { plugins?: unknown } | null)?.plugins;
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, index) => {
    const prefix = `plugins[${index}]`;
    if (issues.some((issue) => issue.path === prefix || issue.path.startsWith(`${prefix}.`))) {
      return [];
    }
    const parsed = pluginSchema.safeParse(item, { error: describeIssue });
    return parsed.success ? [pluginEntry(parsed.data, index, dir)] : [];
  });
}

/**
 * What is valid but likely a mistake, one line each with its location, as `check` prints them
 * and `serve` logs them: `on` patterns that match no known command (with the nearest one).
 */
export function configWarnings(config: Pick<Config, "plugins" | "locate">): string[] {
  return patternWarnings(config.plugins, KNOWN_COMMANDS).map((warning) =>
    `${config.locate(warning.path)} ${formatPath(warning.path)}: ${warning.message}`
  );
}
