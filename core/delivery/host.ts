/**
 * The main thread's side of the delivery worker (`worker.ts`). The delivery engine
 * and every plugin run there, on their own event loop, so plugin work never delays the
 * thread that answers callbacks. The journal keeps one writer, this thread: the worker reads
 * pending deliveries through its own connection and sends each outcome here, where it is
 * committed with the listener's next group commit; the worker hears back once it is.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import type { JournalWriter } from "../journal/mod.ts";
import { PluginLoadError } from "./loader.ts";
import { logger } from "../ops/log.ts";
import type { Metrics, MetricUpdate } from "../ops/metrics.ts";

const log = logger("daemon");

/** A config as it crosses to the worker: `locate` (a function) stays behind. */
export type PlainConfig = Omit<Config, "locate">;

/** What the main thread sends to the delivery worker. */
export type HostMessage =
  | { type: "start"; config: PlainConfig }
  | { type: "wake" }
  | { type: "marked"; batch: number; error?: string }
  | { type: "reload"; config: PlainConfig }
  | { type: "shutdown"; graceMs: number };

/** What the delivery worker sends to the main thread. */
export type WorkerMessage =
  | { type: "started"; plugins: string[] }
  | {
    type: "start_failed";
    problems: string[];
    /** True for config and plugin errors (exit 78), false for anything else. */
    config: boolean;
  }
  | { type: "woke" }
  | MarksMessage
  | { type: "reload_switch" }
  | ReloadedMessage
  | { type: "closed" };

/** Delivery outcomes to commit, and the delivery metrics recorded since the last batch. */
export interface MarksMessage {
  type: "marks";
  /** Answered with a `marked` message carrying the same number once committed. */
  batch: number;
  /** `[plugin, callback ids]` handled. */
  delivered: [string, number[]][];
  /** `[plugin, callback id, attempts, next attempt at, error]`. */
  retries: [string, number, number, number, string][];
  /** `[plugin, callback id, attempts, error]`. */
  dead: [string, number, number, string][];
  /** What the engine recorded in the delivery metrics. */
  metrics: MetricUpdate[];
}

/** The worker's answer to `reload`. */
export interface ReloadedMessage {
  type: "reloaded";
  /** True when every plugin of the new config runs with it. */
  ok: boolean;
  /** False when a plugin module of the new config could not be loaded: nothing changed. */
  applied: boolean;
  errors: string[];
  plugins: string[];
  /** Plugins of the config in force that are not running as configured, with why. */
  failures: [string, string][];
}

/** The outcome of {@linkcode DeliveryHost.reload}. */
export interface HostReloadResult {
  ok: boolean;
  /** False when nothing changed (a plugin module could not be loaded). */
  applied: boolean;
  errors: string[];
}

const LOCATION = /\uE000([^\uE000]*)\uE000/g;

/**
 * The worker's side of {@linkcode Config.locate}: the YAML document stays on the main
 * thread, so a location is written as a marker that {@linkcode resolveLocations} replaces.
 */
export function deferredLocations(config: PlainConfig): Config {
  return { ...config, locate: (path) => `\uE000${JSON.stringify(path)}\uE000` };
}

/** Replaces the location markers in `problems` with `config`'s file:line:column. */
export function resolveLocations(problems: string[], config: Config): string[] {
  return problems.map((problem) =>
    problem.replace(LOCATION, (_, path: string) => config.locate(JSON.parse(path)))
  );
}

