/**
 * The delivery engine's thread: opens its own (reading) connection to the journal and runs
 * the engine, away from the thread that answers callbacks. Each plugin runs on a thread of its
 * own (`plugin_thread.ts`); the main thread wires a port from here to each one it starts and
 * says when one went down. Outcomes go to the main thread, the journal's only writer. Driven
 * by `DeliveryHost` in `host.ts` (see its message types).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { setImmediate } from "node:timers";
import { describeError } from "../describe_error.ts";
import { Delivery, type DeliveryJournal } from "./engine.ts";
import type { EngineMessage, HostMessage, MarksMessage, PlainConfig } from "./host.ts";
import { JournalReader, JournalUnavailableError } from "../journal/mod.ts";
import { logger, setupLogging } from "../ops/log.ts";
import { MetricBatch } from "../ops/metrics.ts";
import { lowerPriority } from "./priority.ts";
import { culpritError, type Down, RemotePlugin } from "./remote_plugin.ts";

const log = logger("daemon");

function post(message: EngineMessage): void {
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
/** The plugins delivered to, by name. */
const remotes = new Map<string, RemotePlugin>();
/** Changes to one plugin's lane run one after the other, in the order the host sent them. */
const changes = new Map<string, Promise<void>>();

self.onmessage = (event: MessageEvent<HostMessage>) => {
  const message = event.data;
  switch (message.type) {
    case "start":
      post(start(message.config));
      return;
    case "wake":
      remote?.appended();
      post({ type: "woke" });
      return;
    case "marked":
      remote?.marked(message.batch, message.error);
      return;
    case "plugin_up":
      change(message.name, message.seq, () => {
        if (message.port === undefined) {
          delivery!.add({
            name: message.name,
            instance: DECIDES_ONLY,
            concurrency: 512,
            ordering: "none",
          });
          return Promise.resolve();
        }
        const plugin = new RemotePlugin(message.name, message.port);
        remotes.set(message.name, plugin);
        delivery!.add({
          name: message.name,
          instance: plugin,
          remote: plugin,
          concurrency: message.concurrency,
          ...(message.ordering !== undefined ? { ordering: message.ordering } : {}),
        });
        return Promise.resolve();
      });
      return;
    case "plugin_down":
      change(message.name, message.seq, () => down(message.name, message.down));
      return;
    case "plugin_remove":
      change(message.name, message.seq, () => remove(message.name, message.graceMs));
      return;
    case "shutdown":
      shutdown(message.graceMs).finally(() => {
        post({ type: "closed" });
        self.close();
      });
      return;
  }
};

/** The stand-in of a plugin that only decides: its deliveries are done at once. */
const DECIDES_ONLY = { handle(): void {} };

function change(name: string, seq: number, run: () => Promise<void>): void {
  const next = (changes.get(name) ?? Promise.resolve()).then(run).catch((error) => {
    log.error("Cannot change the delivery to plugin {name}: {error}", {
      name,
      error: describeError(error),
    });
  }).then(() => post({ type: "changed", seq }));
  changes.set(name, next);
}

function start(plain: PlainConfig): EngineMessage {
  setupLogging(plain.log);
  lowerPriority(log);
  let reader: JournalReader;
  try {
    // Reads only; the main thread's connection writes, migrates and checkpoints the file.
    reader = JournalReader.open(plain.journal.path, { durability: plain.journal.durability });
  } catch (error) {
    return { type: "start_failed", problem: describeError(error) };
  }
  const journal = new RemoteJournal(reader);
  remote = journal;
  checkpoints = setInterval(() => checkpoint(reader), CHECKPOINT_EVERY_MS);
  delivery = new Delivery(journal, {
    ...plain.delivery,
    metrics: journal.metrics.recorders,
    logger: logger("delivery"),
  });
  return { type: "started" };
}

/**
 * A plugin went down: what it held counts a failed attempt (see {@linkcode RemotePlugin.fail}),
 * a condemned culprit becomes a dead letter even when it is not in flight any more (its
 * handler timed out meanwhile), and the lane stops until the plugin is up again. Resolves once
 * those outcomes are committed.
 */
async function down(name: string, what: Down): Promise<void> {
  const plugin = remotes.get(name);
  remotes.delete(name);
  if (plugin !== undefined) {
    const held = plugin.fail(what);
    // The lane records the failures in the turns that follow.
    await new Promise((resolve) => setImmediate(resolve));
    if (what.condemned && what.culprit !== undefined && !held) {
      const attempts = delivery!.attempts(name, what.culprit);
      if (attempts !== undefined) {
        const error = culpritError(name, what);
        log.warn("Callback {id} is a dead letter for {plugin}: {error}", {
          id: what.culprit,
          plugin: name,
          error,
        });
        remote!.metrics.recorders.deliveries.inc({ plugin: name, result: "dead" });
        remote!.markDead(name, what.culprit, { attempts: Math.max(1, attempts), error })
          .catch(() => {});
      }
    }
  }
  await delivery!.remove(name, 0);
  await remote!.settle();
}

/** Stops delivering to `name` (running handlers get `graceMs`); what is pending stays so. */
async function remove(name: string, graceMs: number): Promise<void> {
  remotes.delete(name);
  await delivery!.remove(name, graceMs);
  await remote!.settle();
}

async function shutdown(graceMs: number): Promise<void> {
  try {
    await delivery?.close(graceMs);
  } finally {
    clearInterval(checkpoints);
    await remote?.settle();
    remote?.close();
  }
}
