/**
 * The delivery worker: loads and starts the plugins, opens its own (reading) connection to
 * the journal and runs the delivery engine, away from the thread that answers callbacks.
 * Outcomes go to the main thread, the journal's only writer. Driven by `DeliveryHost` in
 * `delivery_host.ts` (see its message types).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { getPriority, setPriority } from "node:os";
import { setImmediate } from "node:timers";
import type { Config } from "../config/config.ts";
import { Delivery, type DeliveryJournal, type DeliveryTarget } from "./engine.ts";
import {
  deferredLocations,
  type HostMessage,
  type MarksMessage,
  type PlainConfig,
  type ReloadedMessage,
  type WorkerMessage,
} from "./host.ts";
import { JournalReader, JournalUnavailableError } from "../journal/mod.ts";
import {
  disposePlugins,
  type LoadedPlugin,
  loadPlugins,
  pluginChanged,
  PluginLoadError,
  type StartedPlugin,
  startPlugins,
} from "./loader.ts";
import { logger, setupLogging } from "../ops/log.ts";
import { MetricBatch } from "../ops/metrics.ts";

const log = logger("daemon");

function post(message: WorkerMessage): void {
  self.postMessage(message);
}

/**
 * The engine's journal in this worker: reads through a connection of its own, and sends
 * every outcome to the main thread in one message per event-loop turn. An outcome's promise
 * settles when the main thread has committed it.
 */
