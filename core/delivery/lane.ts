/**
 * One plugin's lane of the delivery engine (`engine.ts`): which of its pending callbacks it
 * holds (a window, and a smaller one per group), one at a time per group in journal order (or
 * any order with `ordering: none`), the handler's time limit, retries with backoff, dead
 * letters, and the outcomes written back to the journal.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import { DeliveredEvent } from "./event.ts";
import type { PendingDelivery } from "../journal/mod.ts";
import { errorChain } from "../ops/error_chain.ts";
import type { DeliveryJournal, DeliveryOptions, DeliveryTarget } from "./delivery_types.ts";

interface Item extends PendingDelivery {
  key: string;
}

type Outcome = "done" | "retry" | "dead" | "stopped";

/**
 * A lane lets the event loop run once it has started at least TURN_STARTS deliveries and
 * worked TURN_MS milliseconds without doing so.
 */
const TURN_STARTS = 64;
const TURN_MS = 8;

/** One plugin's deliveries: its window, its groups' order, its retries and dead letters. */
export class PluginLane {
  #journal: DeliveryJournal;
  #target: DeliveryTarget;
  #options: Required<Omit<DeliveryOptions, "metrics" | "logger">> & DeliveryOptions;
  /** This plugin's ordering, or the engine's. */
  #ordering: "per_group" | "none";
  /** Metric labels, made once rather than per delivery (the metrics only read them). */
  #labels: { plugin: { plugin: string }; ok: { plugin: string; result: string } };
  #groups = new Map<string, Item[]>();
  #blocked = new Set<string>();
  #ready: string[] = [];
  #held = new Set<number>();
  /** Delivered or dead deliveries whose journal record is not committed yet. */
  #settling = new Set<number>();
  /** Groups with pending deliveries left in the journal because they hit `groupWindow`. */
  #overflow = new Set<string>();
  /** The smallest callback id left in the journal that way. */
  #overflowFrom = Number.POSITIVE_INFINITY;
  #loadedThrough = 0;
  #caughtUp = false;
  #running = 0;
  #stopped = false;
  /** Settled when `#running` drops to 0, for `stop`. */
  #idle: PromiseWithResolvers<void> | undefined;
  #timers = new Set<() => void>();
  #shutdown = new AbortController();
  /** Handlers running past their return, in start order (and so in deadline order). */
  #awaiting = new Set<Awaiting>();
  /** Attempts started in this turn, run in the next microtask. */
  #starting: Item[] = [];
  #cancelDeadline: (() => void) | undefined;
  #turn = 0;
  #turnStarted = performance.now();
  #yielding: ReturnType<typeof setImmediate> | undefined;

