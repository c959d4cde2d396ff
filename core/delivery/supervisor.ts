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
import { Suspects, suspectsPath } from "./suspects.ts";
import {
  pluginStatesPath,
  type PluginStatus,
  REFRESH_MS,
  removePluginStates,
  writePluginStates,
} from "./plugin_states.ts";

export type { PluginStatus };
import {
  type Internals,
  Supervised,
  type SupervisorLink,
  type SupervisorOptions,
} from "./supervised.ts";

export type { EngineLink, SupervisorOptions } from "./supervised.ts";

const log = logger("daemon");

/** Runs the plugins of the config in force; see the module's description. */
export class Supervisor implements SupervisorLink {
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
