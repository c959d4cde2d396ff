/**
 * The main thread's side of delivery. The engine runs on a Worker of its own (`worker.ts`),
 * each plugin on another (`plugin_thread.ts`, or a child process), so neither plugin work
 * nor a plugin that never yields delays the thread that answers callbacks. This thread
 * starts them, wires a port from the engine to each plugin, supervises the plugins
 * (`supervisor.ts`), and stays the journal's one writer: the engine reads pending deliveries
 * through its own connection and sends each outcome here, where it is committed with the
 * listener's next group commit; the engine hears back once it is.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import type { Config, PluginEntry } from "../config/config.ts";
import { describeError } from "../describe_error.ts";
import type { JournalWriter } from "../journal/mod.ts";
import { logger } from "../ops/log.ts";
import type { Metrics, MetricUpdate } from "../ops/metrics.ts";
import { loadPlugin, pluginChanged, PluginLoadError } from "./loader.ts";
import type { Down } from "./remote_plugin.ts";
import { loadOnce } from "./runner.ts";
import { type PluginStatus, Supervisor } from "./supervisor.ts";

const log = logger("daemon");

/** A config as it crosses to a worker: `locate` (a function) stays behind. */
export type PlainConfig = Omit<Config, "locate">;

/** What the main thread sends to the engine's worker. */
export type HostMessage =
  | { type: "start"; config: PlainConfig }
  | { type: "wake" }
  | { type: "marked"; batch: number; error?: string }
  | {
    type: "plugin_up";
    seq: number;
    name: string;
    /** Absent for a plugin without `handle`: its deliveries are done at once. */
    port?: MessagePort;
    concurrency: number;
    ordering?: "per_group" | "none";
  }
  | { type: "plugin_down"; seq: number; name: string; down: Down }
  | { type: "plugin_remove"; seq: number; name: string; graceMs: number }
  | { type: "shutdown"; graceMs: number };

/** What the engine's worker sends to the main thread. */
export type EngineMessage =
  | { type: "started" }
  | { type: "start_failed"; problem: string }
  | { type: "woke" }
  | MarksMessage
  /** A `plugin_*` message is done (its outcomes committed). */
  | { type: "changed"; seq: number }
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

/** The outcome of {@linkcode DeliveryHost.reload}. */
export interface HostReloadResult {
  ok: boolean;
  /** False when nothing changed (a plugin module could not be loaded). */
  applied: boolean;
  errors: string[];
}

/** Options of {@linkcode DeliveryHost.start}. */
export interface HostOptions {
  /** Called once when too many plugin threads are stuck: the daemon should stop. */
  onTooManyStuck(reason: string): void;
}

function plain(config: Config): PlainConfig {
  const { locate: _, ...rest } = config;
  return rest;
}

/**
 * Wakes reach the engine at most this often. Every commit wakes it; at 2,000 callbacks/s
 * that is a cycle (a read of pending deliveries, a message to each plugin, a message back) per
 * callback or two. Waking it in batches costs a few ms of delivery latency and saves CPU.
 */
const WAKE_EVERY_MS = 10;

/** How long past the grace period the engine may take to stop before it is ended. */
const STOP_MARGIN_MS = 5_000;

/** At start, how long the listener waits at most for plugin modules to load. */
const LOAD_WAIT_MS = 5_000;

/** Where the engine's worker module is; `deno compile` must `--include` it. */
export const WORKER_URL = new URL("./worker.ts", import.meta.url);

/**
 * Runs delivery: the engine's worker and the supervised plugins. Wakes the engine after
 * journal commits, commits the outcomes it reports, reloads and stops it all, and copies
 * the delivery metrics into `metrics`.
 */
