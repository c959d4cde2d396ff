/**
 * The clock the journal, the verifier and the delivery engine read, so that tests can
 * move time by hand instead of sleeping.
 *
 * @module
 */

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Milliseconds on a clock that never steps, unlike `now` (for deadlines). */
  monotonic(): number;
  /** Calls `fn` after `ms` milliseconds; returns a function that cancels the call. */
  setTimeout(fn: () => void, ms: number): () => void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    // A deadline already past fires at once (Node's timers would warn on stderr about it).
    const handle = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(handle);
  },
};

/** A clock that only moves when told to, for tests. */
export class ManualClock implements Clock {
  #now: number;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const handle = this.#next++;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), fn });
    return () => this.#timers.delete(handle);
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  tick(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry;
      }
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fn();
    }
    this.#now = end;
  }
}
