/**
 * `builtin:nats_forwarder`: publishes each callback to a NATS JetStream stream and waits for
 * the stream's acknowledgement. Each message carries `Nats-Msg-Id` = imhookd's dedup key
 * (`SdkAppid`, command, natural key), computed from the callback alone, so the copies of one
 * callback that reached two imhookd instances (or one instance twice, past its own dedup
 * window) are one message in the stream, as long as they arrive within the stream's
 * `duplicate_window`.
 *
 * The message is the body exactly as Tencent sent it, on the subject made from `subject`
 * (`{command}` and `{sdk_app_id}` replaced), with headers `Imhookd-Command`,
 * `Imhookd-Sdk-App-Id`, `Imhookd-Received-At` (ms) and, when Tencent sent them,
 * `Imhookd-Client-Ip` and `Imhookd-Opt-Platform`. A publish that is not acknowledged within
 * `timeout`, or while NATS is unreachable, fails and is retried like any delivery; a callback
 * that can never be published (a command that makes no valid subject, a body over the
 * server's `max_payload`) fails with `permanent: true`.
 *
 * Client: `@nats-io/transport-node` with `@nats-io/jetstream` (the official nats.js v3, on
 * npm): it ran under Deno 2.9, also in a Worker with only `net` permission; the Deno-native
 * transport is published on JSR only, which this project cannot reach.
 *
 * ```yaml
 * plugins:
 *   - name: stream
 *     use: builtin:nats_forwarder
 *     options:
 *       servers: ["nats-1:4222", "nats-2:4222"]
 *       stream: IM_CALLBACKS
 *       subject: im.{sdk_app_id}.{command}   # default im.{command}
 *       credentials: ./nats.creds            # optional, relative to the config file
 *       create_stream: true                  # create it (file storage) when missing
 *       duplicate_window: 24h                # for a created stream; >= journal.dedup_window
 *       timeout: 10s                         # wait for the stream's ack
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  connect,
  credsAuthenticator,
  headers as natsHeaders,
  type NatsConnection,
} from "@nats-io/transport-node";
import { jetstream, type JetStreamClient, jetstreamManager } from "@nats-io/jetstream";
import type {
  CallbackEvent,
  DeliveryErrorFields,
  Handler,
  Plugin,
  PluginContext,
  PluginLogger,
} from "../plugin.ts";
import { naturalKey } from "../core/protocol/keys.ts";
import { show } from "./_options.ts";
import {
  type NatsForwarderOptions,
  natsForwarderPermissions,
  parseNatsForwarderOptions,
  PLACEHOLDER,
  validSubject,
} from "./_nats_options.ts";

export {
  type NatsForwarderOptions,
  natsForwarderPermissions,
  parseNatsForwarderOptions,
} from "./_nats_options.ts";

/** A failed publish, carrying the retry hint the delivery engine reads. */
export class NatsForwarderError extends Error implements DeliveryErrorFields {
  override name = "NatsForwarderError";
  /** True when publishing the callback again cannot succeed. */
  readonly permanent: boolean;

  constructor(message: string, init: { permanent?: boolean } = {}) {
    super(message);
    this.permanent = init.permanent ?? false;
  }
}

/** Pause between attempts to connect, doubled up to the maximum. */
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;
/** A message id longer than this, or with other than visible ASCII, is hashed. */
const MAX_READABLE_ID = 200;

/**
 * The `Nats-Msg-Id` of a callback: `SDKAPPID:COMMAND:NATURALKEY`, imhookd's dedup key, the same
 * on every instance (it depends on the callback only, never on the journal); hashed
 * (`sha256:` + hex) when long or not plain ASCII.
 */
export function natsMessageId(event: CallbackEvent): string {
  const id = `${event.sdkAppId}:${event.command}:${
    naturalKey(event.command, event.payload, event.rawBody)
  }`;
  if (id.length <= MAX_READABLE_ID && /^[\x20-\x7e]+$/.test(id)) return id;
  return `sha256:${createHash("sha256").update(id, "utf8").digest("hex")}`;
}