export class DeliveryHost {
  #worker: Worker;
  #journal: JournalWriter;
  #metrics: Metrics;
  #config: Config;
  /**
   * What each built-in plugin's `parseOptions` gave (JSON), as it started: one that reads a
   * file (`builtin:moderation`'s words file) gives other options once the file changed, which
   * a reload compares. User plugins are parsed on their threads only.
   */
  #builtinOptions = new Map<string, string>();
  #supervisor: Supervisor;
  /** Plugins running with their previous options after a reload could not restart them. */
  #fallbacks = new Map<string, string>();
  #unsubscribe: () => void;
  #waking = false;
  #wakeAgain = false;
  #lastWake = -Infinity;
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;
  #starting: PromiseWithResolvers<void> | undefined;
  #closing: PromiseWithResolvers<void> | undefined;
  #closed: Promise<void> | undefined;
  #seq = 0;
  #changes = new Map<number, () => void>();

  private constructor(
    config: Config,
    journal: JournalWriter,
    metrics: Metrics,
    options: HostOptions,
  ) {
    this.#config = config;
    this.#journal = journal;
    this.#metrics = metrics;
    this.#worker = new Worker(WORKER_URL, { type: "module", name: "delivery engine" });
    this.#worker.onmessage = (event: MessageEvent<EngineMessage>) => this.#receive(event.data);
    this.#worker.onerror = (event) => this.#crashed(event);
    this.#unsubscribe = journal.onAppend(() => this.wake());
    this.#supervisor = new Supervisor(config, {
      metrics,
      onTooManyStuck: options.onTooManyStuck,
      engine: {
        up: (entry, port) => this.#change(upMessage(entry, port), port ? [port] : []),
        down: (name, down) => this.#change({ type: "plugin_down", seq: 0, name, down }),
        remove: (name, graceMs) => this.#change({ type: "plugin_remove", seq: 0, name, graceMs }),
      },
    });
  }

  /**
   * Starts the engine on `config` and every plugin on a runner of its own. Resolves once the
   * engine runs and every plugin module has loaded (or a few seconds passed: the listener does
   * not wait for a plugin whose import hangs); each plugin's `create` follows, supervised.
   * Throws {@linkcode PluginLoadError} naming every plugin that cannot load (a config error).
   */
  static async start(
    config: Config,
    journal: JournalWriter,
    metrics: Metrics,
    options: HostOptions,
  ): Promise<DeliveryHost> {
    const host = new DeliveryHost(config, journal, metrics, options);
    host.#builtinOptions = await builtinOptions(config);
    const started = Promise.withResolvers<void>();
    host.#starting = started;
    host.#post({ type: "start", config: plain(config) });
    const waitMs = Math.min(LOAD_WAIT_MS, config.delivery.startTimeoutMs);
    const loads = await Promise.allSettled([
      started.promise,
      ...config.plugins.map((entry) => host.#supervisor.start(entry, waitMs)),
    ]);
    const problems = loads.flatMap((result) =>
      result.status === "fulfilled"
        ? []
        : result.reason instanceof PluginLoadError
        ? result.reason.problems
        : [describeError(result.reason, { name: false })]
    );
    if (problems.length > 0) {
      await host.shutdown(0);
      throw new PluginLoadError(problems);
    }
    return host;
  }

  /** The configured plugins (running or not), in config order. */
  get plugins(): string[] {
    return this.#config.plugins.map((entry) => entry.name);
  }

  /** Why delivery is not fully up: plugins starting, restarting or on previous options. */
  problems(): string[] {
    return [
      ...this.#supervisor.problems(),
      ...[...this.#fallbacks].map(([name, reason]) => `plugin "${name}" ${reason}`),
    ];
  }

  /** Every configured plugin's state and restarts, in config order. */
  status(): PluginStatus[] {
    return this.#supervisor.status();
  }

  /**
   * Asks running plugin `plugin`'s instance for a decision: resolves with what its
   * `decide(event, signal)` returned (copied across threads), rejects with a printable error
   * when it throws, when the plugin is not running (starting, restarting, stopped) or stops
   * meanwhile, or when `signal` aborts. The request goes from this thread straight to the
   * plugin's, never through the engine.
   */
  decide(plugin: string, event: CallbackEvent, signal: AbortSignal): Promise<unknown> {
    return this.#supervisor.decide(plugin, event, signal);
  }

  /** The running plugins whose instance has a `decide` method, in config order. */
  deciders(): readonly string[] {
    return this.#supervisor.deciders();
  }

  /** Tells the engine that new deliveries were committed; at most one wake is in flight. */
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
   * Switches to `config`'s plugins. First loads every new or changed plugin module on a
   * runner of its own (`delivery.start_timeout` each): if one cannot load, nothing changes.
   * Then `onSwitch` runs (the moment to switch routes), removed plugins stop, and each
   * changed plugin's old instance is disposed before the new one is created; a changed plugin
   * that cannot start then runs again with its previous options. Call one at a time.
   */
  async reload(config: Config, onSwitch: () => void): Promise<HostReloadResult> {
    if (this.#stopping) return { ok: false, applied: false, errors: ["imhookd is shutting down"] };
    const running = new Map(this.#config.plugins.map((entry) => [entry.name, entry]));
    const wanted = new Map(config.plugins.map((entry) => [entry.name, entry]));
    const parsed = await builtinOptions(config);
    const changed = config.plugins.filter((entry) => {
      const old = running.get(entry.name);
      return old === undefined || pluginChanged(old, entry) ||
        this.#supervisor.get(entry.name) === undefined ||
        parsed.get(entry.name) !== this.#builtinOptions.get(entry.name);
    });
    const loads = await Promise.allSettled(changed.map((entry) => loadOnce(entry, config)));
    const problems = loads.flatMap((result) =>
      result.status === "fulfilled"
        ? []
        : result.reason instanceof PluginLoadError
        ? result.reason.problems
        : [describeError(result.reason, { name: false })]
    );
    if (problems.length > 0) return { ok: false, applied: false, errors: problems };

    const previous = this.#config;
    this.#config = config;
    this.#builtinOptions = parsed;
    this.#supervisor.config = config;
    onSwitch();
    const { shutdownGraceMs: graceMs } = config.delivery;
    const disposeMs = config.delivery.startTimeoutMs;
    const errors: string[] = [];
    await Promise.all(
      [...running.keys()].filter((name) => !wanted.has(name)).map(async (name) => {
        await this.#supervisor.stop(name, graceMs, disposeMs);
        this.#fallbacks.delete(name);
        log.info("Plugin {name} removed", { name });
      }),
    );
    await Promise.all(changed.map(async (entry) => {
      const old = running.get(entry.name);
      if (old !== undefined) {
        await this.#supervisor.stop(entry.name, graceMs, disposeMs);
        log.info("Plugin {name} stopped, to restart", { name: entry.name });
      }
      try {
        await this.#supervisor.startRunning(entry);
        this.#fallbacks.delete(entry.name);
      } catch (error) {
        const why = describeError(error, { name: false });
        if (old === undefined) {
          errors.push(`plugin "${entry.name}" ${why}`);
          return;
        }
        const reason =
          `failed to restart with its new options (still running with the previous ones): ${why}`;
        errors.push(`plugin "${entry.name}" ${reason}`);
        log.error("Plugin {name} {reason}", { name: entry.name, reason });
        await this.#supervisor.stop(entry.name, graceMs, disposeMs);
        this.#fallbacks.set(entry.name, reason);
        await this.#supervisor.start(old, previous.delivery.startTimeoutMs).catch((error) => {
          log.error("Plugin {name} cannot start with its previous options either: {error}", {
            name: entry.name,
            error: describeError(error, { name: false }),
          });
        });
      }
    }));
    return { ok: errors.length === 0, applied: true, errors };
  }

  /**
   * Stops delivering (running handlers get most of `graceMs`, then are aborted and stay
   * pending), commits the last outcomes, disposes the plugins and ends every thread. The
   * journal stays open: close it after this.
   */
  shutdown(graceMs: number): Promise<void> {
    this.#closed ??= (async () => {
      this.#stopping = true;
      this.#unsubscribe();
      clearTimeout(this.#wakeTimer);
      // Disposing (flushing files, closing databases) keeps a share of the grace period.
      const disposeMs = Math.max(100, Math.min(2_000, graceMs / 5));
      await this.#supervisor.stopAll(Math.max(0, graceMs - disposeMs), disposeMs);
      const closing = Promise.withResolvers<void>();
      this.#closing = closing;
      this.#post({ type: "shutdown", graceMs: 0 });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_MARGIN_MS);
      });
      if (await Promise.race([closing.promise.then(() => false), late])) {
        log.warn("The delivery engine did not stop within {limitMs}ms; ending it", {
          limitMs: STOP_MARGIN_MS,
        });
      }
      clearTimeout(timer);
      this.#worker.terminate();
    })();
    return this.#closed;
  }

  #post(message: HostMessage, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  /** Sends a `plugin_*` message and resolves when the engine has applied it. */
  #change(
    message: Extract<HostMessage, { seq: number }>,
    transfer: Transferable[] = [],
  ): Promise<void> {
    const seq = ++this.#seq;
    const done = Promise.withResolvers<void>();
    this.#changes.set(seq, done.resolve);
    this.#post({ ...message, seq }, transfer);
    return done.promise;
  }

  #receive(message: EngineMessage): void {
    switch (message.type) {
      case "started":
        this.#starting?.resolve();
        this.#starting = undefined;
        return;
      case "start_failed":
        this.#starting?.reject(new TypeError(`Cannot start delivery: ${message.problem}`));
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
      case "changed":
        this.#changes.get(message.seq)?.();
        this.#changes.delete(message.seq);
        return;
      case "closed":
        this.#closing?.resolve();
        this.#closing = undefined;
        return;
    }
  }

  /** Queues the outcomes for the next group commit and tells the engine when it is done. */
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
      (error) => this.#post({ type: "marked", batch: marks.batch, error: describeError(error) }),
    );
  }

  #crashed(event: ErrorEvent): void {
    const error = new TypeError(`The delivery engine failed: ${event.message}`);
    const waiting = this.#starting ?? this.#closing;
    if (waiting === undefined) {
      // Nothing can resume delivery: let the error end the process, as it would have on
      // the main thread. Pending callbacks stay in the journal for the next start. (Plugins
      // run elsewhere: this is imhookd's own code failing.)
      log.fatal("{error}", { error });
      return;
    }
    event.preventDefault();
    log.error("{error}", { error });
    const closing = this.#closing;
    this.#starting = this.#closing = undefined;
    // An engine that dies while shutting down has nothing left to close.
    if (closing !== undefined) closing.resolve();
    else waiting.reject(error);
    for (const resolve of this.#changes.values()) resolve();
    this.#changes.clear();
  }
}

function upMessage(
  entry: PluginEntry,
  port: MessagePort | undefined,
): Extract<HostMessage, { seq: number }> {
  return {
    type: "plugin_up",
    seq: 0,
    name: entry.name,
    ...(port !== undefined ? { port } : {}),
    concurrency: entry.concurrency,
    ...(entry.ordering !== undefined ? { ordering: entry.ordering } : {}),
  };
}

/**
 * The options each built-in plugin of `config` parses to, as JSON (see
 * `DeliveryHost.#builtinOptions`); a plugin whose options do not parse is left out (its
 * thread reports why).
 */
async function builtinOptions(config: Config): Promise<Map<string, string>> {
  const options = new Map<string, string>();
  for (const entry of config.plugins) {
    if (!entry.module.startsWith("builtin:")) continue;
    try {
      const loaded = await loadPlugin(entry, {
        configDir: config.dir,
        locate: (path) => config.locate(path),
      });
      options.set(entry.name, JSON.stringify(loaded.options));
    } catch {
      // Reported by the plugin's thread, which parses them again.
    }
  }
  return options;
}
