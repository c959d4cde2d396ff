/**
 * Loading of plugin modules: built-ins through the map of `builtins.ts`, user plugins by
 * path. Checks each module's shape and options, runs `create`
 * and `[Symbol.asyncDispose]`, and works out the Deno permissions a plugin's thread gets.
 * The plugin's own thread calls these (see `plugin_thread.ts`); the main thread only loads
 * built-ins, to ask them which permissions their options need.
 *
 * @module
 */
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import type { Logger } from "@logtape/logtape";
import type { Plugin, PluginInstance } from "../../plugin.ts";
import type { Config, PluginEntry } from "../config/config.ts";
import { describeError } from "../describe_error.ts";
import { logger as categoryLogger } from "../ops/log.ts";
import { BUILTINS } from "./builtins.ts";

/**
 * Whether a reload must restart a running plugin for `next`: its module, options,
 * concurrency, ordering, permissions or isolation changed (its name, `on` patterns and
 * position need no restart). Here rather than in `config.ts`, which the delivery threads do
 * not load: zod and yaml would cost each ~4 MiB of heap.
 */
export function pluginChanged(running: PluginEntry, next: PluginEntry): boolean {
  return running.module !== next.module || running.concurrency !== next.concurrency ||
    running.ordering !== next.ordering || running.isolation !== next.isolation ||
    running.memoryLimit !== next.memoryLimit ||
    JSON.stringify(running.permissions) !== JSON.stringify(next.permissions) ||
    JSON.stringify(running.options) !== JSON.stringify(next.options);
}

/** A plugin module that loaded and accepted its options. */
export interface LoadedPlugin {
  entry: PluginEntry;
  plugin: Plugin;
  options: unknown;
}

/** Plugins that cannot start; `problems` has one line per plugin, with its location. */
export class PluginLoadError extends TypeError {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.name = "PluginLoadError";
    this.problems = problems;
  }
}

/** Where a plugin is loaded from, and how to name places in its config file. */
export interface LoadContext {
  /** The config file's folder. */
  configDir: string;
  /** `file:line:column` of a key path of the config (see `Config.locate`). */
  locate(path: readonly (string | number)[]): string;
}

/**
 * Imports `entry`'s module and runs its `parseOptions` (never `create`). Throws
 * {@linkcode PluginLoadError} with one line naming the plugin, its path and why.
 */
export async function loadPlugin(entry: PluginEntry, context: LoadContext): Promise<LoadedPlugin> {
  const where = context.locate(["plugins", entry.index, "use"]);
  const prefix = `Cannot load plugin "${entry.name}": module "${entry.use}"`;
  let module: { default?: unknown };
  try {
    module = await importModule(entry.module);
  } catch (error) {
    throw new PluginLoadError([
      `${where} plugins[${entry.index}].use: ${prefix} failed to load: ${
        describeError(error, { name: false })
      }`,
    ]);
  }
  const plugin = module.default as Partial<Plugin> | undefined;
  const shape = checkShape(plugin);
  if (shape !== undefined) {
    throw new PluginLoadError([`${where} plugins[${entry.index}].use: ${prefix} ${shape}`]);
  }
  let options: unknown = entry.options;
  if (plugin!.parseOptions !== undefined) {
    try {
      options = plugin!.parseOptions(entry.options, {
        name: entry.name,
        configDir: context.configDir,
      });
    } catch (error) {
      // An AggregateError reports several bad options at once, each its own problem.
      const problems = (error instanceof AggregateError ? error.errors : [error]).map((each) => {
        const message = describeError(each, { name: false });
        // Built-in plugins start their messages with the key path, e.g. "options.path: ...".
        const keyPath = /^options((?:\.[A-Za-z_][\w-]*|\[\d+\])*)/.exec(message)?.[1] ?? "";
        const path = ["plugins", entry.index, "options", ...splitKeyPath(keyPath)];
        return `${
          context.locate(path)
        } plugins[${entry.index}].options${keyPath}: Cannot load plugin "${entry.name}" (${entry.use}): ${message}`;
      });
      throw new PluginLoadError(problems);
    }
  }
  return { entry, plugin: plugin as Plugin, options };
}

/**
 * Loads every plugin of `config` in this thread, as {@linkcode loadPlugin} does each, and
 * throws one {@linkcode PluginLoadError} with every problem. For tools that run a plugin
 * in-process (`imhookd plugin test`) and for the errors of a refused config; `serve` and
 * `check` load each plugin on its own thread instead.
 */
