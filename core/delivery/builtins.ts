/**
 * The built-in plugins, by the name `use: builtin:NAME` gives them. Each is a literal
 * `import()` so that `deno compile` embeds it, and a function so that importing this map
 * loads no plugin: the config takes its names from here without loading the plugins.
 *
 * To add a built-in plugin: its module under `plugins/` and one line here.
 *
 * @module
 */

/** Loads a built-in plugin module. */
export type BuiltinLoader = () => Promise<{ default: unknown }>;

/** Every built-in plugin, by name. */
export const BUILTINS: ReadonlyMap<string, BuiltinLoader> = new Map<string, BuiltinLoader>([
  ["file_logger", () => import("../../plugins/file_logger.ts")],
  ["webhook_forwarder", () => import("../../plugins/webhook_forwarder.ts")],
  ["sqlite_sync", () => import("../../plugins/sqlite_sync.ts")],
  ["postgres_sync", () => import("../../plugins/postgres_sync.ts")],
  ["nats_forwarder", () => import("../../plugins/nats_forwarder.ts")],
  ["moderation", () => import("../../plugins/moderation.ts")],
]);

/**
 * The built-in plugins that answer decisions (`decide`). The others only `handle`: their
 * threads run nicer than the listener whatever their `on` (see `plugin_handle.ts`).
 */
export const BUILTIN_DECIDERS: ReadonlySet<string> = new Set(["moderation"]);
