/**
 * Where a plugin runs, as its entry's `isolation` asks (a thread, or a child process), and a
 * trial run of one plugin outside the daemon (`imhookd plugin test`): the same runner, the
 * same permissions, the same messages as under `serve`.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import type { Config, PluginEntry } from "../config/config.ts";
import { PluginLoadError, pluginPermissions } from "./loader.ts";
import { resolveLocations } from "./locations.ts";
import type { FailureReason, Fatal, PluginRunner, RunnerOptions } from "./plugin_handle.ts";
import { PluginThread } from "./plugin_handle.ts";
import { PluginProcess } from "./plugin_process.ts";
import { RemotePlugin } from "./remote_plugin.ts";

/** A runner for `entry` as its `isolation` asks. */
export function spawnRunner(entry: PluginEntry, options: RunnerOptions): PluginRunner {
  return entry.isolation === "process"
    ? new PluginProcess(entry, options)
    : new PluginThread(entry, options);
}

/** One plugin started on a runner of its own, to be called directly. */
export interface Trial {
  /** Whether the instance has `handle` / `decide`. */
  hasHandle: boolean;
  hasDecide: boolean;
  /** Calls the instance's `decide` on its runner. */
  decide(event: CallbackEvent, signal: AbortSignal): Promise<unknown>;
  /** Calls the instance's `handle` on its runner, as the engine does. */
  handle(event: CallbackEvent, signal: AbortSignal): Promise<void>;
  /** Heartbeats so far: they stop while the plugin's code never yields. */
  beats(): number;
  /** Rejects once the plugin fails on its own (exits, throws outside a call, runs out of memory). */
  failed: Promise<never>;
  /** Disposes the instance, waiting at most `limitMs`, and ends the runner. */
  stop(limitMs: number): Promise<void>;
  /** Ends the runner at once (a thread stuck in a loop cannot be stopped otherwise). */
  kill(why: string): void;
}

/**
 * Starts `entry`'s plugin on a runner of its own with the permissions `serve` gives it, and
 * creates it. Rejects with `PluginLoadError` (config locations filled in) when it cannot load,
 * and with a TypeError when `create` fails.
 */
export async function startTrial(entry: PluginEntry, config: Config): Promise<Trial> {
  const failed = Promise.withResolvers<never>();
  // Observed by whoever races it; unobserved until then.
  failed.promise.catch(() => {});
  const permissions = await pluginPermissions(entry, {
    configDir: config.dir,
    locate: (path) => config.locate(path),
  });
  const runner = spawnRunner(entry, {
    configDir: config.dir,
    configFile: config.file,
    log: config.log,
    permissions,
    onFatal: (fatal: Fatal) =>
      failed.reject(new Error(`the plugin ${describeFailure(fatal.reason, fatal.error)}`)),
  });
  try {
    await runner.load();
    const { hasHandle, hasDecide } = await runner.create();
    const remote = hasHandle ? new RemotePlugin(entry.name, runner.connect()) : undefined;
    return {
      hasHandle,
      hasDecide,
      decide: (event, signal) => runner.decide(event, signal),
      handle: (event, signal) =>
        remote === undefined
          ? Promise.reject(new TypeError("the plugin has no handle()"))
          : remote.handle(event, signal),
      beats: () => runner.pulse().beats,
      failed: failed.promise,
      stop: (limitMs) => runner.stop(limitMs),
      kill: (why) => runner.kill(why),
    };
  } catch (error) {
    runner.kill("did not start");
    throw withLocations(error, config);
  }
}

/** What a plugin that failed for `reason` did, for logs and status: "exited (...)", ... */
export function describeFailure(reason: FailureReason, error: string): string {
  switch (reason) {
    case "stall":
      return error;
    case "exit":
      return `exited (${error})`;
    case "uncaught_error":
      return `threw outside a handler: ${error}`;
    case "unhandled_rejection":
      return `left a promise rejection unhandled: ${error}`;
    case "out_of_memory":
      return `ran out of memory (${error})`;
    case "start_failed":
      return `failed to start: ${error}`;
    case "start_timeout":
      return error;
  }
}

/**
 * Loads `entry`'s plugin once on a runner of its own, as a start would (permissions, import,
 * `parseOptions`), then ends it: what `check` and a reload do before anything changes.
 * Rejects with `PluginLoadError`, locations filled in, when it cannot load within
 * `delivery.start_timeout`.
 */
export async function loadOnce(entry: PluginEntry, config: Config): Promise<void> {
  const locate = (path: readonly (string | number)[]): string => config.locate(path);
  let runner: PluginRunner | undefined;
  try {
    const permissions = await pluginPermissions(entry, { configDir: config.dir, locate });
    runner = spawnRunner(entry, {
      configDir: config.dir,
      configFile: config.file,
      log: config.log,
      permissions,
      onFatal: () => {},
    });
    await within(runner.load(), config.delivery.startTimeoutMs);
  } catch (error) {
    if (error instanceof StartTimeout) {
      throw new PluginLoadError([
        `${
          locate(["plugins", entry.index, "use"])
        } plugins[${entry.index}].use: Cannot load plugin "${entry.name}": module "${entry.use}" did not load within delivery.start_timeout (${
          formatMs(config.delivery.startTimeoutMs)
        })`,
      ]);
    }
    throw withLocations(error, config);
  } finally {
    runner?.kill("was only loaded");
  }
}

export class StartTimeout extends RangeError {
  override name = "StartTimeout";
}

/** `promise`, or a {@linkcode StartTimeout} rejection after `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StartTimeout("start timed out")), Math.max(0, ms));
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A `PluginLoadError` from another thread with its config locations filled in. */
export function withLocations(error: unknown, config: Config): unknown {
  return error instanceof PluginLoadError
    ? new PluginLoadError(resolveLocations(error.problems, config))
    : error;
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`;
}
