/**
 * One supervised plugin (see `supervisor.ts`): its runner started, loaded and created within
 * `delivery.start_timeout`, its heartbeat checked, its synchronous handler's callback made a
 * suspect, and its runner restarted with backoff when it fails; what it held is failed to the
 * engine, the callback that brought it down condemned.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import type { Config, PluginEntry } from "../config/config.ts";
import { describeError } from "../describe_error.ts";
import { logger } from "../ops/log.ts";
import type { Metrics } from "../ops/metrics.ts";
import { PluginLoadError, pluginPermissions } from "./loader.ts";
import type { FailureReason, PluginRunner, RunnerOptions } from "./plugin_handle.ts";
import type { PluginStatus } from "./plugin_states.ts";
import type { Down } from "./remote_plugin.ts";
import {
  describeFailure,
  formatMs,
  spawnRunner,
  StartTimeout,
  within,
  withLocations,
} from "./runner.ts";

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

/** What a {@linkcode Supervised} asks of the supervisor that runs it. */
export interface SupervisorLink {
  readonly internals: Internals;
  /** Writes the plugin states file (`status`, `/readyz`). */
  publish(): void;
  /** Records `callback` as `name`'s suspect, or strikes it off when undefined. */
  suspect(name: string, callback: number | undefined): void;
  /** The list of deciders must be made again. */
  decidersChanged(): void;
}

/** Restart delays: from RESTART_MIN_MS, doubling, at most RESTART_MAX_MS. */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A plugin that ran this long before failing starts its backoff over. */
const HEALTHY_MS = 60_000;
/** A handler running synchronously this long makes its callback a suspect (`suspects.ts`). */
const SUSPECT_AFTER_MS = 100;

/** What a supervised plugin reads of its supervisor, at each use. */
export interface Internals {
  config: Config;
  options: SupervisorOptions;
  /** Counts a thread that cannot be reclaimed; true when that is one too many. */
  stuck(): boolean;
}

type Phase = "starting" | "running" | "restarting" | "stopped";

/** One supervised plugin: its entry, its current runner and how it has fared. */
export class Supervised {
  readonly entry: PluginEntry;
  #hasDecide = false;
  #supervisor: SupervisorLink;
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

  constructor(entry: PluginEntry, supervisor: SupervisorLink) {
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

  /** See `Supervisor.start`. */
  async begin(waitMs: number): Promise<void> {
    const { config } = this.#supervisor.internals;
    try {
      this.#permissions = await pluginPermissions(this.entry, {
        configDir: config.dir,
        locate: (path) => config.locate(path),
      });
    } catch (error) {
      throw withLocations(error, config);
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
      throw withLocations(error, config);
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
