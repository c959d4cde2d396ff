/**
 * The event a plugin's `handle` receives.
 *
 * @module
 */
import type { CallbackEvent, DecisionRecord } from "../../plugin.ts";
import type { PendingDelivery } from "../journal/mod.ts";

/** What a {@linkcode DeliveredEvent} is made of: a pending delivery's callback fields. */
export type EventSource = Pick<
  PendingDelivery,
  "id" | "command" | "sdkAppId" | "receivedAt" | "clientIp" | "optPlatform" | "body" | "decision"
>;

/**
 * The event handed to a plugin: a {@linkcode CallbackEvent} whose `payload` is parsed when
 * first read, so a plugin that only needs `rawBody` (file_logger) never pays for it. `payload`
 * is an own enumerable property all the same, so spreading or serialising the event includes
 * it. Its getter and setter are shared by every event (see {@linkcode PAYLOAD}): an object
 * literal with `get payload()` made two closures, their context and an accessor pair per event,
 * 670 bytes against 110.
 *
 * The parsed payload lives as long as the event, which the attempt waiting on the handler does
 * not hold (see the engine's `Awaiting`): a plugin done with the event early (sqlite_sync, once it has
 * read the change) lets it go while it waits for a commit. A backlog drained by a new `serve`
 * peaked at 124-126 MiB instead of 129-131 that way (sqlite_sync at 512 in flight).
 */
export class DeliveredEvent implements CallbackEvent {
  declare id: string;
  declare command: string;
  declare sdkAppId: string;
  declare receivedAt: number;
  declare clientIp?: string;
  declare optPlatform?: string;
  declare attempt: number;
  declare payload: CallbackEvent["payload"];
  declare rawBody: string;
  declare decision?: DecisionRecord;
  #body: string;
  #payload: CallbackEvent["payload"] | undefined;

  constructor(item: EventSource, attempt: number) {
    this.#body = item.body;
    this.id = String(item.id);
    this.command = item.command;
    this.sdkAppId = item.sdkAppId;
    this.receivedAt = item.receivedAt;
    this.attempt = attempt;
    Object.defineProperty(this, "payload", PAYLOAD);
    this.rawBody = item.body;
    if (item.clientIp !== null) this.clientIp = item.clientIp;
    if (item.optPlatform !== null) this.optPlatform = item.optPlatform;
    if (item.decision !== null) this.decision = JSON.parse(item.decision);
  }

  static payloadOf(event: DeliveredEvent): CallbackEvent["payload"] {
    return event.#payload ??= JSON.parse(event.#body);
  }

  static setPayload(event: DeliveredEvent, value: CallbackEvent["payload"]): void {
    event.#payload = value;
  }
}

/** `payload` of every {@linkcode DeliveredEvent}. */
const PAYLOAD: PropertyDescriptor = {
  get(this: DeliveredEvent) {
    return DeliveredEvent.payloadOf(this);
  },
  set(this: DeliveredEvent, value: CallbackEvent["payload"]) {
    DeliveredEvent.setPayload(this, value);
  },
  enumerable: true,
  configurable: true,
};
