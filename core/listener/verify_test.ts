import assert from "node:assert/strict";
import { computeSign, constantTimeEqual, type VerifiedApp, verifyRequest } from "./verify.ts";

const DOC_SIGN = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";

function appsOf(...apps: VerifiedApp[]): Map<string, VerifiedApp> {
  return new Map(apps.map((app) => [app.sdkAppId, app]));
}

const signed = appsOf({ sdkAppId: "1400000000", token: "xxxxyyyy", maxSkewMs: 60_000 });
const docNow = 1669872112 * 1000;

Deno.test("verify: the documented example signs as Tencent says", () => {
  assert.equal(computeSign("xxxxyyyy", "1669872112"), DOC_SIGN);
  assert.equal(computeSign("xxxxyyyy", 1669872112), DOC_SIGN);
});

Deno.test("verify: the documented example is accepted within max_skew", () => {
  const result = verifyRequest(
    signed,
    { sdkAppId: "1400000000", sign: DOC_SIGN, requestTime: "1669872112" },
    docNow + 59_000,
  );
  assert.equal(result.ok, true);
});

Deno.test("verify: an uppercase Sign is accepted", () => {
  const result = verifyRequest(
    signed,
    { sdkAppId: "1400000000", sign: DOC_SIGN.toUpperCase(), requestTime: "1669872112" },
    docNow,
  );
  assert.equal(result.ok, true);
});

Deno.test("verify: an unknown or missing SdkAppid is 403", () => {
  const unknown = verifyRequest(
    signed,
    { sdkAppId: "1", sign: DOC_SIGN, requestTime: "1669872112" },
    docNow,
  );
  assert.deepEqual(unknown, {
    ok: false,
    status: 403,
    reason: "unknown_app",
    message: 'SdkAppid "1" is not a configured app',
  });
  const missing = verifyRequest(
    signed,
    { sdkAppId: undefined, sign: DOC_SIGN, requestTime: "1669872112" },
    docNow,
  );
  assert.equal(missing.ok === false && missing.message, "SdkAppid is missing");
});

Deno.test("verify: a wrong, truncated or missing Sign is 401 and never echoed", () => {
  for (const sign of [DOC_SIGN.replace("1", "2"), DOC_SIGN.slice(0, 10), ""]) {
    const result = verifyRequest(
      signed,
      { sdkAppId: "1400000000", sign, requestTime: "1669872112" },
      docNow,
    );
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.status, 401);
      assert.equal(result.reason, "bad_sign");
      assert.equal(result.message, "Sign does not match");
    }
  }
  const missing = verifyRequest(
    signed,
    { sdkAppId: "1400000000", sign: undefined, requestTime: "1669872112" },
    docNow,
  );
  assert.equal(missing.ok === false && missing.reason, "missing_sign");
});

Deno.test("verify: RequestTime outside max_skew is 401 in both directions", () => {
  for (const now of [docNow + 61_000, docNow - 61_000]) {
    const result = verifyRequest(
      signed,
      { sdkAppId: "1400000000", sign: DOC_SIGN, requestTime: "1669872112" },
      now,
    );
    assert.equal(result.ok === false && result.reason, "skew");
    assert.equal(
      result.ok === false && result.message,
      "RequestTime 1669872112 is 61s from now, over max_skew 60s",
    );
  }
});

Deno.test("verify: a RequestTime that is not digits is 401", () => {
  const result = verifyRequest(
    signed,
    { sdkAppId: "1400000000", sign: DOC_SIGN, requestTime: "16698e9" },
    docNow,
  );
  assert.equal(result.ok === false && result.reason, "bad_request_time");
});

Deno.test("verify: an app without token skips the Sign check", () => {
  const open = appsOf({ sdkAppId: "1400000000", maxSkewMs: 60_000 });
  const result = verifyRequest(
    open,
    { sdkAppId: "1400000000", sign: undefined, requestTime: undefined },
    docNow,
  );
  assert.equal(result.ok, true);
});

Deno.test("verify: constantTimeEqual compares whole strings", () => {
  assert.equal(constantTimeEqual("abc", "abc"), true);
  assert.equal(constantTimeEqual("abc", "abd"), false);
  assert.equal(constantTimeEqual("abc", "ab"), false);
});

Deno.test("verify: the Sign is checked for each RequestTime and app, however they alternate", () => {
  const other: VerifiedApp = { sdkAppId: "1400000001", token: "zzzz", maxSkewMs: 60_000 };
  const apps = appsOf(signed.get("1400000000")!, other);
  const check = (sdkAppId: string, sign: string, requestTime: string) =>
    verifyRequest(apps, { sdkAppId, sign, requestTime }, Number(requestTime) * 1000).ok;
  const otherSign = computeSign("zzzz", "1669872112");
  const later = computeSign("xxxxyyyy", "1669872113");
  for (let round = 0; round < 2; round++) {
    assert.equal(check("1400000000", DOC_SIGN, "1669872112"), true);
    assert.equal(check("1400000000", DOC_SIGN, "1669872113"), false);
    assert.equal(check("1400000000", later, "1669872113"), true);
    assert.equal(check("1400000001", DOC_SIGN, "1669872112"), false);
    assert.equal(check("1400000001", otherSign, "1669872112"), true);
    assert.equal(check("1400000000", otherSign, "1669872112"), false);
  }
});

Deno.test("verify: a reloaded app with a new token takes effect at once", () => {
  const before = appsOf({ sdkAppId: "1400000000", token: "xxxxyyyy", maxSkewMs: 60_000 });
  const after = appsOf({ sdkAppId: "1400000000", token: "rotated", maxSkewMs: 60_000 });
  const query = { sdkAppId: "1400000000", sign: DOC_SIGN, requestTime: "1669872112" };
  assert.equal(verifyRequest(before, query, docNow).ok, true);
  assert.equal(verifyRequest(after, query, docNow).ok, false);
});

Deno.test("verify: constantTimeEqual tells apart strings of any length and content", () => {
  assert.equal(constantTimeEqual("", ""), true);
  assert.equal(constantTimeEqual("", "a"), false);
  assert.equal(constantTimeEqual("ab", "abc"), false);
  assert.equal(constantTimeEqual("abc", "ab"), false);
  assert.equal(constantTimeEqual("aé", "aé"), true);
  assert.equal(constantTimeEqual("aé", "ae"), false);
  assert.equal(constantTimeEqual(DOC_SIGN, DOC_SIGN.toUpperCase()), false);
});
