/**
 * The engine's stand-in for a plugin that runs on a thread (or in a process) of its own: its
 * `handle` sends the event through the plugin's port and settles when the plugin's answer
 * comes back. Events started in one turn travel in one message, and answers come back the same
 * way, so a flood costs a few messages per turn rather than two per callback.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import type { RemoteInstance } from "./engine.ts";
import type { EventSource } from "./event.ts";
import {
  type PortReply,
  type PortRequest,
  wire,
  type WireEvent,
  type WireFailure,
} from "./plugin_protocol.ts";

/** A failure a plugin reported, rebuilt for the engine: its text and retry fields. */
export class PluginFailure extends Error {
  permanent?: true;
  retryAfterMs?: number;

  constructor(failure: WireFailure) {
    super(failure.text);
    // "Error": the text already starts with the original error's name.
    this.name = "Error";
    if (failure.permanent) this.permanent = true;
    if (failure.retryAfterMs !== undefined) this.retryAfterMs = failure.retryAfterMs;
  }
}

interface Request {
  callback: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** How the plugin went down, for {@linkcode RemotePlugin.fail}. */
export interface Down {
  /** What happened, e.g. `stalled (no heartbeat for 30s)`. */
  what: string;
  /** The callback whose `handle` was running synchronously, if one was. */
  culprit?: number;
  /**
   * True when the culprit is not retried: it brought the plugin down (retrying it would bring
   * the next runner down too, and strand another thread when threads cannot be reclaimed).
   */
  condemned: boolean;
  /** True when the plugin's thread cannot be reclaimed. */
  unreclaimable: boolean;
}

/** The dead letter's error of a callback a plugin went down on (see {@linkcode Down}). */
export function culpritError(name: string, down: Down, among = 1): string {
  const why = down.unreclaimable
    ? "its thread cannot be reclaimed, so it is not retried"
    : "a callback that brings its plugin down is not retried";
  return `plugin "${name}" ${down.what} while handling this callback${
    among > 1 ? ` (one of ${among} it held)` : ""
  }; ${why}`;
}

/** A plugin instance whose `handle` runs elsewhere, reached through a `MessagePort`. */
export class RemotePlugin implements RemoteInstance {
  #name: string;
  #port: MessagePort;
  #requests = new Map<number, Request>();
  #queue: WireEvent[] = [];
  #next = 0;

  constructor(name: string, port: MessagePort) {
    this.#name = name;
    this.#port = port;
    port.onmessage = (event: MessageEvent<PortReply>) => this.#receive(event.data);
  }

  handle(event: CallbackEvent, signal: AbortSignal): Promise<void> {
    return this.send(
      {
        id: Number(event.id),
        command: event.command,
        sdkAppId: event.sdkAppId,
        receivedAt: event.receivedAt,
        clientIp: event.clientIp ?? null,
        optPlatform: event.optPlatform ?? null,
        body: event.rawBody,
        decision: event.decision === undefined ? null : JSON.stringify(event.decision),
      },
      event.attempt,
      signal,
    );
  }

  /** Sends a pending delivery as it is (the engine's path: no event object made for it). */
  send(item: EventSource, attempt: number, signal: AbortSignal): Promise<void> {
    const request = ++this.#next;
    const callback = item.id;
    this.#queue.push([
      request,
      callback,
      item.command,
      item.sdkAppId,
      item.receivedAt,
      item.clientIp,
      item.optPlatform,
      attempt,
      item.body,
      item.decision,
    ]);
    if (this.#queue.length === 1) queueMicrotask(this.#flush);
    // A property, not a listener: nothing to remove, and the signal dies with the attempt.
    signal.onabort = () => this.#send({ type: "abort", request, reason: wire(signal.reason) });
    return new Promise<void>((resolve, reject) => {
      this.#requests.set(request, { callback, resolve, reject });
    });
  }

  /**
   * Fails every callback the plugin holds, because it went down: each counts a failed attempt.
   * A condemned culprit fails permanently, and so does every callback a thread that cannot be
   * reclaimed held when the culprit is unknown. Returns whether the culprit was among them.
   */
  fail(down: Down): boolean {
    let found = false;
    const blameAll = down.unreclaimable && down.culprit === undefined;
    const held = this.#requests.size;
    for (const request of this.#requests.values()) {
      const culprit = request.callback === down.culprit;
      found ||= culprit;
      const failure: WireFailure = (culprit && down.condemned) || blameAll
        ? { text: culpritError(this.#name, down, blameAll ? held : 1), permanent: true }
        : culprit
        ? { text: `plugin "${this.#name}" ${down.what} while handling this callback` }
        : { text: `plugin "${this.#name}" ${down.what} while this callback was in flight` };
      request.reject(new PluginFailure(failure));
    }
    this.#requests.clear();
    this.#queue = [];
    this.#port.close();
    return found;
  }

  #flush = (): void => {
    const events = this.#queue;
    this.#queue = [];
    this.#send({ type: "handle", events });
  };

  #send(message: PortRequest): void {
    this.#port.postMessage(message);
  }

  #receive(reply: PortReply): void {
    for (const [id, failure] of reply.results) {
      const request = this.#requests.get(id);
      if (request === undefined) continue;
      this.#requests.delete(id);
      if (failure === null) request.resolve();
      else request.reject(new PluginFailure(failure));
    }
  }
}
