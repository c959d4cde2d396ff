/**
 * Supervision of the plugins, on the main thread: each plugin's runner (a thread, or a child
 * process) is started, watched through its heartbeat, and restarted on its own with backoff
 * when it stalls, exits, throws outside a handler, leaves a rejection unhandled, runs out of
 * memory or cannot start. The engine hears when a plugin goes down (what it held counts a
 * failed attempt) and when it is up again. Threads that cannot be reclaimed are counted; past
 * the limit the daemon is asked to stop, so that systemd restarts it.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import type { Config, PluginEntry } from "../config/config.ts";
import { describeError } from "../describe_error.ts";
import { logger } from "../ops/log.ts";
import type { Metrics } from "../ops/metrics.ts";
import { PluginLoadError, pluginPermissions } from "./loader.ts";
import { resolveLocations } from "./locations.ts";
import { type FailureReason, type PluginRunner, type RunnerOptions } from "./plugin_handle.ts";
import { describeFailure, spawnRunner } from "./runner.ts";
import type { Down } from "./remote_plugin.ts";
import { Suspects, suspectsPath } from "./suspects.ts";
import {
  pluginStatesPath,
  type PluginStatus,
  REFRESH_MS,
  removePluginStates,
  writePluginStates,
} from "./plugin_states.ts";

export type { PluginStatus };

const log = logger("daemon");

/** What the supervisor asks of the delivery engine. */
export interface EngineLink {
  /**
   * Start delivering to `entry`'s plugin through `port`; without one (a plugin that only
   * decides), its deliveries are done at once.
   */
  up(entry: PluginEntry, port: MessagePort | undefined): Promise<void>;
  /** The plugin went down: fail what it held, stop its lane; resolves once committed. */
  down(name: string, down: Down): Promise<void>;
  /** Stop delivering to `name`, giving running handlers `graceMs`. */
  remove(name: string, graceMs: number): Promise<void>;
}

/** Options of {@linkcode Supervisor}. */
export interface SupervisorOptions {
  engine: EngineLink;
  metrics: Metrics;
  /** Called once when more threads cannot be reclaimed than `delivery.max_stuck_threads`. */
  onTooManyStuck(reason: string): void;
  /** Makes the runner of a plugin; default: a thread, or a process for `isolation: process`. */
  spawn?: (entry: PluginEntry, options: RunnerOptions) => PluginRunner;
}

/** Restart delays: from RESTART_MIN_MS, doubling, at most RESTART_MAX_MS. */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A plugin that ran this long before failing starts its backoff over. */
const HEALTHY_MS = 60_000;
/** A handler running synchronously this long makes its callback a suspect (`suspects.ts`). */
const SUSPECT_AFTER_MS = 100;

/** Runs the plugins of the config in force; see the module's description. */
export class Supervisor {
  #options: SupervisorOptions;
  #config: Config;
  #plugins = new Map<string, Supervised>();
  #deciders: readonly string[] | undefined;
  #stuck = 0;
  #tooMany = false;
  #stopped = false;
  #refresh: ReturnType<typeof setInterval>;
  #watch: ReturnType<typeof setInterval>;
  #suspects: Suspects;

  constructor(config: Config, options: SupervisorOptions) {
    this.#config = config;
    this.#options = options;
    this.#suspects = new Suspects(suspectsPath(config.journal.path));
    // Often enough to write a suspect down before a thread that allocates without bound
    // aborts the process; a check only reads a few words of shared memory per plugin.
    const every = 50;
    this.#watch = setInterval(() => this.#check(), every);
    this.#refresh = setInterval(() => this.publish(), REFRESH_MS);
  }

  /** Threads that could not be reclaimed so far. */
  get stuck(): number {
    return this.#stuck;
  }

  /** The config whose settings (stall, timeouts, log) new runners get. */
  set config(config: Config) {
    this.#config = config;
    this.decidersChanged();
  }