/** The subject a callback is published on, or undefined when its command makes no valid one. */
export function natsSubject(template: string, event: CallbackEvent): string | undefined {
  const subject = template.replace(
    PLACEHOLDER,
    (_, name) => (name === "command" ? event.command : event.sdkAppId),
  );
  return validSubject(subject) ? subject : undefined;
}

/** Starts the plugin: reads the credentials, then connects in the background. */
export async function createNatsForwarder(
  options: NatsForwarderOptions,
  ctx: PluginContext,
): Promise<Handler> {
  let creds: Uint8Array | undefined;
  if (options.credentials !== undefined) {
    try {
      creds = await Deno.readFile(options.credentials);
    } catch (error) {
      throw new TypeError(
        `Cannot read NATS credentials "${options.credentials}": ${(error as Error).message}`,
      );
    }
  }
  return new NatsForwarder(options, creds, ctx.logger);
}

class NatsForwarder implements Handler {
  #options: NatsForwarderOptions;
  #creds: Uint8Array | undefined;
  #logger: PluginLogger;
  #closing = new AbortController();
  #connection: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #ready = Promise.withResolvers<void>();
  #connecting: Promise<void>;
  #inFlight = new Set<Promise<unknown>>();

  constructor(options: NatsForwarderOptions, creds: Uint8Array | undefined, logger: PluginLogger) {
    this.#options = options;
    this.#creds = creds;
    this.#logger = logger;
    this.#connecting = this.#connect();
  }

