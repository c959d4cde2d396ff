/**
 * Seeded fuzzing of the callback listener, end to end: one real `serve` process receives a
 * few thousand hostile requests (malformed, deeply nested and huge JSON, wrong field types,
 * binary garbage, missing and repeated query parameters, wrong and truncated `Sign`,
 * `RequestTime` far off, lying `Content-Length` over raw TCP, dripping and stalled bodies,
 * wrong methods and paths), with valid callbacks in between. Every answer must be the
 * contract's status with its JSON body — never a 5xx, a hang or a crash — and every valid
 * callback must be answered 200 and reach the plugin.
 *
 * Reproduce a failure with `FUZZ_SEED=<seed printed by fast-check> deno test ... tests/fuzz_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { computeSign } from "../core/listener/verify.ts";
import {
  APP,
  eventually,
  recordConfigPath,
  recorded,
  recorderConfig,
  serve,
  signedQuery,
  TOKEN,
  workspace,
} from "./_helpers.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261123);
const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? 2_500);
const COMMAND = "Group.CallbackAfterSendMsg";
const PATH = "/im/callback";
const MAX_BODY = 65_536;
/** The listener's body timeout (10 s), plus room for a loaded machine. */
const ANSWER_WITHIN_MS = 15_000;
const encoder = new TextEncoder();

/** One hostile (or valid) request and the status the contract requires for it. */
interface Case {
  kind: string;
  expect: number;
  /** Sent with fetch unless `raw` is set. */
  method?: string;
  path?: string;
  query?: [string, string][];
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  /** Bytes written as they are on a new TCP connection. */
  raw?: Uint8Array;
  /** Close our side after writing `raw`. */
  halfClose?: boolean;
  /**
   * Malformed HTTP framing that Deno's HTTP layer (hyper) refuses before the handler runs:
   * it answers a bare 400 without the JSON body, and closes.
   */
  framing?: boolean;
}

/** Every Sign put in a query, to check that none reaches the logs. */
const signs = new Set<string>();
let nextSeq = 1;
/** A fresh MsgSeq, so that no valid callback is a duplicate of another. */
function seq(): number {
  return nextSeq++;
}

function message(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    CallbackCommand: COMMAND,
    GroupId: "@TGS#fuzz",
    Type: "Public",
    From_Account: "fuzzer",
    Operator_Account: "admin",
    Random: 7,
    MsgSeq: seq(),
    MsgTime: Math.floor(Date.now() / 1000),
    OnlineOnlyFlag: 0,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hello" } }],
    CloudCustomData: "",
    EventTime: String(Date.now()),
    ...overrides,
  };
}

/** The signed query as pairs, with `change` applied (undefined value: removed). */
function query(
  change: Record<string, string | undefined> = {},
  command = COMMAND,
): [string, string][] {
  const pairs = [...new URLSearchParams(signedQuery(command)).entries()];
  signs.add(pairs.find(([key]) => key === "Sign")![1]);
  const out: [string, string][] = [];
  for (const [key, value] of pairs) {
    if (!(key in change)) out.push([key, value]);
    else if (change[key] !== undefined) out.push([key, change[key]!]);
  }
  for (const [key, value] of Object.entries(change)) {
    if (value !== undefined && !pairs.some(([k]) => k === key)) out.push([key, value]);
  }
  return out;
}

function nested(depth: number, open: string, close: string, inner = "1"): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

function requestBytes(
  queryPairs: [string, string][],
  headers: readonly string[],
  body: string | Uint8Array,
): Uint8Array {
  const head = encoder.encode(
    `POST ${PATH}?${new URLSearchParams(queryPairs)} HTTP/1.1\r\nHost: fuzz\r\n` +
      headers.map((h) => `${h}\r\n`).join("") + "\r\n",
  );
  const tail = typeof body === "string" ? encoder.encode(body) : body;
  const bytes = new Uint8Array(head.length + tail.length);
  bytes.set(head);
  bytes.set(tail, head.length);
  return bytes;
}

