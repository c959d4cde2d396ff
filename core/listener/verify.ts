/**
 * Authentication of Tencent IM callbacks: the `SdkAppid` must be a configured app, and
 * where the app has a token, `Sign` = hex(SHA-256(token + RequestTime)) within `max_skew`.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** One app this daemon accepts callbacks for. */
export interface VerifiedApp {
  sdkAppId: string;
  token?: string;
  maxSkewMs: number;
}

/** Why a request failed verification; also the `reason` label of the failure metric. */
export type VerifyFailure =
  | "unknown_app"
  | "missing_sign"
  | "bad_sign"
  | "bad_request_time"
  | "skew";

/** The outcome of {@linkcode verifyRequest}. */
export type VerifyResult =
  | { ok: true; app: VerifiedApp }
  | { ok: false; status: 401 | 403; reason: VerifyFailure; message: string };

/** The `Sign` Tencent computes: lowercase hex SHA-256 of `token + requestTime`. */
export function computeSign(token: string, requestTime: string | number): string {
  return createHash("sha256").update(`${token}${requestTime}`, "utf8").digest("hex");
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  // On a length mismatch, still walk `a` so the time does not reveal a matching prefix.
  const other = a.length === b.length ? b : a;
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ other.charCodeAt(i);
  return diff === 0;
}

/**
 * The last expected `Sign` of each app: `RequestTime` changes once a second, so most
 * requests reuse it instead of hashing again. Kept per app object, so a reload starts afresh.
 */
const lastSigns = new WeakMap<VerifiedApp, { token: string; requestTime: string; sign: string }>();

function expectedSign(app: VerifiedApp, token: string, requestTime: string): string {
  const last = lastSigns.get(app);
  if (last !== undefined && last.requestTime === requestTime && last.token === token) {
    return last.sign;
  }
  const sign = computeSign(token, requestTime);
  lastSigns.set(app, { token, requestTime, sign });
  return sign;
}

/**
 * Checks a request's query parameters against the configured apps. The returned message
 * never contains the token or the `Sign`.
 */
export function verifyRequest(
  apps: ReadonlyMap<string, VerifiedApp>,
  query: {
    sdkAppId: string | undefined;
    sign: string | undefined;
    requestTime: string | undefined;
  },
  nowMs: number,
): VerifyResult {
  const app = query.sdkAppId === undefined ? undefined : apps.get(query.sdkAppId);
  if (app === undefined) {
    return {
      ok: false,
      status: 403,
      reason: "unknown_app",
      message: query.sdkAppId === undefined
        ? "SdkAppid is missing"
        : `SdkAppid "${truncate(query.sdkAppId)}" is not a configured app`,
    };
  }
  if (app.token === undefined) return { ok: true, app };
  if (query.sign === undefined || query.requestTime === undefined) {
    return {
      ok: false,
      status: 401,
      reason: "missing_sign",
      message: query.sign === undefined ? "Sign is missing" : "RequestTime is missing",
    };
  }
  if (!/^\d{1,12}$/.test(query.requestTime)) {
    return {
      ok: false,
      status: 401,
      reason: "bad_request_time",
      message: `RequestTime "${truncate(query.requestTime)}" is not Unix seconds`,
    };
  }
  // Check the signature before the clock, so a forged request learns nothing about skew.
  const expected = expectedSign(app, app.token, query.requestTime);
  if (!constantTimeEqual(expected, query.sign.toLowerCase())) {
    return { ok: false, status: 401, reason: "bad_sign", message: "Sign does not match" };
  }
  const skewMs = Math.abs(nowMs - Number(query.requestTime) * 1000);
  if (skewMs > app.maxSkewMs) {
    return {
      ok: false,
      status: 401,
      reason: "skew",
      message: `RequestTime ${query.requestTime} is ${
        Math.round(skewMs / 1000)
      }s from now, over max_skew ${app.maxSkewMs / 1000}s`,
    };
  }
  return { ok: true, app };
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
