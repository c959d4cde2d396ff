import assert from "node:assert/strict";
import { describeError } from "./describe_error.ts";

Deno.test("describeError: an error's name and message, without the name of a plain Error", () => {
  assert.equal(describeError(new Error("boom")), "boom");
  assert.equal(describeError(new TypeError("bad shape")), "TypeError: bad shape");
  assert.equal(describeError(new Error("")), "(no message)");
});

Deno.test("describeError: the cause chain, which String(error) drops", () => {
  const refused = new Deno.errors.ConnectionRefused("Connection refused (os error 111)");
  const error = new TypeError("fetch failed", { cause: refused });
  assert.equal(
    describeError(error),
    "TypeError: fetch failed; caused by ConnectionRefused: Connection refused (os error 111)",
  );
  assert.equal(
    describeError(new Error("outer", { cause: "a string cause" })),
    "outer; caused by a string cause",
  );
});

Deno.test("describeError: a cycle of causes ends, and a long chain is cut", () => {
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  (a as { cause?: unknown }).cause = b;
  assert.equal(describeError(a), "a; caused by b");
  let deep: Error = new Error("e0");
  for (let i = 1; i <= 10; i++) deep = new Error(`e${i}`, { cause: deep });
  assert.equal(
    describeError(deep, { maxCauses: 2 }),
    "e10; caused by e9; caused by e8; caused by …",
  );
});

Deno.test("describeError: values that make String() throw still print", () => {
  const nullProto = Object.assign(Object.create(null), { code: 7 });
  assert.throws(() => String(nullProto), TypeError);
  assert.equal(describeError(nullProto), '{"code":7}');

  const throwingToString = {
    toString: () => {
      throw new RangeError("no");
    },
  };
  assert.equal(describeError(throwingToString), "{}");

  const trap = new Proxy({}, {
    get() {
      throw new Error("trap");
    },
    getPrototypeOf() {
      throw new Error("trap");
    },
    ownKeys() {
      throw new Error("trap");
    },
  });
  assert.match(describeError(trap), /^an object that cannot be printed/);

  const getter = Object.defineProperty(new Error("x"), "message", {
    get() {
      throw new Error("getter");
    },
  });
  assert.equal(typeof describeError(getter), "string");

  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  assert.match(describeError(proxy), /^an object that cannot be printed/);

  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.match(describeError(cyclic), /^an object that cannot be printed/);
});

Deno.test("describeError: primitives, null, undefined and error-like objects", () => {
  assert.equal(describeError(null), "null");
  assert.equal(describeError(undefined), "undefined");
  assert.equal(describeError(42), "42");
  assert.equal(describeError("plain text"), "plain text");
  assert.equal(describeError(Symbol("s")), "Symbol(s)");
  assert.equal(describeError({ name: "HttpError", message: "418" }), "HttpError: 418");
  assert.equal(
    describeError(new AggregateError([new Error("one"), "two"], "several")),
    "AggregateError: several [one; two]",
  );
});

Deno.test("describeError: one line, at most maxLength characters", () => {
  assert.equal(describeError(new Error("line 1\nline 2\r\n  line 3")), "line 1 line 2 line 3");
  const long = describeError(new Error("x".repeat(5000)), { maxLength: 100 });
  assert.equal(long.length, 100);
  assert.ok(long.endsWith("…"));
  const chain = describeError(
    new Error("a".repeat(80), { cause: new Error("b".repeat(80)) }),
    { maxLength: 100 },
  );
  assert.equal(chain.length, 100);
});