function plain(config: Config): PlainConfig {
  const { locate: _, ...rest } = config;
  return rest;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * Wakes reach the worker at most this often. Every commit wakes it; at 2,000 callbacks/s
 * that is a cycle (a read of pending deliveries, a small sqlite_sync transaction, a write of
 * a line or two, a message back) per callback or two. Waking it in batches costs a few ms of
 * delivery latency and saves about a quarter of the process's CPU at that rate.
 */
const WAKE_EVERY_MS = 10;

/** How long past the grace period the worker may take to stop before it is ended. */
const STOP_MARGIN_MS = 5_000;

/** Where the worker module is; `deno compile` must `--include` it. */
export const WORKER_URL = new URL("./worker.ts", import.meta.url);

/**
 * Runs the delivery worker: starts it, wakes it after journal commits, commits the outcomes
 * it reports, reloads and stops it, and copies its metrics into `metrics`.
 */
export class DeliveryHost {
  #worker: Worker;
  #journal: JournalWriter;
  #metrics: Metrics;
  #plugins: string[] = [];
  #failures = new Map<string, string>();
  #unsubscribe: () => void;
  #waking = false;
  #wakeAgain = false;
  #lastWake = -Infinity;
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;
  #running = false;
  #starting: Waiter<void> | undefined;
  #reloading: (Waiter<ReloadedMessage> & { onSwitch(): void }) | undefined;
  #closing: Waiter<void> | undefined;
  #closed: Promise<void> | undefined;

  private constructor(journal: JournalWriter, metrics: Metrics) {
    this.#journal = journal;
    this.#metrics = metrics;
    this.#worker = new Worker(WORKER_URL, { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<WorkerMessage>) => this.#receive(event.data);
    this.#worker.onerror = (event) => this.#crashed(event);
    this.#unsubscribe = journal.onAppend(() => this.wake());
  }

  /**
   * Starts the worker on `config`: it loads and starts the plugins, opens its own connection
   * to the journal and starts delivering. Throws {@linkcode PluginLoadError} when a plugin
   * cannot load or start, as `loadPlugins`/`startPlugins` would.
   */
  static async start(
    config: Config,
    journal: JournalWriter,
    metrics: Metrics,
  ): Promise<DeliveryHost> {
    const host = new DeliveryHost(journal, metrics);
    const started = Promise.withResolvers<void>();
    host.#starting = started;
    host.#post({ type: "start", config: plain(config) });
    try {
      await started.promise;
    } catch (error) {
      host.#unsubscribe();
      host.#worker.terminate();
      if (error instanceof PluginLoadError) {
        throw new PluginLoadError(resolveLocations(error.message.split("\n"), config));
      }
      throw error;
    }
    return host;
  }

  /** The plugins being delivered to. */
  get plugins(): string[] {
    return this.#plugins;
  }

  /** Plugins of the config in force not running as configured, with the reason. */
  get failures(): ReadonlyMap<string, string> {
    return this.#failures;
  }

  /** Tells the worker that new deliveries were committed; at most one wake is in flight. */
  wake(): void {
    if (this.#stopping) return;
    if (this.#waking) {
      this.#wakeAgain = true;
      return;
    }
    this.#waking = true;
    const wait = this.#lastWake + WAKE_EVERY_MS - performance.now();
    if (wait <= 0) {
      this.#lastWake = performance.now();
      this.#post({ type: "wake" });
      return;
    }
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#lastWake = performance.now();
      this.#post({ type: "wake" });
    }, wait);
  }

  /**
   * Has the worker load `config`'s plugins and switch to them. `onSwitch` runs when the new
   * plugins are started and before the removed ones are stopped (the moment to switch
   * routes). Call one at a time.
   */
  async reload(config: Config, onSwitch: () => void): Promise<HostReloadResult> {
    if (this.#stopping) return { ok: false, applied: false, errors: ["imhookd is shutting down"] };
    const done = Promise.withResolvers<ReloadedMessage>();
    this.#reloading = { ...done, onSwitch };
    this.#post({ type: "reload", config: plain(config) });
    const reply = await done.promise;
    this.#plugins = reply.plugins;
    this.#failures = new Map(
      reply.failures.map(([name, reason]) => [name, resolveLocations([reason], config)[0]!]),
    );
    return {
      ok: reply.ok,
      applied: reply.applied,
      errors: resolveLocations(reply.errors, config),
    };
  }

  /**
   * Stops delivering (running handlers get `graceMs`, then are aborted and stay pending),
   * commits the last outcomes, disposes the plugins and ends the worker. The journal stays
   * open: close it after this.
   */
  shutdown(graceMs: number): Promise<void> {
    this.#closed ??= (async () => {
      this.#stopping = true;
      this.#unsubscribe();
      clearTimeout(this.#wakeTimer);
      if (this.#running) {
        const closing = Promise.withResolvers<void>();
        this.#closing = closing;
        this.#post({ type: "shutdown", graceMs });
        // A handler that never yields keeps the worker from answering: end it anyway.
        // What it was delivering stays pending in the journal.
        const limitMs = graceMs + STOP_MARGIN_MS;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), limitMs);
        });
        if (await Promise.race([closing.promise.then(() => false), late])) {
          log.warn("The plugins did not stop within {limitMs}ms; ending them", { limitMs });
        }
        clearTimeout(timer);
      }
      this.#running = false;
      this.#worker.terminate();
    })();
    return this.#closed;
  }

  #post(message: HostMessage): void {
    this.#worker.postMessage(message);
  }

  #receive(message: WorkerMessage): void {
    switch (message.type) {
      case "started":
        this.#plugins = message.plugins;
        this.#running = true;
        this.#starting?.resolve();
        this.#starting = undefined;
        return;
      case "start_failed":
        this.#starting?.reject(
          message.config
            ? new PluginLoadError(message.problems)
            : new TypeError(message.problems.join("\n")),
        );
        this.#starting = undefined;
        return;
      case "woke":
        this.#waking = false;
        if (this.#wakeAgain) {
          this.#wakeAgain = false;
          this.wake();
        }
        return;
      case "marks":
        this.#commit(message);
        return;
      case "reload_switch":
        this.#reloading?.onSwitch();
        return;
      case "reloaded":
        this.#reloading?.resolve(message);
        this.#reloading = undefined;
        return;
      case "closed":
        this.#closing?.resolve();
        this.#closing = undefined;
        return;
    }
  }

  /** Queues the outcomes for the next group commit and tells the worker when it is done. */
  #commit(marks: MarksMessage): void {
    const journal = this.#journal;
    const writes: Promise<void>[] = [];
    for (const [plugin, ids] of marks.delivered) {
      writes.push(journal.markDeliveredMany(plugin, ids));
    }
    for (const [plugin, id, attempts, nextAt, error] of marks.retries) {
      writes.push(journal.markRetry(plugin, id, { attempts, nextAt, error }));
    }
    for (const [plugin, id, attempts, error] of marks.dead) {
      writes.push(journal.markDead(plugin, id, { attempts, error }));
    }
    this.#metrics.apply(marks.metrics);
    Promise.all(writes).then(
      () => this.#post({ type: "marked", batch: marks.batch }),
      (error) =>
        this.#post({
          type: "marked",
          batch: marks.batch,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
  }

  #crashed(event: ErrorEvent): void {
    const error = new TypeError(`The delivery worker failed: ${event.message}`);
    const waiting = this.#starting ?? this.#reloading ?? this.#closing;
    if (waiting === undefined) {
      // Nothing can resume delivery: let the error end the process, as it would have on
      // the main thread. Pending callbacks stay in the journal for the next start.
      log.fatal("{error}", { error });
      return;
    }
    event.preventDefault();
    log.error("{error}", { error });
    this.#running = false;
    const closing = this.#closing;
    this.#starting = this.#reloading = this.#closing = undefined;
    // A worker that dies while shutting down has nothing left to close.
    if (closing !== undefined) closing.resolve();
    else waiting.reject(error);
  }
}
