/**
 * `builtin:webhook_forwarder`: POSTs each callback to an HTTP(S) endpoint, either as Tencent sent
 * it (optionally re-signed with the receiver's token) or as a JSON envelope, signed per the
 * Standard Webhooks spec when a secret is set. Keep-alive connections are reused.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Webhook } from "standardwebhooks";
import type {
  CallbackEvent,
  DeliveryErrorFields,
  Handler,
  Plugin,
  PluginContext,
  PluginLogger,
} from "../plugin.ts";
import { errorChain } from "../core/ops/error_chain.ts";
import { parseWebhookForwarderOptions, type WebhookForwarderOptions } from "./_webhook_options.ts";

export type { WebhookForwarderOptions };

/** A failed delivery, carrying the retry hints the delivery engine reads. */
export class WebhookError extends Error implements DeliveryErrorFields {
  override name = "WebhookError";
  /** The HTTP status, when the endpoint answered. */
  readonly status: number | undefined;
  /** True when retrying cannot help (a 4xx other than 408 and 429, or a redirect). */
  readonly permanent: boolean;
  /** The endpoint's `Retry-After`, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    init: { status?: number; permanent?: boolean; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.status = init.status;
    this.permanent = init.permanent ?? false;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** Answer bytes read (so the connection can be reused) before giving up on the connection. */
const MAX_DRAIN_BYTES = 64 * 1024;
const SNIPPET_CHARS = 200;
/** Answer characters kept to be scrubbed, then cut to `SNIPPET_CHARS`. */
const KEPT_CHARS = 4096;
const REDACTED = "[redacted]";

/** `builtin:webhook_forwarder`: POSTs each callback to `url`. */
const webhookForwarder = {
  name: "webhook_forwarder",
  parseOptions(raw: unknown): WebhookForwarderOptions {
    return parseWebhookForwarderOptions(raw);
  },
  /** The host and port of its URL, nothing else. */
  permissions(options: WebhookForwarderOptions): Deno.PermissionOptionsObject {
    const url = new URL(options.url);
    return { net: [`${url.hostname}:${url.port || (url.protocol === "https:" ? 443 : 80)}`] };
  },
  create(options: WebhookForwarderOptions, ctx: PluginContext): Handler {
    return new Forwarder(options, ctx.logger);
  },
} satisfies Plugin<WebhookForwarderOptions>;

export default webhookForwarder;

/**
 * The Standard Webhooks signature (`v1,<base64 HMAC-SHA256>`) of `body` sent as message `id`
 * at `timestamp` (Unix seconds).
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  return new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
}

/** Tencent's callback `Sign`: lowercase hex SHA-256 of `token + requestTime`. */
export function tencentSign(token: string, requestTime: string): string {
  return createHash("sha256").update(token + requestTime).digest("hex");
}

/** The JSON envelope body of the `envelope` format. */
export function envelopeBody(event: CallbackEvent): string {
  return JSON.stringify({
    id: event.id,
    command: event.command,
    sdk_app_id: event.sdkAppId,
    received_at: new Date(event.receivedAt).toISOString(),
    client_ip: event.clientIp ?? null,
    opt_platform: event.optPlatform ?? null,
    payload: event.payload,
  });
}

/** A running forwarder: one HTTP client (keep-alive pool) and a cap on requests in flight. */
class Forwarder implements Handler {
  #options: WebhookForwarderOptions;
  #logger: PluginLogger;
  #client: Deno.HttpClient;
  /** The endpoint without credentials and query, safe for messages and logs. */
  #where: string;
  /** What a message must never show, longest first: see {@linkcode secretsOf}. */
  #secrets: string[];
  #closing = new AbortController();
  #active = 0;
  #waiters: (() => void)[] = [];
  #inFlight = new Set<Promise<unknown>>();

  constructor(options: WebhookForwarderOptions, logger: PluginLogger) {
    this.#options = options;
    this.#logger = logger;
    this.#client = Deno.createHttpClient({});
    const url = new URL(options.url);
    this.#where = url.origin + url.pathname;
    this.#secrets = secretsOf(options);
  }