  /** Connects (and creates the stream when asked), retrying until it works or we close. */
  async #connect(): Promise<void> {
    const servers = this.#options.servers.join(", ");
    let pause = RECONNECT_MIN_MS;
    let lastError = "";
    while (!this.#closing.signal.aborted) {
      let nc: NatsConnection | undefined;
      try {
        nc = await connect({
          servers: this.#options.servers,
          name: "imhookd",
          timeout: this.#options.timeoutMs,
          // Once connected, the client reconnects by itself for as long as it runs.
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1_000,
          // Only the configured servers, never those a cluster advertises: they are the ones
          // the plugin's permissions name.
          ignoreClusterUpdates: true,
          ...(this.#creds ? { authenticator: credsAuthenticator(this.#creds) } : {}),
        });
        if (this.#options.createStream) await this.#ensureStream(nc);
        if (this.#closing.signal.aborted) {
          await nc.close();
          return;
        }
        this.#connection = nc;
        this.#js = jetstream(nc, { timeout: this.#options.timeoutMs });
        this.#logger.info("nats_forwarder connected to {servers}, stream {stream}", {
          servers,
          stream: this.#options.stream,
        });
        this.#ready.resolve();
        const connected = nc;
        connected.closed().then((error) => this.#lost(connected, error));
        return;
      } catch (error) {
        await nc?.close().catch(() => {});
        const message = errorText(error);
        if (message !== lastError) {
          this.#logger.warn("nats_forwarder cannot connect to {servers} yet: {error}", {
            servers,
            error: message,
          });
          lastError = message;
        }
        await pauseFor(pause, this.#closing.signal);
        pause = Math.min(pause * 2, RECONNECT_MAX_MS);
      }
    }
  }

  /** The client gave up on a connection (e.g. its credentials were refused): start over. */
  #lost(nc: NatsConnection, error: void | Error): void {
    if (this.#closing.signal.aborted || this.#connection !== nc) return;
    this.#logger.warn("nats_forwarder lost its connection to NATS: {error}; connecting again", {
      error: error ? errorText(error) : "closed",
    });
    this.#connection = undefined;
    this.#js = undefined;
    this.#ready = Promise.withResolvers<void>();
    this.#connecting = this.#connect();
  }

  async #ensureStream(nc: NatsConnection): Promise<void> {
    const { stream, subject, duplicateWindowMs } = this.#options;
    const jsm = await jetstreamManager(nc, { timeout: this.#options.timeoutMs });
    const windowNs = duplicateWindowMs * 1_000_000;
    try {
      const info = await jsm.streams.info(stream);
      if (info.config.duplicate_window < windowNs) {
        this.#logger.warn(
          "Stream {stream} keeps message ids for {window} ms, less than duplicate_window: duplicates further apart are not caught",
          { stream, window: info.config.duplicate_window / 1_000_000 },
        );
      }
      return;
    } catch (error) {
      if (!/stream not found/i.test(errorText(error))) throw error;
    }
    await jsm.streams.add({
      name: stream,
      subjects: [`${subject.split(".")[0]}.>`],
      duplicate_window: windowNs,
    });
    this.#logger.info("nats_forwarder created stream {stream}", { stream });
  }

  async handle(event: CallbackEvent, signal: AbortSignal): Promise<void> {
    if (this.#closing.signal.aborted) {
      throw new NatsForwarderError(
        `Cannot publish callback "${event.id}": nats_forwarder is closed`,
      );
    }
    const subject = natsSubject(this.#options.subject, event);
    if (subject === undefined) {
      throw new NatsForwarderError(
        `Cannot publish callback "${event.id}": command ${
          show(event.command)
        } makes no valid subject from "${this.#options.subject}"`,
        { permanent: true },
      );
    }
    const publish = this.#publish(event, subject, signal);
    this.#inFlight.add(publish);
    try {
      await publish;
    } finally {
      this.#inFlight.delete(publish);
    }
  }

  async #publish(event: CallbackEvent, subject: string, signal: AbortSignal): Promise<void> {
    const what = `callback "${event.id}" to "${subject}"`;
    const stop = AbortSignal.any([signal, this.#closing.signal]);
    if (this.#js === undefined) {
      await waitFor(this.#ready.promise, stop, this.#options.timeoutMs).catch(() => {});
    }
    const js = this.#js;
    const nc = this.#connection;
    if (js === undefined || nc === undefined) {
      throw new NatsForwarderError(
        `Cannot publish ${what}: not connected to NATS (${this.#options.servers.join(", ")})`,
      );
    }
    const body = new TextEncoder().encode(event.rawBody);
    const maxPayload = nc.info?.max_payload;
    if (maxPayload !== undefined && body.length > maxPayload) {
      throw new NatsForwarderError(
        `Cannot publish ${what}: its ${body.length} bytes exceed the server's max_payload ${maxPayload}`,
        { permanent: true },
      );
    }
    const headers = natsHeaders();
    headers.set("Imhookd-Command", event.command);
    headers.set("Imhookd-Sdk-App-Id", event.sdkAppId);
    headers.set("Imhookd-Received-At", String(event.receivedAt));
    if (event.clientIp !== undefined) headers.set("Imhookd-Client-Ip", event.clientIp);
    if (event.optPlatform !== undefined) headers.set("Imhookd-Opt-Platform", event.optPlatform);
    try {
      const ack = js.publish(subject, body, {
        msgID: natsMessageId(event),
        headers,
        timeout: this.#options.timeoutMs,
      });
      await waitFor(ack, stop);
    } catch (error) {
      throw new NatsForwarderError(`Cannot publish ${what}: ${errorText(error)}`);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    await this.#connecting;
    await Promise.allSettled([...this.#inFlight]);
    await this.#connection?.close();
  }
}

/** Resolves with `promise`, or rejects when `signal` aborts or `timeoutMs` passes first. */
async function waitFor<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  timeoutMs?: number,
): Promise<T> {
  if (signal.aborted) throw signal.reason;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        if (timeoutMs !== undefined) {
          timer = setTimeout(
            () => reject(new RangeError(`timed out after ${timeoutMs}ms`)),
            timeoutMs,
          );
        }
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function pauseFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The `builtin:nats_forwarder` plugin. */
const natsForwarder: Plugin<NatsForwarderOptions> = {
  name: "nats_forwarder",
  parseOptions: parseNatsForwarderOptions,
  create: createNatsForwarder,
  permissions: natsForwarderPermissions,
};

export default natsForwarder;
