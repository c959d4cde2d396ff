/**
 * The options of `builtin:webhook_forwarder`: their parsed shape and how the raw config entry
 * is checked, every bad option reported at once, secret values never shown.
 *
 * @module
 */
import { Webhook } from "standardwebhooks";
import { parseDuration } from "../core/config/units.ts";
import { maskUrls } from "../core/ops/error_chain.ts";
import { isRecord, OptionErrors, show } from "./_options.ts";

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

/**
 * Checks the raw `options` of a `builtin:webhook_forwarder` entry; throws a TypeError or
 * RangeError starting with the key path, or an AggregateError of them when several are bad.
 */
export function parseWebhookForwarderOptions(raw: unknown): WebhookForwarderOptions {
  const options = raw ?? {};
  if (!isRecord(options)) throw new TypeError(`options: expected a mapping, got ${show(raw)}`);
  const errors = new OptionErrors();
  errors.unknownKeys(options, OPTION_KEYS, "options");

  const url = errors.check(() => parseUrl(options.url));

  const format = errors.check(() => {
    const format = options.format ?? "tencent";
    if (format !== "tencent" && format !== "envelope") {
      throw new RangeError(`options.format: expected "tencent" or "envelope", got ${show(format)}`);
    }
    return format;
  });

  const headers = parseHeaders(options.headers ?? {}, errors);
  errors.check(() => {
    const { username, password } = url === undefined
      ? { username: "", password: "" }
      : new URL(url);
    if (
      (username !== "" || password !== "") &&
      Object.keys(headers).some((name) => name.toLowerCase() === "authorization")
    ) {
      throw new RangeError(
        `options.headers.Authorization: the URL has credentials too; keep one of them`,
      );
    }
  });

  const timeoutMs = errors.check(() => {
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
    return timeoutMs;
  });

  const concurrency = errors.check(() => {
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (typeof concurrency !== "number") {
      throw new TypeError(
        `options.concurrency: expected an integer >= 1, got ${show(concurrency)}`,
      );
    }
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new RangeError(
        `options.concurrency: expected an integer >= 1, got ${show(concurrency)}`,
      );
    }
    return concurrency;
  });

  // Secret values never appear in these messages.
  const secret = errors.check(() => {
    const secret = options.secret;
    if (secret === undefined) return undefined;
    if (typeof secret !== "string" || !secret.startsWith("whsec_") || !isValidSecret(secret)) {
      throw new TypeError(
        `options.secret: expected "whsec_" followed by a base64 key (the Standard Webhooks format)`,
      );
    }
    return secret;
  });
  const token = errors.check(() => {
    const token = options.token;
    if (token === undefined) return undefined;
    if (typeof token !== "string" || token === "") {
      throw new TypeError(`options.token: expected a non-empty string`);
    }
    if (format === "envelope") {
      throw new RangeError(`options.token: only used with format "tencent", not "${format}"`);
    }
    return token;
  });
  errors.throwIfAny();
  const parsed: WebhookForwarderOptions = {
    url: url!,
    format: format!,
    headers,
    timeoutMs: timeoutMs!,
    concurrency: concurrency!,
  };
  if (secret !== undefined) parsed.secret = secret;
  if (token !== undefined) parsed.token = token;
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
    throw new TypeError(
      `options.url: expected an absolute http or https URL, got ${show(maskUrls(raw))}`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`options.url: expected an http or https URL, got ${show(maskUrls(raw))}`);
  }
  return url.href;
}

/** `options.headers`, its problems kept in `errors` (the bad headers left out). */
function parseHeaders(raw: unknown, errors: OptionErrors): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!isRecord(raw)) {
    errors.check(() => {
      // Not shown: the values may be credentials.
      throw new TypeError(
        `options.headers: expected a mapping of header names to values, got ${
          Array.isArray(raw) ? "a list" : typeof raw
        }`,
      );
    });
    return headers;
  }
  for (const [name, value] of Object.entries(raw)) {
    errors.check(() => {
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
    });
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