  async handle(event: CallbackEvent, signal: AbortSignal): Promise<void> {
    if (this.#closing.signal.aborted) {
      throw new WebhookError(`Cannot POST to "${this.#where}": the forwarder is shutting down`);
    }
    const aborted = AbortSignal.any([signal, this.#closing.signal]);
    await this.#acquire(aborted);
    const post = this.#post(event, signal);
    this.#inFlight.add(post);
    try {
      await post;
    } finally {
      this.#inFlight.delete(post);
      this.#release();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled(this.#inFlight);
    this.#client.close();
  }

  /** Waits for a free request slot, or rejects when `signal` aborts first. */
  #acquire(signal: AbortSignal): Promise<void> {
    if (this.#active < this.#options.concurrency) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.splice(this.#waiters.indexOf(granted), 1);
        reject(this.#abortError(signal, false));
      };
      // The releasing request hands its slot over, so #active stays the same.
      const granted = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      if (signal.aborted) return onAbort();
      this.#waiters.push(granted);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#active--;
  }

  async #post(event: CallbackEvent, signal: AbortSignal): Promise<void> {
    const { url, body, sign } = this.#request(event);
    const headers = new Headers(this.#options.headers);
    headers.set("content-type", "application/json");
    headers.set("webhook-id", event.id);
    const { secret } = this.#options;
    if (secret !== undefined) {
      const timestamp = Math.floor(Date.now() / 1000);
      headers.set("webhook-timestamp", String(timestamp));
      headers.set("webhook-signature", signWebhook(secret, event.id, timestamp, body));
    }

    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.#options.timeoutMs);
    const aborted = AbortSignal.any([signal, this.#closing.signal, timeout.signal]);
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers,
          body,
          signal: aborted,
          client: this.#client,
          redirect: "manual",
        });
      } catch (error) {
        if (aborted.aborted) throw this.#abortError(signal, timeout.signal.aborted);
        throw new WebhookError(
          `Cannot POST to "${this.#where}": ${
            errorChain(error, { redact: (text) => this.#scrub(text, url, sign) })
          }`,
        );
      }
      const answer = await drain(response, !response.ok);
      if (response.ok) return;
      throw this.#failure(response, snippet(this.#scrub(answer, url, sign)));
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The request URL and body for the configured format, and the `Sign` it carries (kept out of
   * messages with the configured secrets).
   */
  #request(event: CallbackEvent): { url: string; body: string; sign?: string } {
    const url = new URL(this.#options.url);
    if (this.#options.format === "envelope") {
      return { url: url.href, body: envelopeBody(event) };
    }
    const query = url.searchParams;
    query.set("SdkAppid", event.sdkAppId);
    query.set("CallbackCommand", event.command);
    query.set("contenttype", "json");
    if (event.clientIp !== undefined) query.set("ClientIP", event.clientIp);
    if (event.optPlatform !== undefined) query.set("OptPlatform", event.optPlatform);
    if (this.#options.token !== undefined) {
      const requestTime = String(Math.floor(Date.now() / 1000));
      const sign = tencentSign(this.#options.token, requestTime);
      query.set("RequestTime", requestTime);
      query.set("Sign", sign);
      return { url: url.href, body: event.rawBody, sign };
    }
    return { url: url.href, body: event.rawBody };
  }

  /**
   * `text` (an error or what the endpoint answered, which may echo the request) without the
   * request URL, the configured secrets and the request's `Sign`.
   */
  #scrub(text: string, url: string, sign: string | undefined): string {
    let result = text.replaceAll(url, this.#where);
    for (const secret of this.#secrets) result = result.replaceAll(secret, REDACTED);
    return sign === undefined ? result : result.replaceAll(sign, REDACTED);
  }

  #failure(response: Response, snippet: string): WebhookError {
    const { status } = response;
    const message = `POST to "${this.#where}" answered ${status}${snippet ? `: ${snippet}` : ""}`;
    if (status >= 300 && status < 400) {
      return new WebhookError(`${message} (redirects are not followed)`, {
        status,
        permanent: true,
      });
    }
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
      if (retryAfterMs === undefined) return new WebhookError(message, { status });
      return new WebhookError(message, { status, retryAfterMs });
    }
    return new WebhookError(message, { status, permanent: true });
  }

  #abortError(signal: AbortSignal, timedOut: boolean): WebhookError {
    if (timedOut) {
      return new WebhookError(
        `POST to "${this.#where}" timed out after ${this.#options.timeoutMs}ms`,
      );
    }
    if (this.#closing.signal.aborted) {
      return new WebhookError(`POST to "${this.#where}" aborted: the forwarder is shutting down`);
    }
    this.#logger.debug("POST to {where} aborted by the delivery engine", { where: this.#where });
    const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
    return new WebhookError(`POST to "${this.#where}" aborted: ${reason}`);
  }
}

/**
 * `Retry-After` (seconds or an HTTP date) in ms from `now`; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Everything of the options that must stay out of logs and stored errors, longest first (so a
 * secret that contains another is replaced whole): the signing secret and token, the URL's
 * password and its Basic credentials, every query value and every header value (with the
 * credentials after an `Authorization` scheme on their own), raw and percent-encoded. Values
 * under 4 characters (`v=1`) are left: replacing them would garble messages, not hide secrets.
 */
function secretsOf(options: WebhookForwarderOptions): string[] {
  const url = new URL(options.url);
  const values: string[] = [];
  const add = (value: string | undefined): void => {
    if (value === undefined) return;
    values.push(value, encodeURIComponent(value));
  };
  add(options.secret);
  add(options.token);
  if (url.password !== "") {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    add(password);
    add(`${user}:${password}`);
    add(btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`))));
  }
  for (const value of url.searchParams.values()) add(value);
  for (const value of Object.values(options.headers)) {
    add(value);
    add(/^[A-Za-z][\w-]*\s+(\S.*)$/.exec(value)?.[1]);
  }
  return [...new Set(values.filter((value) => value.length >= 4))]
    .sort((a, b) => b.length - a.length);
}

/**
 * Reads the answer body so its connection can be reused (cancelling past a cap); returns its
 * start as text when `keep` is set. Never throws: the status already said what happened.
 */
async function drain(response: Response, keep: boolean): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (keep && text.length < KEPT_CHARS) text += decoder.decode(value, { stream: true });
      if (total > MAX_DRAIN_BYTES) {
        await reader.cancel();
        break;
      }
    }
  } catch {
    await reader.cancel().catch(() => {});
  } finally {
    reader.releaseLock();
  }
  return text.slice(0, KEPT_CHARS);
}

/**
 * The start of an answer for a message, on one line. Cut after scrubbing, so that a secret
 * the endpoint echoed is never cut in two with its start shown.
 */
function snippet(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > SNIPPET_CHARS ? `${line.slice(0, SNIPPET_CHARS)}...` : line;
}
