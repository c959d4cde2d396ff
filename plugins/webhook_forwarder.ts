/**
 * `builtin:webhook_forwarder`: POSTs each callback to an HTTP(S) endpoint, either as Tencent sent
 * it (optionally re-signed with the receiver's token) or as a JSON envelope, signed per the
 * Standard Webhooks spec when a secret is set. Keep-alive connections are reused.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Logger } from "@logtape/logtape";
import { Webhook } from "standardwebhooks";
import type {
  CallbackEvent,
  DeliveryErrorFields,
  Plugin,
  PluginContext,
  PluginInstance,
} from "../plugin.ts";
import { parseDuration } from "../core/config/units.ts";
import { isRecord, rejectUnknownKeys, show } from "./_options.ts";

/** The parsed options of `builtin:webhook_forwarder`. */
export interface WebhookForwarderOptions {
  /** The endpoint, an absolute http: or https: URL. */
  url: string;
  /** `tencent`: the original body and query; `envelope`: imhookd's JSON envelope. */
  format: "tencent" | "envelope";
  /** Extra request headers. */
  headers: Record<string, string>;
  /** Time allowed for one request, answer body included, in ms (default 10 s). */
  timeoutMs: number;
  /** Standard Webhooks signing secret (`whsec_` + base64). */
  secret?: string;
  /** Token for re-signing `tencent` requests with a fresh `RequestTime` and `Sign`. */
  token?: string;
  /** Requests in flight at once from this plugin instance (default 8). */
  concurrency: number;
}

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

const OPTION_KEYS = ["url", "format", "headers", "timeout", "secret", "token", "concurrency"];
const RESERVED_HEADERS = [
  "content-type",
  "content-length",
  "host",
  "transfer-encoding",
  "connection",
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
];
const DEFAULT_TIMEOUT = "10s";
const DEFAULT_CONCURRENCY = 8;
/** setTimeout's limit. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Answer bytes read (so the connection can be reused) before giving up on the connection. */
const MAX_DRAIN_BYTES = 64 * 1024;
const SNIPPET_CHARS = 200;

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
  create(options: WebhookForwarderOptions, ctx: PluginContext): PluginInstance {
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

function parseWebhookForwarderOptions(raw: unknown): WebhookForwarderOptions {
  const options = raw ?? {};
  if (!isRecord(options)) throw new TypeError(`options: expected a mapping, got ${show(raw)}`);
  rejectUnknownKeys(options, OPTION_KEYS, "options");

  const url = parseUrl(options.url);

  const format = options.format ?? "tencent";
  if (format !== "tencent" && format !== "envelope") {
    throw new RangeError(`options.format: expected "tencent" or "envelope", got ${show(format)}`);
  }

  const headers = parseHeaders(options.headers ?? {});

  const rawTimeout = options.timeout ?? DEFAULT_TIMEOUT;
  let timeoutMs: number;
  try {
    if (typeof rawTimeout !== "string" && typeof rawTimeout !== "number") throw new TypeError();
    timeoutMs = parseDuration(rawTimeout);
  } catch {
    throw new RangeError(
      `options.timeout: expected a duration such as 500ms, 10s or 2m, got ${show(rawTimeout)}`,
    );
  }
  if (timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new RangeError(
      `options.timeout: expected a duration above 0 and below 24 days, got ${show(rawTimeout)}`,
    );
  }

  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (typeof concurrency !== "number") {
    throw new TypeError(`options.concurrency: expected an integer >= 1, got ${show(concurrency)}`);
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`options.concurrency: expected an integer >= 1, got ${show(concurrency)}`);
  }

  const parsed: WebhookForwarderOptions = { url, format, headers, timeoutMs, concurrency };

  // Secret values never appear in these messages.
  if (options.secret !== undefined) {
    const secret = options.secret;
    if (typeof secret !== "string" || !secret.startsWith("whsec_") || !isValidSecret(secret)) {
      throw new TypeError(
        `options.secret: expected "whsec_" followed by a base64 key (the Standard Webhooks format)`,
      );
    }
    parsed.secret = secret;
  }
  if (options.token !== undefined) {
    const token = options.token;
    if (typeof token !== "string" || token === "") {
      throw new TypeError(`options.token: expected a non-empty string`);
    }
    if (format !== "tencent") {
      throw new RangeError(`options.token: only used with format "tencent", not "${format}"`);
    }
    parsed.token = token;
  }
  return parsed;
}

