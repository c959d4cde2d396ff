/**
 * The writer's commit queue (group commit): writes are queued and committed together, so the
 * cost of a commit is paid once per batch, not once per callback. Every write queued while a
 * commit is being prepared shares it, and a write's promise settles only after its commit.
 *
 * This module only queues and schedules; the writer (`writer.ts`) takes the batch and runs
 * the transaction.
 *
 * @module
 */
import { type CallbackRecord, JournalUnavailableError } from "./types.ts";

/** What a queued write does in the transaction: a function to run, or a callback to append. */
export type Work = (() => unknown) | CallbackRecord;

/** A write waiting for the next commit. */
export interface QueuedWrite {
  work: Work;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * How long a lazy write (a delivery outcome) may wait for a commit to share (an answer's
 * commit comes on the next turn of the event loop): fewer, larger commits while callbacks
 * trickle in.
 */
const LAZY_MS = 5;

/** The error a write gets once the journal is closed. */
export function closedError(): JournalUnavailableError {
  return new JournalUnavailableError("The journal is closed");
}

/**
 * Queues writes and calls `flush` once per batch: on the next turn of the event loop, or
 * within {@linkcode LAZY_MS} when only lazy writes wait. `flush` takes the batch with
 * {@linkcode CommitQueue.take}.
 */
export class CommitQueue {
  #queue: QueuedWrite[] = [];
  #scheduled = false;
  /** The timer of a commit that only lazy writes wait for. */
  #lazy: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #flush: () => void;

  constructor(flush: () => void) {
    this.#flush = flush;
  }

  /** Whether {@linkcode CommitQueue.close} was called: every write is then refused. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues `work` for the next commit; the promise settles with what the transaction made
   * of it. A `lazy` write (nobody waits for an answer) may wait up to {@linkcode LAZY_MS} for
   * other writes to share its commit. Rejects with {@linkcode JournalUnavailableError} once
   * closed.
   */
  enqueue<T>(work: Work, lazy = false): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.#scheduled) return;
      if (lazy) {
        this.#lazy ??= setTimeout(() => this.#flush(), LAZY_MS);
        return;
      }
      this.#scheduled = true;
      // After the I/O already polled is handled, so every request read in this turn
      // shares the commit; setImmediate, because a setTimeout(0) waits a millisecond or
      // more in Deno and the answer waits with it.
      setImmediate(() => this.#flush());
    });
  }

  /** Takes every queued write, for the caller to commit now; cancels the scheduled flush. */
  take(): QueuedWrite[] {
    this.#scheduled = false;
    clearTimeout(this.#lazy);
    this.#lazy = undefined;
    const batch = this.#queue;
    this.#queue = [];
    return batch;
  }

  /** Refuses every write from now on (the writer flushed the last batch before). */
  close(): void {
    this.#closed = true;
  }
}
