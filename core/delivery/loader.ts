/**
 * Loading of plugin modules: built-ins through the map of `builtins.ts`, user plugins by
 * path. Checks each module's shape and options at start.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import type { Logger } from "@logtape/logtape";
import type { Plugin, PluginInstance } from "../../plugin.ts";
import type { Config, PluginEntry } from "../config/config.ts";
import { logger as categoryLogger } from "../ops/log.ts";
import { BUILTINS } from "./builtins.ts";

/**
 * Whether a reload must restart a running plugin for `next`: its module, options,
 * concurrency or ordering changed (its name, `on` patterns and position need no restart).
 * Here rather than in `config.ts`, which the delivery thread does not load: zod and yaml
 * would cost it ~4 MiB of heap.
 */
export function pluginChanged(running: PluginEntry, next: PluginEntry): boolean {
  return running.module !== next.module || running.concurrency !== next.concurrency ||
    running.ordering !== next.ordering ||
    JSON.stringify(running.options) !== JSON.stringify(next.options);
}

/**
 * Whether a reload must restart `running` for `next`: {@linkcode pluginChanged}, or its
 * `parseOptions` gave other options (it read a file that changed, as `builtin:moderation`'s
 * words file).
 */
export function mustRestart(running: LoadedPlugin, next: LoadedPlugin): boolean {
  return pluginChanged(running.entry, next.entry) ||
    JSON.stringify(running.options) !== JSON.stringify(next.options);
}

/** A plugin module that loaded and accepted its options. */
export interface LoadedPlugin {
  entry: PluginEntry;
  plugin: Plugin;
  options: unknown;
}

/** A created plugin. */
export interface StartedPlugin extends LoadedPlugin {
  instance: PluginInstance;
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

/**
 * Imports every plugin module of `config` and runs its `parseOptions` (never `create`).
 * Throws {@linkcode PluginLoadError} naming every plugin that failed, its path and why.
 */
export async function loadPlugins(
  config: Pick<Config, "dir" | "plugins" | "locate">,
): Promise<LoadedPlugin[]> {
  const problems: string[] = [];
  const loaded: LoadedPlugin[] = [];
  for (const entry of config.plugins) {
    const where = config.locate(["plugins", entry.index, "use"]);
    const prefix = `Cannot load plugin "${entry.name}": module "${entry.use}"`;
    let module: { default?: unknown };
    try {
      module = await importModule(entry.module);
    } catch (error) {
      problems.push(
        `${where} plugins[${entry.index}].use: ${prefix} failed to load: ${describe(error)}`,
      );
      continue;
    }
    const plugin = module.default as Partial<Plugin> | undefined;
    const shape = checkShape(plugin);
    if (shape !== undefined) {
      problems.push(`${where} plugins[${entry.index}].use: ${prefix} ${shape}`);
      continue;
    }
    let options: unknown = entry.options;
    if (plugin!.parseOptions !== undefined) {
      try {
        options = plugin!.parseOptions(entry.options, { name: entry.name, configDir: config.dir });
      } catch (error) {
        // An AggregateError reports several bad options at once, each its own problem.
        for (const each of error instanceof AggregateError ? error.errors : [error]) {
          const message = describe(each);
          // Built-in plugins start their messages with the key path, e.g. "options.path: ...".
          const keyPath = /^options((?:\.[A-Za-z_][\w-]*|\[\d+\])*)/.exec(message)?.[1] ?? "";
          const path = ["plugins", entry.index, "options", ...splitKeyPath(keyPath)];
          problems.push(
            `${
              config.locate(path)
            } plugins[${entry.index}].options${keyPath}: Cannot load plugin "${entry.name}" (${entry.use}): ${message}`,
          );
        }
        continue;
      }
    }
    loaded.push({ entry, plugin: plugin as Plugin, options });
  }
  if (problems.length > 0) throw new PluginLoadError(problems);
  return loaded;
}

/** Options of {@linkcode startPlugins}. */
export interface StartOptions {
  configDir: string;
  /** Aborted when imhookd shuts down. */
  signal: AbortSignal;
}

/**
 * Runs each plugin's `create`. If one fails, the ones already created are disposed and a
 * {@linkcode PluginLoadError} names the failing plugin.
 */
export async function startPlugins(
  loaded: readonly LoadedPlugin[],
  options: StartOptions,
): Promise<StartedPlugin[]> {
  const started: StartedPlugin[] = [];
  for (const item of loaded) {
    const log: Logger = categoryLogger("plugin", item.entry.name);
    try {
      const instance = await item.plugin.create(item.options, {
        name: item.entry.name,
        configDir: options.configDir,
        logger: log,
        signal: options.signal,
      });
      if (typeof instance?.handle !== "function" && typeof instance?.decide !== "function") {
        throw new TypeError("create() did not return an object with a handle() or decide() method");
      }
      for (const method of ["handle", "decide"] as const) {
        if (instance[method] !== undefined && typeof instance[method] !== "function") {
          throw new TypeError(`create() returned an object whose ${method} is not a function`);
        }
      }
      started.push({ ...item, instance });
    } catch (error) {
      await disposePlugins(started);
      throw new PluginLoadError([
        `Cannot start plugin "${item.entry.name}" (${item.entry.use}): ${describe(error)}`,
      ]);
    }
  }
  return started;
}

/** Disposes plugins in reverse order of creation; logs (never throws) their failures. */
export async function disposePlugins(started: readonly StartedPlugin[]): Promise<void> {
  for (const item of [...started].reverse()) {
    try {
      await item.instance[Symbol.asyncDispose]?.();
    } catch (error) {
      categoryLogger("plugin", item.entry.name).error("Cannot dispose plugin {name}: {error}", {
        name: item.entry.name,
        error: describe(error),
      });
    }
  }
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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