function parseUrl(raw: unknown): string {
  if (raw === undefined) {
    throw new TypeError(`options.url: required, e.g. https://example.com/hook`);
  }
  if (typeof raw !== "string") {
    throw new TypeError(`options.url: expected an http or https URL, got ${show(raw)}`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`options.url: expected an absolute http or https URL, got ${show(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`options.url: expected an http or https URL, got ${show(raw)}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new RangeError(
      `options.url: credentials in the URL are not supported; send them with options.headers`,
    );
  }
  return url.href;
}

function parseHeaders(raw: unknown): Record<string, string> {
  if (!isRecord(raw)) {
    throw new TypeError(
      `options.headers: expected a mapping of header names to values, got ${show(raw)}`,
    );
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== "string" && typeof value !== "number") {
      throw new TypeError(`options.headers.${name}: expected a string value`);
    }
    if (RESERVED_HEADERS.includes(name.toLowerCase())) {
      throw new RangeError(`options.headers.${name}: this header is set by the plugin`);
    }
    try {
      new Headers([[name, String(value)]]);
    } catch {
      // The value may be a credential: name only the key.
      throw new RangeError(`options.headers.${name}: not a valid header name and value`);
    }
    headers[name] = String(value);
  }
  return headers;
}

function isValidSecret(secret: string): boolean {
  try {
    new Webhook(secret);
    return true;
  } catch {
    return false;
  }
}

/** A running forwarder: one HTTP client (keep-alive pool) and a cap on requests in flight. */
class Forwarder implements PluginInstance {
  #options: WebhookForwarderOptions;
  #logger: Logger;
  #client: Deno.HttpClient;
  /** The endpoint without query, safe for messages and logs. */
  #where: string;
  #closing = new AbortController();
  #active = 0;
  #waiters: (() => void)[] = [];
  #inFlight = new Set<Promise<unknown>>();

  constructor(options: WebhookForwarderOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#client = Deno.createHttpClient({});
    const url = new URL(options.url);
    this.#where = url.origin + url.pathname;
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
    const { url, body, secrets } = this.#request(event);
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
          `Cannot POST to "${this.#where}": ${scrub(errorText(error), url, secrets, this.#where)}`,
        );
      }
      const snippet = await drain(response, !response.ok);
      if (response.ok) return;
      throw this.#failure(response, scrub(snippet, url, secrets, this.#where));
    } finally {
      clearTimeout(timer);
    }
  }

  /** The request URL and body for the configured format; `secrets` must stay out of messages. */
  #request(event: CallbackEvent): { url: string; body: string; secrets: string[] } {
    const url = new URL(this.#options.url);
    const secrets = [this.#options.secret, this.#options.token].filter((s) => s !== undefined);
    if (this.#options.format === "envelope") {
      return { url: url.href, body: envelopeBody(event), secrets };
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
      secrets.push(sign);
    }
    return { url: url.href, body: event.rawBody, secrets };
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
    return new WebhookError(`POST to "${this.#where}" aborted: ${errorText(signal.reason)}`);
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
      if (keep && text.length < SNIPPET_CHARS) text += decoder.decode(value, { stream: true });
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
  const snippet = text.replace(/\s+/g, " ").trim();
  return snippet.length > SNIPPET_CHARS ? `${snippet.slice(0, SNIPPET_CHARS)}...` : snippet;
}

/** The message of `error` and of its causes, e.g. "fetch failed: ... Connection refused". */
function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let cause = error; cause !== undefined && parts.length < 4;) {
    parts.push(cause instanceof Error ? cause.message : String(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return parts.join(": ");
}

/** Removes the request URL (it may carry `Sign`) and secret values from a message. */
function scrub(text: string, url: string, secrets: string[], where: string): string {
  let result = text.replaceAll(url, where);
  for (const secret of secrets) result = result.replaceAll(secret, "[redacted]");
  return result;
}
