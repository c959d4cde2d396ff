/**
 * An error as it is logged and stored (a dead letter's last error): its message and the
 * messages of its causes, bounded, with the credentials and query values of URLs masked.
 *
 * @module
 */
import { describeError } from "../describe_error.ts";

/** Bounds of {@linkcode errorChain}. */
export interface ErrorChainOptions {
  /** Causes followed after the error itself. Default 4. */
  maxCauses?: number;
  /** Characters of the whole text, cut with `…` past it. Default 2000. */
  maxChars?: number;
  /** Applied to the text before URLs are masked (to replace what the caller knows secret). */
  redact?: (text: string) => string;
}

/**
 * `TypeError: fetch failed; caused by error sending request for url (...)`: each error as
 * `Name: message` (a plain `Error` without its name), its causes after `; caused by `,
 * following `cause` (at most `maxCauses`, so a cycle ends); URLs in it keep their host and
 * path but not their password or query values (`https://***@host/p?key=***`).
 */
export function errorChain(error: unknown, options: ErrorChainOptions = {}): string {
  const maxChars = options.maxChars ?? 2000;
  // describeError never throws, whatever was thrown (a null-prototype object, a Proxy).
  const joined = describeError(error, {
    maxCauses: options.maxCauses ?? 4,
    maxLength: 2 * maxChars,
  });
  const text = maskUrls(options.redact ? options.redact(joined) : joined);
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}

/** Masks the password and the query values of every URL in `text`. */
export function maskUrls(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>()]+/gi, (url) =>
    url
      .replace(/^([^:]+:\/\/)[^/?#@]*@/, "$1***@")
      .replace(/([?&][^=&#]*=)[^&#]*/g, "$1***"));
}