const text = fc.string({ maxLength: 40 });
const validBody = fc.constant(null).map(() => JSON.stringify(message()));

/** A short description for fast-check's counterexample, instead of megabytes of body. */
function describeCase(c: Case): Case {
  const size = c.raw?.length ?? (typeof c.body === "string" ? c.body.length : c.body?.length ?? 0);
  const query = new URLSearchParams(c.query ?? []).toString();
  return Object.assign(c, {
    [fc.toStringMethod]: () =>
      `${c.kind} (expect ${c.expect}; ${c.method ?? "POST"} ${c.path ?? PATH}?${query}; ` +
      `${size} bytes: ${
        JSON.stringify(new TextDecoder().decode(
          c.raw ?? encoder.encode(
            typeof c.body === "string" ? c.body : "",
          ).slice(0, 120),
        ))
      }${typeof c.body === "object" ? " + binary body" : ""})`,
  });
}

/** Every category of request, each with the status it must get. */
const cases: fc.Arbitrary<Case> = fc.oneof(
  // Malformed JSON: a valid body cut short, with trailing junk, or in a JSON-ish dialect.
  fc.tuple(validBody, fc.nat()).map(([body, cut]): Case => ({
    kind: "truncated JSON",
    expect: 400,
    query: query(),
    body: body.slice(0, cut % body.length),
  })),
  fc.tuple(validBody, fc.constantFrom("x", "}", ",", "]", "{", " 1", "\u0000")).map((
    [body, junk],
  ): Case => ({ kind: "JSON with trailing junk", expect: 400, query: query(), body: body + junk })),
  fc.constantFrom(
    `{'CallbackCommand':'${COMMAND}'}`,
    `{"CallbackCommand":"${COMMAND}",}`,
    `{"CallbackCommand":"${COMMAND}","MsgSeq":NaN}`,
    `{"CallbackCommand":"${COMMAND}" /* c */}`,
    `{CallbackCommand:"${COMMAND}"}`,
    `{"CallbackCommand":"${COMMAND}","GroupId":"\\x41"}`,
    "",
    " ",
    "{",
    "nul",
  ).map((body): Case => ({ kind: "JSON dialect", expect: 400, query: query(), body })),
  // Not an object.
  fc.jsonValue().filter((v) => typeof v !== "object" || v === null || Array.isArray(v)).map((
    value,
  ): Case => ({ kind: "not an object", expect: 400, query: query(), body: JSON.stringify(value) })),
  // Deeply nested: as the whole body (not an object, or unterminated), or inside an unknown
  // field of a valid message (kept and accepted).
  fc.tuple(fc.integer({ min: 500, max: 30_000 }), fc.boolean()).map(([depth, close]): Case => ({
    kind: "deeply nested array",
    expect: 400,
    query: query(),
    body: close ? nested(depth, "[", "]") : "[".repeat(depth),
  })),
  fc.integer({ min: 500, max: 6_000 }).map((depth): Case => ({
    kind: "deeply nested objects, unterminated",
    expect: 400,
    query: query(),
    body: `{"CallbackCommand":"${COMMAND}","X":` + '{"a":'.repeat(depth),
  })),
  fc.integer({ min: 10, max: 1_000 }).map((depth): Case => ({
    kind: "valid message with a deeply nested unknown field",
    expect: 200,
    query: query(),
    body: JSON.stringify(message()).slice(0, -1) + `,"Deep":${nested(depth, '{"a":', "}")}}`,
  })),
  // Huge: over max_body_bytes with an honest Content-Length, or streamed without one; and
  // just under it, valid.
  fc.integer({ min: MAX_BODY + 1, max: MAX_BODY * 4 }).map((size): Case => ({
    kind: "huge body",
    expect: 413,
    query: query(),
    body: JSON.stringify(message({ Pad: "x".repeat(size) })),
  })),
  fc.integer({ min: MAX_BODY - 2_000, max: MAX_BODY - 400 }).map((size): Case => ({
    kind: "large valid message",
    expect: 200,
    query: query(),
    body: JSON.stringify(
      message({ MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "y".repeat(size) } }] }),
    ),
  })),
  // Wrong field types and missing required fields.
  fc.tuple(
    fc.constantFrom("GroupId", "From_Account", "MsgBody", "MsgSeq", "EventTime", "Random"),
    fc.constantFrom<unknown>({}, [], true, "abc", -0.5, null, { $gt: "" }),
  ).filter(([field, value]) =>
    !(field === "GroupId" || field === "From_Account") || typeof value !== "string"
  ).filter(([field, value]) => !(field === "MsgBody" && Array.isArray(value))).map((
    [field, value],
  ): Case => ({
    kind: `wrong type for ${field}`,
    expect: 400,
    query: query(),
    body: JSON.stringify(message({ [field]: value })),
  })),
  fc.constantFrom("GroupId", "From_Account", "MsgBody", "MsgSeq").map((field): Case => {
    const body = message();
    delete body[field];
    // A message id missing only means dedup by the body's hash.
    const expect = field === "MsgSeq" ? 200 : 400;
    return { kind: `missing ${field}`, expect, query: query(), body: JSON.stringify(body) };
  }),
  fc.constantFrom<unknown>(7, "", null, { Text: 1 }).map((content): Case => ({
    kind: "wrong type inside MsgBody",
    expect: 400,
    query: query(),
    body: JSON.stringify(message({ MsgBody: [{ MsgType: "TIMTextElem", MsgContent: content }] })),
  })),
  // Command mismatches.
  text.filter((c) => c !== COMMAND).map((command): Case => ({
    kind: "URL and body commands differ",
    expect: 400,
    query: query(),
    body: JSON.stringify(message({ CallbackCommand: command })),
  })),
  // Binary garbage and invalid UTF-8.
  fc.uint8Array({ minLength: 1, maxLength: 4_096 }).map((bytes): Case => ({
    kind: "binary garbage",
    expect: 400,
    query: query(),
    body: bytes.slice(),
  })),
  fc.constantFrom([0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80]).map((bad): Case => ({
    kind: "invalid UTF-8 inside a string",
    expect: 400,
    query: query(),
    body: Uint8Array.from([
      ...encoder.encode(`{"CallbackCommand":"${COMMAND}","GroupId":"`),
      ...bad,
      0x22,
      0x7d,
    ]),
  })),
  // Missing, unknown, empty and repeated query parameters.
  fc.constantFrom(
    { kind: "missing SdkAppid", expect: 403, change: { SdkAppid: undefined } },
    { kind: "empty SdkAppid", expect: 403, change: { SdkAppid: "" } },
    { kind: "missing Sign", expect: 401, change: { Sign: undefined } },
    { kind: "empty Sign", expect: 401, change: { Sign: "" } },
    { kind: "missing RequestTime", expect: 401, change: { RequestTime: undefined } },
    { kind: "missing CallbackCommand", expect: 400, change: { CallbackCommand: undefined } },
    { kind: "empty CallbackCommand", expect: 400, change: { CallbackCommand: "" } },
  ).map(({ kind, expect, change }): Case => ({
    kind,
    expect,
    query: query(change),
    body: JSON.stringify(message()),
  })),
  fc.stringMatching(/^[0-9]{1,12}$/).filter((id) => id !== APP).map((id): Case => ({
    kind: "unknown SdkAppid",
    expect: 403,
    query: query({ SdkAppid: id }),
    body: JSON.stringify(message()),
  })),
  fc.tuple(
    fc.constantFrom("SdkAppid", "CallbackCommand", "RequestTime", "Sign"),
    fc.boolean(),
  ).map(([name, same]): Case => {
    const pairs = query();
    const value = pairs.find(([k]) => k === name)![1];
    pairs.push([name, same ? value : `${value}0`]);
    return {
      kind: `repeated ${name}`,
      expect: 400,
      query: pairs,
      body: JSON.stringify(message()),
    };
  }),
  // Wrong and truncated Sign.
  fc.stringMatching(/^[0-9a-f]{64}$/).map((sign): Case => ({
    kind: "wrong Sign",
    expect: 401,
    query: query({ Sign: sign }),
    body: JSON.stringify(message()),
  })),
  fc.integer({ min: 0, max: 63 }).map((length): Case => {
    const pairs = query();
    const sign = pairs.find(([k]) => k === "Sign")![1];
    return {
      kind: "truncated Sign",
      expect: 401,
      query: query({ Sign: sign.slice(0, length) }),
      body: JSON.stringify(message()),
    };
  }),
  fc.string({ minLength: 1, maxLength: 80 }).map((sign): Case => ({
    kind: "Sign of arbitrary text",
    expect: 401,
    query: query({ Sign: sign }),
    body: JSON.stringify(message()),
  })),
  // RequestTime far in the past or future (signed correctly for it), or not a number.
  fc.tuple(fc.integer({ min: 120, max: 2_000_000_000 }), fc.boolean()).map((
    [offset, future],
  ): Case => {
    const time = Math.max(0, Math.floor(Date.now() / 1000) + (future ? offset : -offset));
    return {
      kind: `RequestTime ${future ? "in the future" : "in the past"}`,
      expect: 401,
      query: query({ RequestTime: String(time), Sign: computeSign(TOKEN, time) }),
      body: JSON.stringify(message()),
    };
  }),
  fc.constantFrom("", "-1", "1e9", "0x10", " 1", "99999999999999999999999", "NaN", "１２３")
    .map((time): Case => ({
      kind: "RequestTime not a number",
      expect: 401,
      query: query({ RequestTime: time, Sign: computeSign(TOKEN, time) }),
      body: JSON.stringify(message()),
    })),
  // Wrong methods and paths.
  fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS").map((method): Case => ({
    kind: "wrong method",
    expect: 405,
    method,
    query: query(),
    ...(method === "GET" ? {} : { body: JSON.stringify(message()) }),
  })),
  fc.oneof(
    fc.webPath(),
    fc.constantFrom("/", "/im/callback/", "/IM/callback", "/im/callback.json", "/im/%63allback"),
  ).filter((path) =>
    path.startsWith("/") && !path.startsWith("//") && new URL(path, "http://x").pathname !== PATH
  ).map((path): Case => ({
    kind: "wrong path",
    expect: 404,
    path,
    query: query(),
    body: JSON.stringify(message()),
  })),
  // Unknown commands are accepted and journaled.
  fc.tuple(
    fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,10}\.Callback[A-Za-z]{1,20}$/),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
  ).filter(([command]) => !command.startsWith("Group.") && !command.startsWith("C2C.")).map((
    [command, fields],
  ): Case => ({
    kind: "unknown command",
    expect: 200,
    query: query({}, command),
    body: JSON.stringify({ ...fields, CallbackCommand: command, Nonce: seq() }),
  })),
  // Lying Content-Length over raw TCP.
  fc.integer({ min: 1, max: 40 }).map((short): Case => {
    const body = JSON.stringify(message());
    return {
      kind: "Content-Length shorter than the body",
      expect: 400,
      raw: requestBytes(query(), [`Content-Length: ${body.length - short}`], body),
    };
  }),
  fc.integer({ min: 1, max: 1_000 }).map((extra): Case => {
    const body = JSON.stringify(message());
    return {
      kind: "Content-Length longer than the body, then the client stops sending",
      expect: 400,
      raw: requestBytes(query(), [`Content-Length: ${body.length + extra}`], body),
      halfClose: true,
    };
  }),
  fc.integer({ min: MAX_BODY + 1, max: 2 ** 52 }).map((declared): Case => ({
    kind: "Content-Length over max_body_bytes with a small body",
    expect: 413,
    raw: requestBytes(query(), [`Content-Length: ${declared}`], JSON.stringify(message())),
  })),
  fc.constantFrom(
    ["Content-Length: abc"],
    ["Content-Length: -5"],
    ["Content-Length: 5", "Content-Length: 7"],
    ["Content-Length: 5", "Transfer-Encoding: chunked"],
    ["Transfer-Encoding: gzip, chunked, identity"],
  ).map((headers): Case => ({
    kind: "malformed framing",
    expect: 400,
    raw: requestBytes(query(), headers, JSON.stringify(message())),
    framing: true,
  })),
).map(describeCase);

