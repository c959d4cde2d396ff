/**
 * The decide requests a plugin runner has sent and not yet heard back about, shared by the
 * thread and process runners: numbering, abort, and settling by the answer's id.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import { wire, type WireFailure } from "./plugin_protocol.ts";

/** A request to a plugin's `decide`, or the abort of one. */
export type DecideRequest =
  | { type: "decide"; id: number; event: CallbackEvent }
  | { type: "abort_decide"; id: number; reason: WireFailure };

/** What a plugin sends back for a decide request. */
export type DecideAnswer =
  | { id: number; value: unknown }
  | { id: number; failure: WireFailure };

/** Decide requests in flight to one plugin. */
export class PendingDecisions {
  #waiters = new Map<number, PromiseWithResolvers<unknown>>();
  #next = 0;

  /**
   * Sends a decide request with `send`; settles with its answer, or rejects when `signal`
   * aborts (the plugin is told), when `send` throws, or when {@linkcode rejectAll} runs.
   */
  ask(
    event: CallbackEvent,
    signal: AbortSignal,
    send: (request: DecideRequest) => void,
  ): Promise<unknown> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const id = ++this.#next;
    const waiter = Promise.withResolvers<unknown>();
    this.#waiters.set(id, waiter);
    const onAbort = (): void => {
      send({ type: "abort_decide", id, reason: wire(signal.reason) });
      this.#waiters.delete(id);
      waiter.reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      send({ type: "decide", id, event });
    } catch (error) {
      this.#waiters.delete(id);
      waiter.reject(error);
    }
    return waiter.promise.finally(() => signal.removeEventListener("abort", onAbort));
  }

  /** Settles the request `answer` is for (none when it was aborted meanwhile). */
  settle(answer: DecideAnswer): void {
    const waiter = this.#waiters.get(answer.id);
    this.#waiters.delete(answer.id);
    if ("failure" in answer) waiter?.reject(new TypeError(answer.failure.text));
    else waiter?.resolve(answer.value);
  }

  /** Rejects every request in flight with `error` (the plugin ended). */
  rejectAll(error: unknown): void {
    for (const waiter of this.#waiters.values()) waiter.reject(error);
    this.#waiters.clear();
  }
}
