/**
 * Body timeouts of the callback listener.
 *
 * @module
 */
import type { Clock } from "../clock.ts";

/** One pending timeout; remove it with {@linkcode Deadlines.remove}. */
export interface Deadline {
  at: number;
  fire: () => void;
  prev: Deadline | undefined;
  next: Deadline | undefined;
}

/**
 * Body timeouts, all of one length, so they fall due in the order they were added: a linked
 * list in that order and one clock timer for its head, instead of a timer per request, which
 * costs more. Removing a deadline only unlinks it; the timer, when it fires, moves
 * on to the new head.
 */
export class Deadlines {
  #clock: Clock;
  #ms: number;
  #head: Deadline | undefined;
  #tail: Deadline | undefined;
  #cancelTimer: (() => void) | undefined;
  #closing = false;

  constructor(clock: Clock, ms: number) {
    this.#clock = clock;
    this.#ms = ms;
  }

  /** Calls `fire` once the timeout has passed, unless removed before. */
  add(fire: () => void): Deadline {
    const deadline: Deadline = {
      at: this.#clock.now() + this.#ms,
      fire,
      prev: this.#tail,
      next: undefined,
    };
    if (this.#tail === undefined) this.#head = deadline;
    else this.#tail.next = deadline;
    this.#tail = deadline;
    this.#cancelTimer ??= this.#clock.setTimeout(() => this.#sweep(), this.#ms);
    return deadline;
  }

  /** Cancels `deadline` (nothing happens if it already fired). */
  remove(deadline: Deadline): void {
    if (deadline.prev === undefined) {
      if (this.#head !== deadline) return; // already fired
      this.#head = deadline.next;
    } else {
      deadline.prev.next = deadline.next;
    }
    if (deadline.next === undefined) this.#tail = deadline.prev;
    else deadline.next.prev = deadline.prev;
    deadline.prev = deadline.next = undefined;
    if (this.#closing && this.#head === undefined) this.#stop();
  }

  /** Lets the timer go once nothing waits, so that it does not hold the process. */
  close(): void {
    this.#closing = true;
    if (this.#head === undefined) this.#stop();
  }

  #stop(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  #sweep(): void {
    this.#cancelTimer = undefined;
    const now = this.#clock.now();
    for (let head = this.#head; head !== undefined && head.at <= now; head = this.#head) {
      this.remove(head);
      head.fire();
    }
    if (this.#head !== undefined) {
      this.#cancelTimer = this.#clock.setTimeout(() => this.#sweep(), this.#head.at - now);
    }
  }
}