interface Answer {
  status: number;
  contentType: string | null;
  body: string;
}

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`No answer within ${ANSWER_WITHIN_MS} ms: ${what}`)),
      ANSWER_WITHIN_MS,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function sendFetch(base: URL, c: Case): Promise<Answer> {
  const url = new URL(c.path ?? PATH, base);
  url.search = new URLSearchParams(c.query ?? []).toString();
  const response = await fetch(url, {
    method: c.method ?? "POST",
    headers: { "content-type": "application/json", ...c.headers },
    ...(c.body === undefined ? {} : { body: c.body }),
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: await response.text(),
  };
}

/** Reads the first HTTP/1.1 response on `conn`, or what came before the server closed. */
async function readResponse(conn: Deno.Conn): Promise<Answer | undefined> {
  const buffer = new Uint8Array(65_536);
  let received = new Uint8Array();
  const decoder = new TextDecoder();
  for (;;) {
    const text = decoder.decode(received);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const head = text.slice(0, end);
      const length = Number(/^content-length: *(\d+)$/im.exec(head)?.[1] ?? 0);
      const body = text.slice(end + 4);
      if (encoder.encode(body).length >= length) {
        return {
          status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
          contentType: /^content-type: *(.+)$/im.exec(head)?.[1] ?? null,
          body,
        };
      }
    }
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return undefined;
    const next = new Uint8Array(received.length + n);
    next.set(received);
    next.set(buffer.subarray(0, n), received.length);
    received = next;
  }
}