export async function loadPlugins(
  config: Pick<Config, "dir" | "plugins" | "locate">,
): Promise<LoadedPlugin[]> {
  const problems: string[] = [];
  const loaded: LoadedPlugin[] = [];
  for (const entry of config.plugins) {
    try {
      loaded.push(await loadPlugin(entry, { configDir: config.dir, locate: config.locate }));
    } catch (error) {
      if (!(error instanceof PluginLoadError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new PluginLoadError(problems);
  return loaded;
}

/** A created plugin. */
export interface StartedPlugin extends LoadedPlugin {
  instance: PluginInstance;
}

/**
 * Runs each plugin's `create` in this thread. If one fails, the ones already created are
 * disposed and a {@linkcode PluginLoadError} names the failing plugin.
 */
export async function startPlugins(
  loaded: readonly LoadedPlugin[],
  options: { configDir: string; signal: AbortSignal },
): Promise<StartedPlugin[]> {
  const started: StartedPlugin[] = [];
  for (const item of loaded) {
    try {
      const instance = await createPlugin(item, {
        ...options,
        logger: categoryLogger("plugin", item.entry.name),
      });
      started.push({ ...item, instance });
    } catch (error) {
      await disposePlugins(started);
      throw new PluginLoadError([describeError(error, { name: false })]);
    }
  }
  return started;
}

/** Disposes plugins in reverse order of creation; logs (never throws) their failures. */
export async function disposePlugins(started: readonly StartedPlugin[]): Promise<void> {
  for (const item of [...started].reverse()) {
    await disposePlugin(item.entry.name, item.instance, categoryLogger("plugin", item.entry.name));
  }
}

/** What {@linkcode createPlugin} hands to `create` besides the options. */
export interface CreateContext {
  configDir: string;
  logger: Logger;
  /** Aborted when the plugin is stopped. */
  signal: AbortSignal;
}

/** Runs the plugin's `create`; throws a TypeError saying why when it fails. */
export async function createPlugin(
  loaded: LoadedPlugin,
  context: CreateContext,
): Promise<PluginInstance> {
  let instance: PluginInstance;
  try {
    instance = await loaded.plugin.create(loaded.options, {
      name: loaded.entry.name,
      ...context,
    });
  } catch (error) {
    throw new TypeError(
      `Cannot start plugin "${loaded.entry.name}" (${loaded.entry.use}): ${
        describeError(error, { name: false })
      }`,
    );
  }
  const methods = instance as { handle?: unknown; decide?: unknown } | null | undefined;
  if (typeof methods?.handle !== "function" && typeof methods?.decide !== "function") {
    throw new TypeError(
      `Cannot start plugin "${loaded.entry.name}" (${loaded.entry.use}): create() did not return an object with a handle() or decide() method`,
    );
  }
  return instance;
}

/** Disposes a plugin instance; logs (never throws) its failure. */
export async function disposePlugin(
  name: string,
  instance: PluginInstance,
  logger: Logger,
): Promise<void> {
  try {
    await instance[Symbol.asyncDispose]?.();
  } catch (error) {
    logger.error("Cannot dispose plugin {name}: {error}", { name, error: describeError(error) });
  }
}

/**
 * The Deno permissions of `entry`'s thread: `"inherit"` for `permissions: all`; the config
 * entry's `permissions` when given; else a built-in's own declaration for its options (its
 * module is loaded here for that, and its options checked: this throws
 * {@linkcode PluginLoadError} as {@linkcode loadPlugin} does); else, for a user plugin, read
 * access to its module's folder. Every permission not granted is denied, but a user plugin
 * can always read its own module file (its thread imports it), and every thread may read and
 * lower its priority until the plugin loads (see `plugin_thread.ts`).
 */
export async function pluginPermissions(
  entry: PluginEntry,
  context: LoadContext,
): Promise<"inherit" | Deno.PermissionOptionsObject> {
  if (entry.permissions === "all") return "inherit";
  let granted: Deno.PermissionOptionsObject;
  if (entry.permissions !== undefined) {
    granted = { ...entry.permissions };
  } else if (entry.module.startsWith("builtin:")) {
    const loaded = await loadPlugin(entry, context);
    granted = loaded.plugin.permissions?.(loaded.options, { configDir: context.configDir }) ?? {};
  } else {
    granted = { read: [dirname(entry.module)] };
  }
  const permissions: Deno.PermissionOptionsObject = {
    net: false,
    read: false,
    write: false,
    env: false,
    run: false,
    ffi: false,
    sys: false,
    // Remote imports are the daemon's own setting (a plugin may import from a registry).
    import: "inherit",
    ...granted,
  };
  if (!entry.module.startsWith("builtin:")) {
    permissions.read = withItems(permissions.read, [entry.module]);
  }
  permissions.sys = withItems(permissions.sys, PRIORITY_KINDS) as Deno.PermissionOptionsObject[
    "sys"
  ];
  return permissions;
}

/** The sys permissions a thread needs to lower its own priority. */
export const PRIORITY_KINDS = ["getPriority", "setPriority"] as const;

/** A permission's setting with `items` allowed too. */
function withItems(
  setting: Deno.PermissionOptionsObject["read"],
  items: readonly string[],
): Deno.PermissionOptionsObject["read"] {
  if (setting === true || setting === "inherit") return setting;
  const list = Array.isArray(setting) ? setting.map(String) : [];
  return [...list, ...items.filter((item) => !list.includes(item))];
}

function importModule(module: string): Promise<{ default?: unknown }> {
  if (module.startsWith("builtin:")) {
    const load = BUILTINS.get(module.slice("builtin:".length));
    if (load === undefined) {
      return Promise.reject(new TypeError(`there is no built-in plugin "${module}"`));
    }
    return load();
  }
  return import(pathToFileURL(module).href);
}

function checkShape(plugin: Partial<Plugin> | undefined): string | undefined {
  if (typeof plugin !== "object" || plugin === null) return "has no default export object";
  if (typeof plugin.create !== "function") return "has no create()";
  if (plugin.parseOptions !== undefined && typeof plugin.parseOptions !== "function") {
    return "has a parseOptions that is not a function";
  }
  return undefined;
}

function splitKeyPath(keyPath: string): (string | number)[] {
  return [...keyPath.matchAll(/\.([^.[]+)|\[(\d+)\]/g)].map((m) =>
    m[1] !== undefined ? m[1] : Number(m[2])
  );
}