  constructor(
    journal: DeliveryJournal,
    target: DeliveryTarget,
    options: Required<Omit<DeliveryOptions, "metrics" | "logger">> & DeliveryOptions,
  ) {
    this.#journal = journal;
    this.#target = target;
    this.#options = options;
    this.#ordering = target.ordering ?? options.ordering;
    this.#labels = {
      plugin: { plugin: target.name },
      ok: { plugin: target.name, result: "ok" },
    };
  }

  /**
   * Keeps `id` from being read back as pending until its outcome (a delivery or a dead
   * letter) is committed: a rescan would otherwise deliver it again. One `then` with both
   * handlers, not a `catch` and a `finally`: this runs once per delivery.
   */
  #recorded(id: number, written: Promise<void>, outcome: "delivery" | "dead letter"): void {
    this.#settling.add(id);
    written.then(() => {
      this.#settling.delete(id);
    }, (error) => {
      this.#settling.delete(id);
      this.#options.logger?.error("Cannot record the {outcome} of {id} to {plugin}: {error}", {
        outcome,
        id,
        plugin: this.#target.name,
        error,
      });
    });
  }

  attempts(id: number): number | undefined {
    if (!this.#held.has(id)) return undefined;
    for (const queue of this.#groups.values()) {
      for (const item of queue) if (item.id === id) return item.attempts;
    }
    return undefined;
  }

  get #groupWindow(): number {
    return this.#options.groupWindow;
  }

  wake(): void {
    this.#caughtUp = false;
    this.pump();
  }

  /** Reads the journal from the start again, for deliveries `replay` made pending. */
  rescan(): void {
    this.#loadedThrough = 0;
    this.wake();
  }

  pump(): void {
    if (this.#stopped || this.#yielding !== undefined) return;
    // Refill in large batches (one query per half window, not one per finished delivery),
    // but at once when nothing is ready to run, so a group waiting on its retry never
    // starves the others.
    if (
      !this.#caughtUp && this.#held.size < this.#options.window &&
      (this.#held.size <= this.#options.window / 2 || this.#ready.length === 0)
    ) {
      this.#load();
    }
    while (this.#running < this.#target.concurrency && this.#ready.length > 0) {
      // Handlers that finish without waiting would chain deliveries through microtasks
      // alone and starve the event loop (the listener, the journal's commits): yield to it
      // now and then. With `setImmediate`, not `setTimeout(0)`: a timer waits at least a
      // millisecond, and a backlog spent 8-11% of its drain idle in those waits.
      if (++this.#turn > TURN_STARTS && performance.now() - this.#turnStarted > TURN_MS) {
        this.#yielding ??= setImmediate(() => {
          this.#yielding = undefined;
          this.#turn = 0;
          this.#turnStarted = performance.now();
          this.pump();
        });
        return;
      }
      this.#start(this.#ready.shift()!);
    }
  }

  #load(): void {
    const want = this.#options.window - this.#held.size;
    let rows: PendingDelivery[];
    try {
      rows = this.#journal.pending(this.#target.name, this.#loadedThrough, want);
    } catch (error) {
      // Leave caughtUp false: the next wake or completion tries again.
      this.#options.logger?.error("Cannot read pending deliveries of {plugin}: {error}", {
        plugin: this.#target.name,
        error,
      });
      return;
    }
    if (rows.length < want) this.#caughtUp = true;
    for (const row of rows) {
      this.#loadedThrough = row.id;
      if (this.#held.has(row.id) || this.#settling.has(row.id)) continue;
      const key = this.#ordering === "none" || row.groupKey === null ? `#${row.id}` : row.groupKey;
      const queue = this.#groups.get(key);
      // Once a group has left callbacks behind, take none of its later ones before those.
      if (this.#overflow.has(key) || (queue?.length ?? 0) >= this.#groupWindow) {
        this.#overflow.add(key);
        this.#overflowFrom = Math.min(this.#overflowFrom, row.id);
        continue;
      }
      this.#held.add(row.id);
      const item = row as Item;
      item.key = key;
      if (queue === undefined) {
        this.#groups.set(key, [item]);
        this.#schedule(key);
      } else {
        queue.push(item);
      }
    }
  }

  /** Makes the head of a group ready now or when its retry falls due. */
  #schedule(key: string): void {
    const head = this.#groups.get(key)![0]!;
    const wait = head.nextAt - this.#options.clock.now();
    if (wait <= 0) {
      this.#ready.push(key);
      return;
    }
    this.#blocked.add(key);
    const cancel = this.#options.clock.setTimeout(() => {
      this.#timers.delete(cancel);
      this.#blocked.delete(key);
      this.#ready.push(key);
      this.pump();
    }, wait);
    this.#timers.add(cancel);
  }

  #start(key: string): void {
    this.#running++;
    this.#starting.push(this.#groups.get(key)![0]!);
    // Never call plugin code inside the caller's turn (a journal commit, a pump): the
    // attempts started now run in one microtask.
    if (this.#starting.length === 1) queueMicrotask(this.#runStarts);
  }

  #runStarts = (): void => {
    const items = this.#starting;
    this.#starting = [];
    for (const item of items) this.#attempt(item);
  };

  /** Resolves once no attempt is running (a counter, not a promise per delivery). */
  #whenIdle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  #finish(item: Item, outcome: Outcome): void {
    if (outcome === "stopped") return;
    if (outcome === "retry") {
      this.#schedule(item.key);
    } else {
      const queue = this.#groups.get(item.key)!;
      queue.shift();
      this.#held.delete(item.id);
      if (queue.length === 0) this.#groups.delete(item.key);
      else this.#schedule(item.key);
      if (this.#overflow.has(item.key) && queue.length <= this.#groupWindow / 2) {
        // Read again from the first callback left behind; groups still full skip theirs again.
        this.#overflow.delete(item.key);
        this.#loadedThrough = Math.min(this.#loadedThrough, this.#overflowFrom - 1);
        this.#overflowFrom = Number.POSITIVE_INFINITY;
        this.#caughtUp = false;
      }
    }
    this.pump();
  }

  /**
   * Calls the handler. Its outcome is recorded by {@linkcode #settle} when it returns, throws,
   * settles, or is given up on ({@linkcode #end}), whichever comes first. Callbacks rather
   * than an async function: an async attempt, its awaits and a promise to race the handler's
   * against cost about 1.5 KB of garbage per delivery.
   */
  #attempt(item: Item): void {
    const attempt = item.attempts + 1;
    const controller = new AbortController();
    const started = performance.now();
    const remote = this.#target.remote;
    let result: unknown;
    let thenable: boolean;
    try {
      result = remote !== undefined
        ? remote.send(item, attempt, controller.signal)
        : this.#target.instance.handle!(new DeliveredEvent(item, attempt), controller.signal);
      // Inside the try: reading `then` runs plugin code too, when it is a getter.
      thenable = isThenable(result);
    } catch (error) {
      this.#settle(item, attempt, started, true, error);
      return;
    }
    if (!thenable) {
      this.#settle(item, attempt, started, false, undefined);
      return;
    }
    // Only handlers that return before they are done wait, against one shared deadline timer
    // (see #armDeadline).
    const awaiting: Awaiting = {
      item,
      attempt,
      started,
      controller,
      deadline: this.#options.clock.monotonic() + this.#options.handlerTimeoutMs,
      ended: false,
    };
    this.#awaiting.add(awaiting);
    this.#cancelDeadline ??= this.#armDeadline();
    try {
      (result as PromiseLike<unknown>).then(
        () => this.#handled(awaiting, false, undefined),
        (error) => this.#handled(awaiting, true, error),
      );
    } catch (error) {
      // A thenable whose `then` throws fails the attempt, as an `await` of it would.
      this.#handled(awaiting, true, error);
    }
  }

  /** A handler's promise settled. */
  #handled(awaiting: Awaiting, failed: boolean, failure: unknown): void {
    if (awaiting.ended) return;
    awaiting.ended = true;
    this.#awaiting.delete(awaiting);
    if (this.#awaiting.size === 0) {
      this.#cancelDeadline?.();
      this.#cancelDeadline = undefined;
    }
    this.#settle(awaiting.item, awaiting.attempt, awaiting.started, failed, failure);
  }

  /**
   * Gives up on a handler (past `handler_timeout`, or shutting down): aborts its signal and
   * counts it as failed with `reason`, whatever it does later.
   */
  #end(awaiting: Awaiting, reason: unknown): void {
    if (awaiting.ended) return;
    this.#handled(awaiting, true, reason);
    awaiting.controller.abort(reason);
  }

  /** Records an attempt's outcome and moves on. */
  #settle(item: Item, attempt: number, started: number, failed: boolean, failure: unknown): void {
    const outcome = this.#outcome(item, attempt, started, failed, failure);
    this.#running--;
    this.#finish(item, outcome);
    if (this.#running === 0) {
      this.#idle?.resolve();
      this.#idle = undefined;
    }
  }

  #outcome(
    item: Item,
    attempt: number,
    started: number,
    failed: boolean,
    failure: unknown,
  ): Outcome {
    const { clock, metrics, logger } = this.#options;
    const plugin = this.#target.name;
    metrics?.deliverySeconds.observe(this.#labels.plugin, (performance.now() - started) / 1000);
    // Shutting down is not the handler's fault: the delivery stays pending as it was.
    if (this.#shutdown.signal.aborted) return "stopped";

    if (!failed) {
      metrics?.deliveries.inc(this.#labels.ok);
      this.#recorded(item.id, this.#journal.markDelivered(plugin, item.id), "delivery");
      return "done";
    }
    // With its causes: "fetch failed" alone says nothing of why.
    const message = errorChain(failure);
    const fields = (typeof failure === "object" && failure !== null ? failure : {}) as {
      permanent?: unknown;
      retryAfterMs?: unknown;
    };
    if (fields.permanent === true || attempt >= this.#options.maxAttempts) {
      metrics?.deliveries.inc({ plugin, result: "dead" });
      logger?.warn(
        "Callback {id} ({command}) is a dead letter for {plugin} after {attempt} attempt(s): {message}",
        { id: item.id, command: item.command, plugin, attempt, message },
      );
      this.#recorded(
        item.id,
        this.#journal.markDead(plugin, item.id, { attempts: attempt, error: message }),
        "dead letter",
      );
      return "dead";
    }

    const ceiling = Math.min(
      this.#options.maxBackoffMs,
      this.#options.initialBackoffMs * 2 ** (attempt - 1),
    );
    let delay = Math.floor(this.#options.random() * ceiling);
    if (typeof fields.retryAfterMs === "number" && Number.isFinite(fields.retryAfterMs)) {
      delay = Math.max(delay, fields.retryAfterMs);
    }
    item.attempts = attempt;
    item.nextAt = clock.now() + delay;
    metrics?.deliveries.inc({ plugin, result: "retry" });
    logger?.info(
      "Callback {id} ({command}) failed in {plugin}, attempt {attempt}; retrying in {delay}ms: {message}",
      { id: item.id, command: item.command, plugin, attempt, delay, message },
    );
    this.#journal.markRetry(plugin, item.id, {
      attempts: attempt,
      nextAt: item.nextAt,
      error: message,
    })
      .catch((error) =>
        logger?.error("Cannot record retry of {id}: {error}", { id: item.id, error })
      );
    return "retry";
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearImmediate(this.#yielding);
    this.#yielding = undefined;
    for (const cancel of this.#timers) cancel();
    this.#timers.clear();
    if (this.#running > 0) {
      // Real time, not the injected clock: the grace period bounds how long shutdown takes.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([this.#whenIdle(), grace]);
      clearTimeout(timer);
    }
    this.#shutdown.abort(new DOMException("imhookd is shutting down", "AbortError"));
    this.#cancelDeadline?.();
    this.#cancelDeadline = undefined;
    for (const awaiting of [...this.#awaiting]) this.#end(awaiting, this.#shutdown.signal.reason);
    await this.#whenIdle();
  }

  /** Arms the timer for the earliest deadline of the handlers awaited. */
  #armDeadline(): () => void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const awaiting of this.#awaiting) earliest = Math.min(earliest, awaiting.deadline);
    const { clock, handlerTimeoutMs } = this.#options;
    return clock.setTimeout(() => {
      this.#cancelDeadline = undefined;
      const now = clock.monotonic();
      for (const awaiting of [...this.#awaiting]) {
        if (awaiting.deadline > now) continue;
        this.#end(
          awaiting,
          new DOMException(`handler timed out after ${handlerTimeoutMs}ms`, "TimeoutError"),
        );
      }
      if (this.#awaiting.size > 0) this.#cancelDeadline = this.#armDeadline();
    }, earliest - clock.monotonic());
  }
}

/** A handler whose promise is being waited for. */
interface Awaiting {
  item: Item;
  attempt: number;
  started: number;
  controller: AbortController;
  deadline: number;
  /** Settled, or given up on: what the handler does from then on is ignored. */
  ended: boolean;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}