async function sendRaw(base: URL, bytes: Uint8Array, halfClose: boolean): Promise<Answer> {
  const conn = await Deno.connect({ hostname: base.hostname, port: Number(base.port) });
  try {
    await conn.write(bytes);
    if (halfClose) await conn.closeWrite();
    const answer = await readResponse(conn);
    if (answer === undefined) throw new Error("The server closed the connection without answering");
    return answer;
  } finally {
    conn.close();
  }
}

function assertAnswer(c: Case, answer: Answer): void {
  const what = `${c.kind}: got ${answer.status} ${answer.body.slice(0, 200)}`;
  assert.ok(answer.status < 500, `5xx for ${what}`);
  assert.equal(answer.status, c.expect, what);
  if (c.framing) return;
  assert.match(answer.contentType ?? "", /^application\/json/, what);
  const body = JSON.parse(answer.body);
  if (c.expect === 200) {
    assert.deepEqual(body, { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" }, what);
  } else {
    assert.deepEqual(Object.keys(body).sort(), ["ActionStatus", "ErrorCode", "ErrorInfo"], what);
    assert.equal(body.ActionStatus, "FAIL", what);
    assert.equal(body.ErrorCode, c.expect, what);
    assert.equal(typeof body.ErrorInfo, "string", what);
    assert.ok(body.ErrorInfo.length > 0, what);
  }
}

/** Sends `body` in `chunks` pieces `gapMs` apart over one connection; returns the answer. */
async function drip(base: URL, body: string, chunks: number, gapMs: number): Promise<Answer> {
  const conn = await Deno.connect({ hostname: base.hostname, port: Number(base.port) });
  try {
    const bytes = encoder.encode(body);
    await conn.write(requestBytes(query(), [`Content-Length: ${bytes.length}`], ""));
    const size = Math.ceil(bytes.length / chunks);
    for (let at = 0; at < bytes.length; at += size) {
      // The pause is the point of the test: the client is slow on purpose.
      await new Promise((resolve) => setTimeout(resolve, gapMs));
      await conn.write(bytes.subarray(at, at + size));
    }
    const answer = await readResponse(conn);
    if (answer === undefined) throw new Error("The server closed a dripping connection");
    return answer;
  } finally {
    conn.close();
  }
}

Deno.test("fuzz: hostile requests get the contract's 4xx JSON; valid callbacks keep getting 200", async () => {
  await using ws = await workspace(
    recorderConfig().replace(
      "  path: /im/callback",
      `  path: ${PATH}\n  max_body_bytes: ${MAX_BODY}`,
    ),
  );
  await using served = await serve(ws.config);
  const base = new URL(served.url);
  const valid: number[] = [];
  const tally = new Map<string, number>();

  async function sendValid(): Promise<void> {
    const body = message({ GroupId: "@TGS#fuzz-valid" });
    const answer = await within(
      sendFetch(base, { kind: "valid", expect: 200, query: query(), body: JSON.stringify(body) }),
      "a valid callback",
    );
    assertAnswer({ kind: "valid callback between hostile ones", expect: 200 }, answer);
    valid.push(body.MsgSeq as number);
  }

  // Slow clients run beside the fuzzing: bodies dripped within the body timeout succeed, a
  // body that stops half-way gets 408 once the timeout passes, and neither blocks others.
  const slow = Promise.all([
    ...[0, 1, 2].map(async (i) => {
      const body = message({ GroupId: "@TGS#fuzz-valid" });
      const answer = await within(drip(base, JSON.stringify(body), 10 + 10 * i, 100), "drip");
      assertAnswer({ kind: `body dripped in ${10 + 10 * i} pieces`, expect: 200 }, answer);
      valid.push(body.MsgSeq as number);
    }),
    (async () => {
      const body = JSON.stringify(message());
      const started = Date.now();
      const answer = await within(
        sendRaw(base, requestBytes(query(), [`Content-Length: ${body.length + 1}`], body), false),
        "stalled body",
      );
      assertAnswer({ kind: "stalled body", expect: 408 }, answer);
      assert.ok(Date.now() - started >= 9_000, "408 came before the body timeout");
    })(),
  ]).then(() => undefined, (error: unknown) => error);

  let run = 0;
  await fc.assert(
    fc.asyncProperty(cases, async (c) => {
      tally.set(c.kind, (tally.get(c.kind) ?? 0) + 1);
      const answer = await within(
        c.raw ? sendRaw(base, c.raw, c.halfClose ?? false) : sendFetch(base, c),
        c.kind,
      );
      assertAnswer(c, answer);
      if (++run % 5 === 0) await sendValid();
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  const slowFailure = await slow;
  if (slowFailure !== undefined) throw slowFailure;
  for (let i = 0; i < 5; i++) await sendValid();

  // Every category was exercised, the process is alive, and nothing was a 5xx or leaked.
  assert.ok(tally.size >= 30, `only ${tally.size} kinds of case ran: ${[...tally.keys()]}`);
  const events = recordConfigPath(ws.dir);
  await eventually(async () => {
    const seqs = new Set(
      (await recorded(events))
        .filter((e) => (e.payload as Record<string, unknown>).GroupId === "@TGS#fuzz-valid")
        .map((e) => (e.payload as Record<string, unknown>).MsgSeq),
    );
    return valid.every((s) => seqs.has(s));
  }, `all ${valid.length} valid callbacks reached the plugin`);
  const logs = served.logs.join("\n");
  assert.doesNotMatch(logs, /Request failed/);
  assert.ok(!logs.includes(TOKEN), "the token appeared in the logs");
  for (const sign of signs) assert.ok(!logs.includes(sign), "a Sign appeared in the logs");
  assert.equal(await served.stop(), 0);
});