class RemoteJournal implements DeliveryJournal {
  #reader: JournalReader;
  #listeners = new Set<() => void>();
  #next: Omit<MarksMessage, "type" | "batch" | "metrics"> = RemoteJournal.#empty();
  /** The engine's metrics, sent with the next outcomes. */
  readonly metrics: MetricBatch = new MetricBatch(() => this.#schedule());
  /** Settles once the outcomes queued now are committed: one promise a message, not an outcome. */
  #nextWaiter: PromiseWithResolvers<void> | undefined;
  #scheduled = false;
  #batch = 0;
  #sent = new Map<number, PromiseWithResolvers<void>>();

  constructor(reader: JournalReader) {
    this.#reader = reader;
  }

  static #empty(): Omit<MarksMessage, "type" | "batch" | "metrics"> {
    return { delivered: [], retries: [], dead: [] };
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The main thread committed new callbacks or deliveries. */
  appended(): void {
    for (const listener of this.#listeners) listener();
  }

  replayGeneration(): number {
    return this.#reader.replayGeneration();
  }

  pending(plugin: string, afterId: number, limit: number) {
    return this.#reader.pending(plugin, afterId, limit);
  }

  markDelivered(plugin: string, id: number): Promise<void> {
    const entry = entryOf(this.#next.delivered, plugin);
    if (entry === undefined) this.#next.delivered.push([plugin, [id]]);
    else entry[1].push(id);
    return this.#waiter();
  }

  markRetry(
    plugin: string,
    id: number,
    update: { attempts: number; nextAt: number; error: string },
  ): Promise<void> {
    this.#next.retries.push([plugin, id, update.attempts, update.nextAt, update.error]);
    return this.#waiter();
  }

  markDead(plugin: string, id: number, update: { attempts: number; error: string }): Promise<void> {
    this.#next.dead.push([plugin, id, update.attempts, update.error]);
    return this.#waiter();
  }

  /** The main thread committed batch `batch` (or could not). */
  marked(batch: number, error: string | undefined): void {
    const waiter = this.#sent.get(batch);
    this.#sent.delete(batch);
    if (error === undefined) waiter?.resolve();
    else waiter?.reject(new JournalUnavailableError(error));
  }

  /** Sends what is queued now and resolves once every outcome sent is committed. */
  async settle(): Promise<void> {
    this.#send();
    const waiting = [...this.#sent.values()].map((waiter) => waiter.promise);
    await Promise.allSettled(waiting);
  }

  close(): void {
    this.#reader.close();
  }

  #waiter(): Promise<void> {
    this.#nextWaiter ??= Promise.withResolvers<void>();
    this.#schedule();
    return this.#nextWaiter.promise;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#send());
  }

  #send(): void {
    this.#scheduled = false;
    const next = this.#next;
    if (
      next.delivered.length + next.retries.length + next.dead.length === 0 && this.metrics.empty
    ) {
      return;
    }
    const batch = ++this.#batch;
    if (this.#nextWaiter !== undefined) this.#sent.set(batch, this.#nextWaiter);
    this.#next = RemoteJournal.#empty();
    this.#nextWaiter = undefined;
    post({ type: "marks", batch, ...next, metrics: this.metrics.take() });
  }
}

/**
 * The entry of `plugin` in one of a {@linkcode MarksMessage}'s lists. A loop, not `find` with
 * a destructuring callback: this runs twice per delivery.
 */
function entryOf<T extends [string, ...unknown[]]>(entries: T[], plugin: string): T | undefined {
  for (const entry of entries) if (entry[0] === plugin) return entry;
  return undefined;
}

/**
 * How much nicer than the daemon this thread runs. When the CPU is short, the main thread,
 * whose answers Tencent waits at most 2 s for, gets it first; deliveries wait in the journal
 * and catch up when the load drops. wrk, 64 connections, on 2 cores (alternating runs):
 * 12.1-12.5k acks/s with the same priority, 14.5-15.0k with this one.
 */
const NICER_BY = 10;

/**
 * Lowers this thread's scheduling priority (Linux only: there a nice value is per thread, and
 * `setPriority(0, ...)` is the calling thread's; elsewhere it would be the whole process's).
 */
function lowerPriority(): void {
  if (Deno.build.os !== "linux") return;
  try {
    setPriority(0, Math.min(19, getPriority(0) + NICER_BY));
  } catch (error) {
    log.info("The delivery thread keeps the daemon's scheduling priority: {error}", { error });
  }
}

/** How often this thread checkpoints the journal's WAL (the main thread only writes it). */
const CHECKPOINT_EVERY_MS = 1_000;

let checkpoints: ReturnType<typeof setInterval> | undefined;
let checkpointFailing = false;

/**
 * Copies the journal's WAL into its file, here rather than in the main thread's commits,
 * whose answers would wait for the copy (and, with `durability: fsync`, the fsync). If it
 * keeps failing, the main thread's connection still checkpoints every 64 MiB of WAL: slower
 * answers now and then, nothing lost.
 */
function checkpoint(reader: JournalReader): void {
  try {
    reader.checkpoint();
    if (checkpointFailing) log.info("The journal's WAL checkpoints work again");
    checkpointFailing = false;
  } catch (error) {
    if (!checkpointFailing) {
      log.warn("Cannot checkpoint the journal's WAL; retrying every second: {error}", { error });
    }
    checkpointFailing = true;
  }
}

let remote: RemoteJournal | undefined;
let delivery: Delivery | undefined;
let logSettings: Config["log"] | undefined;
const lifetime = new AbortController();
const running = new Map<string, StartedPlugin>();
/** Plugins of the current config that are not running with their current options. */
const failures = new Map<string, string>();

self.onmessage = (event: MessageEvent<HostMessage>) => {
  const message = event.data;
  switch (message.type) {
    case "start":
      start(message.config).then((reply) => {
        post(reply);
        if (reply.type === "start_failed") self.close();
      });
      return;
    case "wake":
      remote?.appended();
      post({ type: "woke" });
      return;
    case "marked":
      remote?.marked(message.batch, message.error);
      return;
    case "reload":
      reload(message.config).catch((error): ReloadedMessage => ({
        type: "reloaded",
        ok: false,
        applied: false,
        errors: problemsOf(error),
        plugins: delivery?.plugins ?? [],
        failures: [...failures],
      })).then(post);
      return;
    case "shutdown":
      shutdown(message.graceMs).finally(() => {
        post({ type: "closed" });
        self.close();
      });
      return;
  }
};

async function start(plain: PlainConfig): Promise<WorkerMessage> {
  const config = deferredLocations(plain);
  setupLogging(config.log);
  logSettings = config.log;
  lowerPriority();
  let loaded: LoadedPlugin[];
  let reader: JournalReader;
  try {
    loaded = await loadPlugins(config);
    // Reads only; the main thread's connection writes, migrates and checkpoints the file.
    reader = JournalReader.open(config.journal.path, {
      durability: config.journal.durability,
    });
  } catch (error) {
    return failed(error);
  }
  try {
    const started = await startPlugins(loaded, {
      configDir: config.dir,
      signal: lifetime.signal,
    });
    for (const plugin of started) running.set(plugin.entry.name, plugin);
  } catch (error) {
    reader.close();
    return failed(error);
  }
  const journal = new RemoteJournal(reader);
  remote = journal;
  checkpoints = setInterval(() => checkpoint(reader), CHECKPOINT_EVERY_MS);
  delivery = new Delivery(journal, {
    ...config.delivery,
    metrics: journal.metrics.recorders,
    logger: logger("delivery"),
  });
  for (const plugin of running.values()) delivery.add(target(plugin));
  return { type: "started", plugins: delivery.plugins };
}

function failed(error: unknown): WorkerMessage {
  return {
    type: "start_failed",
    problems: problemsOf(error),
    config: error instanceof PluginLoadError,
  };
}

async function reload(plain: PlainConfig): Promise<ReloadedMessage> {
  const next = deferredLocations(plain);
  const current = delivery!;
  let loadedNext: LoadedPlugin[];
  try {
    loadedNext = await loadPlugins(next);
  } catch (error) {
    return {
      type: "reloaded",
      ok: false,
      applied: false,
      errors: problemsOf(error),
      plugins: current.plugins,
      failures: [...failures],
    };
  }
  if (JSON.stringify(next.log) !== JSON.stringify(logSettings)) {
    setupLogging(next.log);
    logSettings = next.log;
  }

  const wanted = new Map(loadedNext.map((item) => [item.entry.name, item]));
  const errors: string[] = [];
  const fresh = new Map<string, StartedPlugin>();
  for (const [name, item] of wanted) {
    const old = running.get(name);
    if (old !== undefined && !pluginChanged(old.entry, item.entry)) continue;
    try {
      const [started] = await startPlugins([item], {
        configDir: next.dir,
        signal: lifetime.signal,
      });
      fresh.set(name, started!);
    } catch (error) {
      const reason = old === undefined
        ? `failed to start: ${problemsOf(error).join("; ")}`
        : `failed to restart with its new options (still running with the previous ones): ${
          problemsOf(error).join("; ")
        }`;
      failures.set(name, reason);
      errors.push(`plugin "${name}" ${reason}`);
      log.error("Plugin {name} {reason}", { name, reason });
    }
  }

  // The main thread switches apps, tokens and routes now.
  post({ type: "reload_switch" });
  const graceMs = next.delivery.shutdownGraceMs;

  const retiring = [...running.keys()].filter((name) => !wanted.has(name) || fresh.has(name));
  await Promise.all(retiring.map(async (name) => {
    await current.remove(name, graceMs);
    await disposePlugins([running.get(name)!]);
    running.delete(name);
    log.info(fresh.has(name) ? "Plugin {name} stopped, to restart" : "Plugin {name} removed", {
      name,
    });
  }));
  for (const [name, started] of fresh) {
    running.set(name, started);
    current.add(target(started));
    failures.delete(name);
    log.info("Plugin {name} started", { name });
  }
  for (const name of [...failures.keys()]) if (!wanted.has(name)) failures.delete(name);
  return {
    type: "reloaded",
    ok: errors.length === 0,
    applied: true,
    errors,
    plugins: current.plugins,
    failures: [...failures],
  };
}

async function shutdown(graceMs: number): Promise<void> {
  try {
    await delivery?.close(graceMs);
    lifetime.abort();
    await disposePlugins([...running.values()]);
    running.clear();
  } finally {
    clearInterval(checkpoints);
    await remote?.settle();
    remote?.close();
  }
}

function target(plugin: StartedPlugin): DeliveryTarget {
  return {
    name: plugin.entry.name,
    instance: plugin.instance,
    concurrency: plugin.entry.concurrency,
    ...(plugin.entry.ordering !== undefined ? { ordering: plugin.entry.ordering } : {}),
  };
}

function problemsOf(error: unknown): string[] {
  if (error instanceof PluginLoadError) return error.message.split("\n");
  return [error instanceof Error ? error.message : String(error)];
}
