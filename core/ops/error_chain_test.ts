import assert from "node:assert/strict";
import { errorChain, maskUrls } from "./error_chain.ts";

Deno.test("errorChain: an error with its causes, plain Errors without their name", () => {
  const root = new Error("connect ECONNREFUSED 10.0.0.1:443");
  const fetchError = new TypeError("fetch failed", { cause: root });
  assert.equal(
    errorChain(new Error("cannot notify ops", { cause: fetchError })),
    "cannot notify ops; caused by TypeError: fetch failed; caused by connect ECONNREFUSED 10.0.0.1:443",
  );
  assert.equal(errorChain("a string"), "a string");
  assert.equal(errorChain({ code: 7 }), '{"code":7}');
  assert.equal(errorChain(new RangeError("x", { cause: "why" })), "RangeError: x; caused by why");
});

Deno.test("errorChain: bounded in causes (so a cycle ends) and in length", () => {
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  a.cause = b;
  // A cause seen already ends the chain.
  assert.equal(errorChain(a, { maxCauses: 3 }), "a; caused by b");
  let deep = new Error("e0");
  for (let i = 1; i <= 6; i++) deep = new Error(`e${i}`, { cause: deep });
  assert.equal(
    errorChain(deep, { maxCauses: 3 }),
    "e6; caused by e5; caused by e4; caused by e3; caused by …",
  );
  const long = errorChain(new Error("x".repeat(5000)));
  assert.equal(long.length, 2001);
  assert.ok(long.endsWith("x…"));
});

Deno.test("errorChain: URLs keep host and path, not credentials or query values", () => {
  const cause = new Error(
    "error sending request for url (https://ops:pa55@hooks.example.com/im?key=s3cret&x=1): refused",
  );
  assert.equal(
    errorChain(new TypeError("fetch failed", { cause })),
    "TypeError: fetch failed; caused by error sending request for url (https://***@hooks.example.com/im?key=***&x=***): refused",
  );
  assert.equal(
    maskUrls("see http://h/p and wss://u@h/q?a=b"),
    "see http://h/p and wss://***@h/q?a=***",
  );
  assert.equal(
    errorChain(new Error("token abc123 at http://h/?t=abc123"), {
      redact: (text) => text.replaceAll("abc123", "[redacted]"),
    }),
    "token [redacted] at http://h/?t=***",
  );
});
