/**
 * The control requests (load, create, stop) a plugin runner has sent and waits to hear back
 * about, shared by the thread and process runners: each request waits for one of the answer
 * types it names, and every one is rejected when the runner ends.
 *
 * @module
 */

/** Control requests in flight to one plugin runner, by the answer types they wait for. */
export class PendingAnswers<A extends { type: string }> {
  #waiting = new Map<string, PromiseWithResolvers<A>>();

  /** Sends a request with `send`; settles with the first answer of one of `types`. */
  ask(send: () => void, types: readonly A["type"][]): Promise<A> {
    const waiter = Promise.withResolvers<A>();
    for (const type of types) this.#waiting.set(type, waiter);
    send();
    return waiter.promise.finally(() => {
      for (const type of types) this.#waiting.delete(type);
    });
  }

  /** Settles the request waiting for `answer`'s type, if one is. */
  settle(answer: A): void {
    this.#waiting.get(answer.type)?.resolve(answer);
  }

  /** Rejects every request in flight with `error` (the runner ended). */
  rejectAll(error: unknown): void {
    for (const waiter of new Set(this.#waiting.values())) waiter.reject(error);
    this.#waiting.clear();
  }
}

/** What the answer to a `create` request says: the instance's methods, or why it failed. */
export function created(
  reply: { type: string; hasHandle?: boolean; hasDecide?: boolean; error?: string },
): { hasHandle: boolean; hasDecide: boolean } {
  if (reply.type === "create_failed") throw new TypeError(reply.error);
  if (reply.type !== "started") throw new TypeError(`unexpected answer "${reply.type}"`);
  return { hasHandle: reply.hasHandle === true, hasDecide: reply.hasDecide === true };
}
