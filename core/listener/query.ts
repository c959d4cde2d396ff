/**
 * The request target of a callback: its path and the query parameters the handler reads.
 * A plain target (the usual one) is read in one pass, without the cost of `new URL`; anything
 * unusual is left to the URL parser, and both give the same.
 *
 * @module
 */

/** Each must appear at most once, checked in this order. */
const SINGLE_PARAMS = ["SdkAppid", "CallbackCommand", "RequestTime", "Sign"] as const;

/** The query parameters the handler reads, as `URLSearchParams.get` would give them. */
export interface CallbackQuery {
  sdkAppId: string | undefined;
  command: string | undefined;
  requestTime: string | undefined;
  sign: string | undefined;
  clientIp: string | undefined;
  optPlatform: string | undefined;
  /** The first of `SdkAppid`, `CallbackCommand`, `RequestTime`, `Sign` given more than once. */
  repeated: string | undefined;
  /** The query string without its `?`, for the quarantine. */
  search: string;
}

const AMPERSAND = 0x26;
const EQUALS = 0x3d;
const PLUS = 0x2b;
const PERCENT = 0x25;

/** Whether `new URL` keeps `path` as it is, so that a raw path equal to it is that path. */
export function isPlainPath(path: string): boolean {
  try {
    return new URL(`http://host${path}`).pathname === path;
  } catch {
    return false;
  }
}

/**
 * Splits an `http(s)://authority/path?query#fragment` URL at the places the URL parser
 * would. Returns undefined when it does not start that way (the caller asks `new URL`).
 */
export function splitUrl(
  url: string,
): { origin: string; path: string; search: string } | undefined {
  const authority = url.startsWith("http://") ? 7 : url.startsWith("https://") ? 8 : -1;
  if (authority < 0) return undefined;
  let i = authority;
  for (; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x2f /* / */) break;
    // The URL parser also ends the authority at these, and drops tabs and newlines.
    if (c === 0x3f || c === 0x23 || c === 0x5c || c < 0x21 || c > 0x7e) return undefined;
  }
  if (i === authority || i === url.length) return undefined;
  const hash = url.indexOf("#", i);
  const end = hash < 0 ? url.length : hash;
  const question = url.indexOf("?", i);
  if (question < 0 || question > end) {
    return { origin: url.slice(0, i), path: url.slice(i, end), search: "" };
  }
  return {
    origin: url.slice(0, i),
    path: url.slice(i, question),
    search: url.slice(question + 1, end),
  };
}

/**
 * Reads a query string (without `?`) in one pass, giving what `URLSearchParams.get` would.
 * Returns undefined when it holds a character outside printable ASCII, which the URL parser
 * would first rewrite (the caller asks `new URL`).
 */
export function parseQuery(search: string): CallbackQuery | undefined {
  const query: CallbackQuery = {
    sdkAppId: undefined,
    command: undefined,
    requestTime: undefined,
    sign: undefined,
    clientIp: undefined,
    optPlatform: undefined,
    repeated: undefined,
    search,
  };
  let repeated = 0; // a bit per SINGLE_PARAMS entry
  let start = 0;
  let equals = -1;
  let escapedName = false;
  let escapedValue = false;
  for (let i = 0; i <= search.length; i++) {
    const c = i < search.length ? search.charCodeAt(i) : AMPERSAND;
    if (c === AMPERSAND) {
      if (i > start) {
        const nameEnd = equals < 0 ? i : equals;
        const raw = search.slice(start, nameEnd);
        const name = escapedName ? decodeComponent(raw) : raw;
        switch (name) {
          case "SdkAppid":
            if (query.sdkAppId === undefined) {
              query.sdkAppId = valueOf(search, equals, i, escapedValue);
            } else repeated |= 1;
            break;
          case "CallbackCommand":
            if (query.command === undefined) {
              query.command = valueOf(search, equals, i, escapedValue);
            } else repeated |= 2;
            break;
          case "RequestTime":
            if (query.requestTime === undefined) {
              query.requestTime = valueOf(search, equals, i, escapedValue);
            } else repeated |= 4;
            break;
          case "Sign":
            if (query.sign === undefined) {
              query.sign = valueOf(search, equals, i, escapedValue);
            } else repeated |= 8;
            break;
          case "ClientIP":
            query.clientIp ??= valueOf(search, equals, i, escapedValue);
            break;
          case "OptPlatform":
            query.optPlatform ??= valueOf(search, equals, i, escapedValue);
            break;
        }
      }
      start = i + 1;
      equals = -1;
      escapedName = false;
      escapedValue = false;
    } else if (c < 0x21 || c > 0x7e) {
      return undefined;
    } else if (c === EQUALS) {
      if (equals < 0) equals = i;
    } else if (c === PLUS || c === PERCENT) {
      if (equals < 0) escapedName = true;
      else escapedValue = true;
    }
  }
  if (repeated !== 0) query.repeated = SINGLE_PARAMS.find((_, bit) => repeated & (1 << bit));
  return query;
}

/** The value of a name=value pair whose `=` is at `equals` (-1 when there is none). */
function valueOf(search: string, equals: number, end: number, escaped: boolean): string {
  if (equals < 0) return "";
  const text = search.slice(equals + 1, end);
  return escaped ? decodeComponent(text) : text;
}

/** Decodes one name or value of a query as `URLSearchParams` does. */
function decodeComponent(text: string): string {
  const spaced = text.replaceAll("+", " ");
  if (!spaced.includes("%")) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    // A stray `%` or bytes that are not UTF-8: URLSearchParams keeps or replaces them.
    return new URLSearchParams(`x=${text}`).get("x")!;
  }
}

/** The query as `URLSearchParams` reads it (for a target the one-pass reader leaves). */
export function queryFromParams(params: URLSearchParams, search: string): CallbackQuery {
  return {
    sdkAppId: params.get("SdkAppid") ?? undefined,
    command: params.get("CallbackCommand") ?? undefined,
    requestTime: params.get("RequestTime") ?? undefined,
    sign: params.get("Sign") ?? undefined,
    clientIp: params.get("ClientIP") ?? undefined,
    optPlatform: params.get("OptPlatform") ?? undefined,
    repeated: SINGLE_PARAMS.find((name) => params.getAll(name).length > 1),
    search,
  };
}

/** The query `search` (without `?`) with its `Sign` removed, for the quarantine. */
export function queryWithoutSign(search: string): string {
  const copy = new URLSearchParams(`?${search}`); // the constructor drops one leading "?"
  copy.delete("Sign");
  return copy.toString();
}