  /**
   * Starts `entry`'s plugin on a new runner: works out its permissions (a built-in's options
   * are checked then), then loads it. Resolves once it is loaded, or after `waitMs` (the load
   * goes on); rejects with `PluginLoadError` when it cannot load. `create` follows in the
   * background; a plugin that fails from then on is restarted.
   */
  async start(entry: PluginEntry, waitMs: number): Promise<void> {
    const plugin = new Supervised(entry, this);
    this.#plugins.set(entry.name, plugin);
    this.decidersChanged();
    try {
      await plugin.begin(waitMs);
    } catch (error) {
      this.#plugins.delete(entry.name);
      this.decidersChanged();
      throw error;
    }
  }

  /**
   * Like {@linkcode start}, but resolves once the plugin runs and rejects with a TypeError
   * saying why when its first start fails (it is restarted with backoff all the same).
   */
  async startRunning(entry: PluginEntry): Promise<void> {
    await this.start(entry, this.#config.delivery.startTimeoutMs);
    await this.#plugins.get(entry.name)?.firstStart;
  }

  /** Stops `name`'s plugin: its lane (running handlers get `graceMs`), then its instance. */
  async stop(name: string, graceMs: number, disposeMs: number): Promise<void> {
    const plugin = this.#plugins.get(name);
    this.#plugins.delete(name);
    this.decidersChanged();
    await plugin?.stop(graceMs, disposeMs);
  }

  /** Stops every plugin, in reverse config order. */
  async stopAll(graceMs: number, disposeMs: number): Promise<void> {
    clearInterval(this.#watch);
    clearInterval(this.#refresh);
    this.#stopped = true;
    await Promise.all(
      [...this.#plugins.keys()].reverse().map((name) => this.stop(name, graceMs, disposeMs)),
    );
    try {
      removePluginStates(pluginStatesPath(this.#config.journal.path));
    } catch (error) {
      log.warn("Cannot remove the plugin states file: {error}", { error: describeError(error) });
    }
  }

  /** Writes the plugins' states for `imhookd status` (see `plugin_states.ts`). */
  publish(): void {
    if (this.#stopped) return;
    try {
      writePluginStates(pluginStatesPath(this.#config.journal.path), {
        pid: Deno.pid,
        at: Date.now(),
        stuck: this.#stuck,
        plugins: this.status(),
      });
    } catch (error) {
      log.warn("Cannot write the plugin states file: {error}", { error: describeError(error) });
    }
  }

  /** The plugin running as `name`, if any. */
  get(name: string): Supervised | undefined {
    return this.#plugins.get(name);
  }

  /** Every plugin's state, in config order. */
  status(): PluginStatus[] {
    return this.#ordered().map((plugin) => plugin.status());
  }

  /** Reasons the daemon is not ready: plugins not running, threads that could not be ended. */
  problems(): string[] {
    const problems = this.#ordered().flatMap((plugin) => plugin.problem() ?? []);
    if (this.#stuck > 0) {
      problems.push(
        `${this.#stuck} plugin thread(s) stuck in a loop cannot be reclaimed (the daemon stops past delivery.max_stuck_threads = ${this.#config.delivery.maxStuckThreads})`,
      );
    }
    return problems;
  }

  /** See `DeliveryHost.decide`. */
  decide(name: string, event: CallbackEvent, signal: AbortSignal): Promise<unknown> {
    const plugin = this.#plugins.get(name);
    if (plugin === undefined) {
      return Promise.reject(new TypeError(`There is no plugin "${name}" running`));
    }
    return plugin.decide(event, signal);
  }

  /** See `DeliveryHost.deciders`. */
  deciders(): readonly string[] {
    // Asked for every decision callback: made again only when a plugin, its `decide` or the
    // config's order changed.
    return this.#deciders ??= this.#ordered().filter((plugin) => plugin.hasDecide).map((
      plugin,
    ) => plugin.name);
  }

  /** Forgets the list of deciders; the next {@linkcode deciders} makes it again. */
  decidersChanged(): void {
    this.#deciders = undefined;
  }

  #ordered(): Supervised[] {
    const order = new Map(this.#config.plugins.map((entry, index) => [entry.name, index]));
    return [...this.#plugins.values()].sort((a, b) =>
      (order.get(a.name) ?? Infinity) - (order.get(b.name) ?? Infinity)
    );
  }

  #check(): void {
    for (const plugin of this.#plugins.values()) plugin.check(this.#config.delivery.pluginStallMs);
  }

  /** Struck off when undefined; see `suspects.ts`. */
  suspect(name: string, callback: number | undefined): void {
    try {
      this.#suspects.set(name, callback);
    } catch (error) {
      log.warn("Cannot write the suspects file: {error}", { error: describeError(error) });
    }
  }

  /** For {@linkcode Supervised}: the shared pieces. */
  get internals(): Internals {
    return {
      config: this.#config,
      options: this.#options,
      stuck: () => {
        this.#stuck++;
        this.publish();
        const max = this.#config.delivery.maxStuckThreads;
        if (this.#stuck <= max || this.#tooMany) return false;
        this.#tooMany = true;
        this.#options.onTooManyStuck(
          `${this.#stuck} plugin threads are stuck and cannot be reclaimed (delivery.max_stuck_threads: ${max})`,
        );
        return true;
      },
    };
  }
}

interface Internals {
  config: Config;
  options: SupervisorOptions;
  /** Counts a thread that cannot be reclaimed; true when that is one too many. */
  stuck(): boolean;
}

type Phase = "starting" | "running" | "restarting" | "stopped";

/** One supervised plugin: its entry, its current runner and how it has fared. */
class Supervised {
  readonly entry: PluginEntry;
  #hasDecide = false;
  #supervisor: Supervisor;
  #runner: PluginRunner | undefined;
  #permissions: RunnerOptions["permissions"] | undefined;
  #phase: Phase = "starting";
  /** Moves on each new runner and on stop: work for an older runner is dropped. */
  #generation = 0;
  #restarts = 0;
  #failures = 0;
  #runningSince = 0;
  #reason: string | undefined;
  #wired = false;
  /** True while `begin` waits for the first load, which reports its own failure. */
  #beginning = false;
  #first = Promise.withResolvers<void>();
  #retry: ReturnType<typeof setTimeout> | undefined;
  #beats = 0;
  #beatAt = performance.now();
  /** The callback whose handler ran synchronously at the last check, and since when. */
  #busy: { callback: number; since: number } | undefined;
  #startedAt = performance.now();

  /** Whether the running instance has `decide`. */
  get hasDecide(): boolean {
    return this.#hasDecide;
  }

  set hasDecide(value: boolean) {
    if (value === this.#hasDecide) return;
    this.#hasDecide = value;
    this.#supervisor.decidersChanged();
  }

  constructor(entry: PluginEntry, supervisor: Supervisor) {
    this.entry = entry;
    this.#supervisor = supervisor;
  }

  get name(): string {
    return this.entry.name;
  }

  /** Settles when the first runner runs the plugin, or fails to. */
  get firstStart(): Promise<void> {
    return this.#first.promise;
  }

  /** See {@linkcode Supervisor.start}. */
  async begin(waitMs: number): Promise<void> {
    const { config } = this.#supervisor.internals;
    try {
      this.#permissions = await pluginPermissions(this.entry, {
        configDir: config.dir,
        locate: (path) => config.locate(path),
      });
    } catch (error) {
      throw resolved(error, config);
    }
    this.#beginning = true;
    const loading = this.#launch();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        // Only a module that cannot load fails the start; a timeout is the supervisor's to handle.
        loading.catch((error) => {
          if (error instanceof PluginLoadError) throw error;
        }),
        new Promise<void>((resolve) => timer = setTimeout(resolve, waitMs)),
      ]);
    } catch (error) {
      this.#generation++;
      this.#phase = "stopped";
      this.#runner?.kill("did not load");
      throw resolved(error, config);
    } finally {
      this.#beginning = false;
      clearTimeout(timer);
    }
  }

  status(): PluginStatus {
    const phase = this.#phase;
    return {
      name: this.name,
      state: phase,
      restarts: this.#restarts,
      ...(this.#reason !== undefined ? { reason: this.#reason } : {}),
    };
  }

  problem(): string | undefined {
    if (this.#phase === "running" || this.#phase === "stopped") return undefined;
    if (this.#phase === "starting") return `plugin "${this.name}" is starting`;
    return `plugin "${this.name}" ${this.#reason}`;
  }

  decide(event: CallbackEvent, signal: AbortSignal): Promise<unknown> {
    if (this.#phase !== "running" || this.#runner === undefined) {
      return Promise.reject(new TypeError(`plugin "${this.name}" is ${this.#phase}`));
    }
    return this.#runner.decide(event, signal);
  }

  /** Fails the runner whose heartbeat stopped for `stallMs` (once it has started beating). */
  check(stallMs: number): void {
    const runner = this.#runner;
    if (runner === undefined || this.#phase === "stopped" || this.#phase === "restarting") return;
    const now = performance.now();
    const { beats, callback } = runner.pulse();
    if (!runner.killable) this.#watchBusy(callback, now);
    if (beats !== this.#beats) {
      this.#beats = beats;
      this.#beatAt = now;
      return;
    }
    if (beats > 0 && now - this.#beatAt >= stallMs) {
      this.#fail("stall", `stopped answering its heartbeat for ${formatMs(stallMs)}`);
    }
  }

  /** Keeps the suspects file up to date with a handler that has run synchronously for long. */
  #watchBusy(callback: number | undefined, now: number): void {
    if (callback === undefined || callback !== this.#busy?.callback) {
      if (this.#busy !== undefined) this.#supervisor.suspect(this.name, undefined);
      this.#busy = callback === undefined ? undefined : { callback, since: now };
      return;
    }
    if (now - this.#busy.since >= SUSPECT_AFTER_MS) this.#supervisor.suspect(this.name, callback);
  }

  async stop(graceMs: number, disposeMs: number): Promise<void> {
    this.#generation++;
    this.#clearBusy();
    this.#phase = "stopped";
    clearTimeout(this.#retry);
    const runner = this.#runner;
    this.#runner = undefined;
    this.hasDecide = false;
    if (this.#wired) {
      this.#wired = false;
      await this.#supervisor.internals.options.engine.remove(this.name, graceMs);
    }
    await runner?.stop(disposeMs);
  }

  #clearBusy(): void {
    if (this.#busy !== undefined) this.#supervisor.suspect(this.name, undefined);
    this.#busy = undefined;
  }

  /** Starts a new runner; resolves once it is loaded, then goes on to create the plugin. */
  #launch(): Promise<void> {
    const generation = ++this.#generation;
    const { config, options } = this.#supervisor.internals;
    this.#phase = "starting";
    this.#startedAt = performance.now();
    this.#beats = 0;
    this.#beatAt = performance.now();
    const runnerOptions: RunnerOptions = {
      configDir: config.dir,
      configFile: config.file,
      log: config.log,
      permissions: this.#permissions!,
      onFatal: (fatal) => {
        if (generation === this.#generation) this.#fail(fatal.reason, fatal.error);
      },
    };
    let runner: PluginRunner;
    try {
      runner = (options.spawn ?? spawnRunner)(this.entry, runnerOptions);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#runner = runner;
    const timeoutMs = config.delivery.startTimeoutMs;
    const deadline = performance.now() + timeoutMs;
    const loading = within(runner.load(), timeoutMs);
    loading.then(async () => {
      const started = await within(runner.create(), deadline - performance.now());
      if (generation !== this.#generation) return;
      this.hasDecide = started.hasDecide;
      // A plugin that only decides still has deliveries (routes follow `on`): done at once.
      await options.engine.up(this.entry, started.hasHandle ? runner.connect() : undefined);
      if (generation !== this.#generation) return;
      this.#wired = true;
      this.#phase = "running";
      this.#runningSince = performance.now();
      this.#first.resolve();
      this.#supervisor.publish();
      log.info("Plugin {name} started", { name: this.name });
    }).catch((error) => {
      if (generation !== this.#generation) return;
      if (this.#beginning && error instanceof PluginLoadError) return;
      if (error instanceof StartTimeout) {
        this.#fail(
          "start_timeout",
          `did not start within delivery.start_timeout (${formatMs(timeoutMs)})`,
        );
      } else {
        this.#fail("start_failed", describeError(error, { name: false }));
      }
    });
    return loading;
  }

  /** The runner failed: end it, tell the engine, count it, restart later. */
  async #fail(reason: FailureReason, error: string): Promise<void> {
    if (this.#phase === "stopped" || this.#phase === "restarting") return;
    const generation = ++this.#generation;
    const { options, stuck } = this.#supervisor.internals;
    const runner = this.#runner!;
    this.#runner = undefined;
    this.hasDecide = false;
    this.#first.promise.catch(() => {});
    this.#first.reject(new TypeError(describeFailure(reason, error)));
    const pulse = runner.pulse();
    this.#clearBusy();
    const blocked = performance.now() - this.#beatAt > 2 * 1_000;
    const unreclaimable = !runner.killable &&
      (reason === "stall" || (reason === "start_timeout" && blocked));
    runner.kill(`is restarting (${reason})`);
    const wasRunning = this.#phase === "running";
    if (wasRunning && performance.now() - this.#runningSince >= HEALTHY_MS) this.#failures = 0;
    this.#failures++;
    this.#restarts++;
    this.#phase = "restarting";
    options.metrics.pluginRestarts.inc({ plugin: this.name, reason });
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (this.#failures - 1));
    const what = describeFailure(reason, error);
    this.#reason = reason === "start_failed"
      ? `failed to start: ${error}; retrying in ${formatMs(delay)}`
      : `is restarting after it ${what}`;
    const holding = pulse.callback !== undefined
      ? ` while handling callback ${pulse.callback}`
      : "";
    this.#supervisor.publish();
    log.error("Plugin {name} {what}{holding}; restarting it in {delay}", {
      name: this.name,
      what,
      holding,
      delay: formatMs(delay),
      reason,
    });
    if (this.#wired) {
      this.#wired = false;
      await options.engine.down(this.name, {
        what,
        ...(pulse.callback !== undefined ? { culprit: pulse.callback } : {}),
        // A handler that was running when its plugin stalled, exited or ran out of memory
        // brought it down: retrying it would do so again.
        condemned: reason === "stall" || reason === "exit" || reason === "out_of_memory",
        unreclaimable,
      });
    }
    if (unreclaimable) {
      log.error(
        "The thread of plugin {name} cannot be reclaimed (JavaScript that never yields); it keeps a CPU busy until imhookd restarts",
        { name: this.name },
      );
      if (stuck()) return;
    }
    if (generation !== this.#generation) return;
    this.#retry = setTimeout(() => {
      if (generation !== this.#generation) return;
      this.#launch().catch(() => {});
    }, delay);
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
    throw resolved(error, config);
  } finally {
    runner?.kill("was only loaded");
  }
}

class StartTimeout extends RangeError {
  override name = "StartTimeout";
}

/** `promise`, or a {@linkcode StartTimeout} rejection after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StartTimeout("start timed out")), Math.max(0, ms));
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A `PluginLoadError` from another thread with its config locations filled in. */
function resolved(error: unknown, config: Config): unknown {
  return error instanceof PluginLoadError
    ? new PluginLoadError(resolveLocations(error.problems, config))
    : error;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`;
}
