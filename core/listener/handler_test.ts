import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import fc from "fast-check";
import { ManualClock } from "../clock.ts";
import { JournalWriter } from "../journal/mod.ts";
import { Metrics } from "../ops/metrics.ts";
import { Router } from "../config/router.ts";
import { CallbackHandler, type CallbackHandlerOptions } from "./handler.ts";
import { type CallbackQuery, parseQuery, splitUrl } from "./query.ts";
import { computeSign } from "./verify.ts";

const APP = "1400000000";
const COMMAND = "Group.CallbackAfterSendMsg";
const TOKEN = "test-token-123";
const SEND_MSG = await Deno.readTextFile(
  new URL("../../tests/fixtures/seeds/group_after_send_msg.json", import.meta.url),
);

interface Harness {
  handler: CallbackHandler;
  journal: JournalWriter;
  clock: ManualClock;
  metrics: Metrics;
  path: string;
}

async function withHandler(
  fn: (h: Harness) => Promise<void>,
  overrides: Partial<CallbackHandlerOptions> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const clock = new ManualClock(1_800_000_000_000);
  const metrics = new Metrics();
  const path = `${dir}/journal.db`;
  try {
    await using journal = JournalWriter.open(path, { busyTimeoutMs: 50 });
    const handler = new CallbackHandler({
      path: "/im/callback",
      maxBodyBytes: 4096,
      maxInFlight: 8,
      journal,
      clock,
      metrics,
      state: {
        apps: new Map([[APP, { sdkAppId: APP, token: TOKEN, maxSkewMs: 60_000 }]]),
        router: new Router([{ name: "all", on: ["*"] }]),
      },
      ...overrides,
    });
    await fn({ handler, journal, clock, metrics, path });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function query(clock: ManualClock, overrides: Record<string, string | null> = {}): string {
  const requestTime = String(Math.floor(clock.now() / 1000));
  const params: Record<string, string | null> = {
    SdkAppid: APP,
    CallbackCommand: "Group.CallbackAfterSendMsg",
    contenttype: "json",
    ClientIP: "10.0.0.1",
    OptPlatform: "iOS",
    RequestTime: requestTime,
    Sign: computeSign(TOKEN, requestTime),
    ...overrides,
  };
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null) search.append(key, value);
  return search.toString();
}

async function post(
  h: Harness,
  init: {
    query?: string;
    body?: BodyInit | null;
    method?: string;
    path?: string;
    headers?: HeadersInit;
    /** As Deno.serve passes it: the body is then framed by its Content-Length. */
    info?: Deno.ServeHandlerInfo;
  } = {},
): Promise<
  { status: number; body: { ActionStatus: string; ErrorCode: number; ErrorInfo: string } }
> {
  const response = await h.handler.handle(
    new Request(`http://127.0.0.1${init.path ?? "/im/callback"}?${init.query ?? query(h.clock)}`, {
      method: init.method ?? "POST",
      body: init.body === undefined ? SEND_MSG : init.body,
      ...(init.headers ? { headers: init.headers } : {}),
    }),
    init.info,
  );
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  return { status: response.status, body: await response.json() };
}

function fail(status: number, info: string) {
  return { status, body: { ActionStatus: "FAIL", ErrorCode: status, ErrorInfo: info } };
}

function quarantined(path: string): { reason: string; command: string | null; query: string }[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT reason, command, query FROM quarantine ORDER BY id").all() as never;
  } finally {
    db.close();
  }
}

Deno.test("server: a valid callback answers 200 OK after it is journaled", async () => {
  await withHandler(async (h) => {
    assert.deepEqual(await post(h), {
      status: 200,
      body: { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" },
    });
    const [pending] = h.journal.pending("all", 0, 10);
    assert.equal(pending?.body, SEND_MSG);
    assert.equal(pending?.clientIp, "10.0.0.1");
    assert.equal(pending?.optPlatform, "iOS");
    assert.equal(pending?.groupKey, "g:@TGS#2J4SZEAEL");
    assert.equal(
      h.metrics.callbacks.value({ command: "Group.CallbackAfterSendMsg", result: "ok" }),
      1,
    );
  });
});

Deno.test("server: a duplicate answers 200 and is stored once", async () => {
  await withHandler(async (h) => {
    const respaced = JSON.stringify({ ...JSON.parse(SEND_MSG), MsgSeq: "123" });
    const answers = await Promise.all([post(h), post(h), post(h, { body: respaced })]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
    assert.equal(h.journal.status().callbacks, 1);
    assert.equal(
      h.metrics.callbacks.value({ command: "Group.CallbackAfterSendMsg", result: "duplicate" }),
      2,
    );
  });
});

Deno.test("server: 404 for another path", async () => {
  await withHandler(async (h) => {
    assert.deepEqual(
      await post(h, { path: "/other" }),
      fail(404, "No callback endpoint at /other"),
    );
  });
});

Deno.test("server: 405 for another method", async () => {
  await withHandler(async (h) => {
    const response = await h.handler.handle(new Request(`http://x/im/callback?${query(h.clock)}`));
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "POST");
    assert.deepEqual(await response.json(), {
      ActionStatus: "FAIL",
      ErrorCode: 405,
      ErrorInfo: "Method GET is not allowed; use POST",
    });
  });
});

Deno.test("server: 403 for an unknown or missing SdkAppid", async () => {
  await withHandler(async (h) => {
    assert.deepEqual(
      await post(h, { query: query(h.clock, { SdkAppid: "1400000001" }) }),
      fail(403, 'SdkAppid "1400000001" is not a configured app'),
    );
    assert.deepEqual(
      await post(h, { query: query(h.clock, { SdkAppid: null }) }),
      fail(403, "SdkAppid is missing"),
    );
    assert.equal(h.metrics.verifyFailures.value({ reason: "unknown_app" }), 2);
  });
});

Deno.test("server: 401 for a wrong or missing Sign, never echoing it", async () => {
  await withHandler(async (h) => {
    const wrong = await post(h, { query: query(h.clock, { Sign: "0".repeat(64) }) });
    assert.deepEqual(wrong, fail(401, "Sign does not match"));
    assert.deepEqual(
      await post(h, { query: query(h.clock, { Sign: null }) }),
      fail(401, "Sign is missing"),
    );
    assert.equal(h.journal.status().callbacks, 0);
  });
});

Deno.test("server: 401 for RequestTime outside max_skew", async () => {
  await withHandler(async (h) => {
    const requestTime = String(Math.floor(h.clock.now() / 1000) - 120);
    const answer = await post(h, {
      query: query(h.clock, { RequestTime: requestTime, Sign: computeSign(TOKEN, requestTime) }),
    });
    assert.deepEqual(
      answer,
      fail(401, `RequestTime ${requestTime} is 120s from now, over max_skew 60s`),
    );
  });
});

Deno.test("server: 413 when Content-Length is over max_body_bytes, before reading", async () => {
  await withHandler(async (h) => {
    const answer = await post(h, {
      body: "x".repeat(5000),
      headers: { "content-length": "5000" },
    });
    assert.deepEqual(answer, fail(413, "Body is over max_body_bytes (4096)"));
  });
});

Deno.test("server: 413 when a streamed body without Content-Length grows past the limit", async () => {
  await withHandler(async (h) => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 1000;
        controller.enqueue(new Uint8Array(1000).fill(0x20));
        if (sent > 100_000) controller.close();
      },
    });
    const answer = await post(h, { body });
    assert.deepEqual(answer, fail(413, "Body is over max_body_bytes (4096)"));
    assert.ok(sent < 10_000, `read ${sent} bytes before refusing`);
  });
});

Deno.test("server: 400 and quarantine for malformed JSON", async () => {
  await withHandler(async (h) => {
    const answer = await post(h, { body: '{"CallbackCommand": ' });
    assert.equal(answer.status, 400);
    assert.match(answer.body.ErrorInfo, /^Body is not JSON: /);
    const [row] = quarantined(h.path);
    assert.equal(row?.command, "Group.CallbackAfterSendMsg");
    assert.doesNotMatch(row!.query, /Sign=/);
    assert.equal(h.journal.status().quarantined, 1);
  });
});

Deno.test("server: 400 and quarantine for a body that is not an object or not UTF-8", async () => {
  await withHandler(async (h) => {
    assert.deepEqual(await post(h, { body: "[1,2]" }), fail(400, "Body is not a JSON object"));
    assert.deepEqual(
      await post(h, { body: new Uint8Array([0x7b, 0xff, 0x7d]) }),
      fail(400, "Body is not valid UTF-8"),
    );
    assert.equal(h.journal.status().quarantined, 2);
  });
});

Deno.test("server: 400 for a missing CallbackCommand in the URL or the body", async () => {
  await withHandler(async (h) => {
    assert.deepEqual(
      await post(h, { query: query(h.clock, { CallbackCommand: null }) }),
      fail(400, "Query parameter CallbackCommand is missing"),
    );
    assert.deepEqual(
      await post(h, { body: '{"GroupId":"@TGS#1"}' }),
      fail(400, "Body has no CallbackCommand string"),
    );
  });
});

Deno.test("server: 400 for a repeated query parameter", async () => {
  await withHandler(async (h) => {
    const q = `${query(h.clock)}&CallbackCommand=Group.CallbackAfterSendMsg`;
    assert.deepEqual(
      await post(h, { query: q }),
      fail(400, "Query parameter CallbackCommand appears more than once"),
    );
  });
});

Deno.test("server: 400 when the URL and body commands differ", async () => {
  await withHandler(async (h) => {
    const answer = await post(h, {
      query: query(h.clock, { CallbackCommand: "Group.CallbackAfterGroupAttrChanged" }),
    });
    assert.deepEqual(
      answer,
      fail(
        400,
        'Body CallbackCommand "Group.CallbackAfterSendMsg" differs from the URL\'s "Group.CallbackAfterGroupAttrChanged"',
      ),
    );
  });
});

Deno.test("server: 400 and quarantine for a payload that breaks its schema", async () => {
  await withHandler(async (h) => {
    const body = JSON.stringify({ ...JSON.parse(SEND_MSG), MsgSeq: { n: 1 } });
    const answer = await post(h, { body });
    assert.equal(answer.status, 400);
    assert.match(answer.body.ErrorInfo, /^Group\.CallbackAfterSendMsg payload: MsgSeq: /);
    assert.equal(quarantined(h.path).length, 1);
    assert.equal(h.journal.status().callbacks, 0);
  });
});

Deno.test("server: an unknown command is accepted and routed to catch-all plugins", async () => {
  await withHandler(async (h) => {
    const body = JSON.stringify({ CallbackCommand: "Brand.NewCallback", Anything: [1, { a: 2 }] });
    const answer = await post(h, {
      query: query(h.clock, { CallbackCommand: "Brand.NewCallback" }),
      body,
    });
    assert.equal(answer.status, 200);
    assert.equal(h.journal.pending("all", 0, 10)[0]?.body, body);
    assert.equal(h.metrics.callbacks.value({ command: "other", result: "ok" }), 1);
  });
});

Deno.test("server: 429 over max_in_flight", async () => {
  await withHandler(async (h) => {
    const stalls: ReadableStreamDefaultController<Uint8Array>[] = [];
    const held = [0, 1].map(() =>
      post(h, {
        body: new ReadableStream<Uint8Array>({ start: (c) => void stalls.push(c) }),
      })
    );
    while (h.handler.inFlight < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    const over = await post(h);
    assert.deepEqual(over, fail(429, "Over max_in_flight (2)"));
    for (const controller of stalls) {
      controller.enqueue(new TextEncoder().encode(SEND_MSG));
      controller.close();
    }
    assert.deepEqual((await Promise.all(held)).map((a) => a.status), [200, 200]);
  }, { maxInFlight: 2 });
});

Deno.test("server: 503 while shutting down", async () => {
  await withHandler(async (h) => {
    h.handler.close();
    assert.deepEqual(await post(h), fail(503, "imhookd is shutting down"));
  });
});

Deno.test("server: 503 when the journal cannot be written, never 200", async () => {
  await withHandler(async (h) => {
    const other = new DatabaseSync(h.path);
    other.exec("BEGIN IMMEDIATE");
    try {
      assert.deepEqual(await post(h), fail(503, "The journal cannot be written"));
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    assert.equal((await post(h)).status, 200, "recovers by itself");
  });
});

const SERVER_INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
  completed: Promise.resolve(),
} as Deno.ServeHandlerInfo<Deno.NetAddr>;

/** What the handler read from a query before parseQuery existed: URLSearchParams' answer. */
function expectedQuery(search: string): CallbackQuery {
  const params = new URLSearchParams(`?${search}`); // the constructor drops one leading "?"
  return {
    sdkAppId: params.get("SdkAppid") ?? undefined,
    command: params.get("CallbackCommand") ?? undefined,
    requestTime: params.get("RequestTime") ?? undefined,
    sign: params.get("Sign") ?? undefined,
    clientIp: params.get("ClientIP") ?? undefined,
    optPlatform: params.get("OptPlatform") ?? undefined,
    repeated: ["SdkAppid", "CallbackCommand", "RequestTime", "Sign"].find((name) =>
      params.getAll(name).length > 1
    ),
    search,
  };
}

Deno.test("server: parseQuery reads edge cases as URLSearchParams does", () => {
  const cases = [
    "",
    "SdkAppid=1&CallbackCommand=A.B&RequestTime=1&Sign=ab",
    "Sign=a%2Bb%3D%3D&ClientIP=10.0.0.1%20x&OptPlatform=Web+Browser",
    "ClientIP=1+2%2B3&ClientIP=second",
    "Sdk%41ppid=1&Sdk+Appid=2&SdkAppid=3",
    "Callback%43ommand=x&CallbackCommand=y",
    "Sign=&RequestTime",
    "Sign&Sign=b",
    "&&SdkAppid=1&&=x&=&CallbackCommand==a=b=",
    "RequestTime=1&RequestTime=1&Sign=s&Sign=s&SdkAppid=a&SdkAppid=a",
    "Sign=%zz%4&ClientIP=%&OptPlatform=%%41",
    "Sign=%FF%FE&ClientIP=%E4%BD%A0%E5%A5%BD&OptPlatform=%C0%AF%ED%A0%80",
    "ClientIP=%EF%BB%BFx&OptPlatform=a?b/c:d@e!$'()*,;",
    'ClientIP="<>"&Sign=`{|}~^[]',
  ];
  for (const search of cases) assert.deepEqual(parseQuery(search), expectedQuery(search), search);
});

Deno.test("server: parseQuery leaves text the URL parser would rewrite to new URL", () => {
  for (const search of ["Sign=a b", "Sign=a\tb", "ClientIP=你好", "Sign=\u0000", "a=\u007f"]) {
    assert.equal(parseQuery(search), undefined, search);
  }
});

Deno.test("server: parseQuery agrees with URLSearchParams on any printable query (property)", () => {
  const piece = fc.constantFrom(
    "SdkAppid",
    "CallbackCommand",
    "RequestTime",
    "Sign",
    "ClientIP",
    "OptPlatform",
    "Sdk%41ppid",
    "Sign+",
    "=",
    "&",
    "+",
    "%",
    "%2",
    "%20",
    "%2B",
    "%26",
    "%3D",
    "%E4%BD%A0",
    "%FF",
    "%ED%A0%80",
    "a",
    "1",
    "?",
    "/",
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 24 }), (pieces) => {
      const search = pieces.join("");
      assert.deepEqual(parseQuery(search), expectedQuery(search));
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("server: splitUrl splits where the URL parser does, or gives up", () => {
  assert.deepEqual(splitUrl("http://127.0.0.1:8080/im/callback?a=1&b=2#frag?x"), {
    origin: "http://127.0.0.1:8080",
    path: "/im/callback",
    search: "a=1&b=2",
  });
  assert.deepEqual(splitUrl("https://example.com/p#f?x"), {
    origin: "https://example.com",
    path: "/p",
    search: "",
  });
  assert.deepEqual(splitUrl("http://h/p??a"), { origin: "http://h", path: "/p", search: "?a" });
  for (const url of ["http://h", "http://h?a=1", "http://h\\p", "ftp://h/p", "http:///p"]) {
    assert.equal(splitUrl(url), undefined, url);
  }
});

Deno.test("server: a path and query the URL parser rewrites are read as before", async () => {
  await withHandler(async (h) => {
    const requestTime = String(Math.floor(h.clock.now() / 1000));
    const sign = computeSign(TOKEN, requestTime);
    const escaped = `Sdk%41ppid=${APP}&CallbackCommand=Group.CallbackAfterSendMsg` +
      `&RequestTime=${requestTime}&Sign=${sign.toUpperCase()}&ClientIP=10.0.0.1+a%2Bb` +
      `&OptPlatform=%E4%BD%A0%E5%A5%BD`;
    assert.equal((await post(h, { path: "/im/./x/../callback", query: escaped })).status, 200);
    const [pending] = h.journal.pending("all", 0, 10);
    assert.equal(pending?.clientIp, "10.0.0.1 a+b");
    assert.equal(pending?.optPlatform, "你好");
    assert.deepEqual(
      await post(h, { path: "/im/callback/", query: escaped }),
      fail(404, "No callback endpoint at /im/callback/"),
    );
  });
});

Deno.test("server: a repeated SdkAppid is refused before the Sign is checked", async () => {
  await withHandler(async (h) => {
    assert.deepEqual(
      await post(h, { query: `${query(h.clock)}&Sign=x&SdkAppid=1` }),
      fail(400, "Query parameter SdkAppid appears more than once"),
    );
  });
});

Deno.test("server: 408 when the body does not arrive within bodyTimeoutMs", async () => {
  await withHandler(async (h) => {
    for (const info of [undefined, SERVER_INFO]) {
      const stalls: ReadableStreamDefaultController<Uint8Array>[] = [];
      const answer = post(h, {
        body: new ReadableStream<Uint8Array>({ start: (c) => void stalls.push(c) }),
        headers: { "content-length": "400" },
        ...(info ? { info } : {}),
      });
      while (h.handler.inFlight < 1) await new Promise((resolve) => setTimeout(resolve, 1));
      h.clock.tick(999);
      assert.equal(h.handler.inFlight, 1, "still waiting 1 ms before the timeout");
      h.clock.tick(1);
      assert.deepEqual(await answer, fail(408, "Body not received within 1000ms"));
      // The chunked read cancels its stream; the whole read leaves it to the client.
      if (info) { for (const controller of stalls) controller.close(); }
    }
    assert.equal(h.metrics.callbacks.value({ command: COMMAND, result: "bad_request" }), 2);
  }, { bodyTimeoutMs: 1000 });
});

Deno.test("server: each body gets its own timeout, however many wait at once", async () => {
  await withHandler(async (h) => {
    const stalls: ReadableStreamDefaultController<Uint8Array>[] = [];
    const stalled = () =>
      post(h, { body: new ReadableStream<Uint8Array>({ start: (c) => void stalls.push(c) }) });
    const first = stalled();
    while (h.handler.inFlight < 1) await new Promise((resolve) => setTimeout(resolve, 1));
    h.clock.tick(600);
    const second = stalled();
    const third = stalled();
    while (h.handler.inFlight < 3) await new Promise((resolve) => setTimeout(resolve, 1));
    stalls[2]!.enqueue(new TextEncoder().encode(SEND_MSG));
    stalls[2]!.close();
    assert.equal((await third).status, 200);
    h.clock.tick(400);
    assert.equal((await first).status, 408);
    h.clock.tick(599);
    assert.equal(h.handler.inFlight, 1);
    h.clock.tick(1);
    assert.equal((await second).status, 408);
  }, { bodyTimeoutMs: 1000 });
});

Deno.test("server: a body longer than its Content-Length is still refused", async () => {
  await withHandler(async (h) => {
    for (const info of [undefined, SERVER_INFO]) {
      const answer = await post(h, {
        body: " ".repeat(5000),
        headers: { "content-length": "100" },
        ...(info ? { info } : {}),
      });
      assert.deepEqual(answer, fail(413, "Body is over max_body_bytes (4096)"));
    }
  });
});

Deno.test("server: a body framed by Content-Length is accepted whole", async () => {
  await withHandler(async (h) => {
    const bytes = new TextEncoder().encode(SEND_MSG);
    const answer = await post(h, {
      body: bytes,
      headers: { "content-length": String(bytes.length) },
      info: SERVER_INFO,
    });
    assert.equal(answer.status, 200);
    assert.equal(h.journal.pending("all", 0, 10)[0]?.body, SEND_MSG);
  });
});

Deno.test("server: close() leaves no body timer running", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using journal = JournalWriter.open(`${dir}/journal.db`, { busyTimeoutMs: 50 });
    const handler = new CallbackHandler({
      path: "/im/callback",
      maxBodyBytes: 4096,
      maxInFlight: 8,
      journal,
      state: {
        apps: new Map([[APP, { sdkAppId: APP, maxSkewMs: 60_000 }]]),
        router: new Router([]),
      },
    });
    const url = `http://127.0.0.1/im/callback?SdkAppid=${APP}&CallbackCommand=${COMMAND}`;
    const response = await handler.handle(new Request(url, { method: "POST", body: SEND_MSG }));
    assert.equal(response.status, 200);
    await response.body?.cancel();
    handler.close(); // the op sanitizer fails this test if a timer is left
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: a Host header the URL parser refuses is answered 400 without quoting it", async () => {
  await withHandler(async (h) => {
    const search = query(h.clock);
    for (const host of ["a b", "[::1", "a:99999999"]) {
      // What Deno.serve hands over for such a Host: a URL string no URL parser accepts.
      const request = {
        url: `http://${host}/im/callback?${search}`,
        method: "POST",
        headers: new Headers(),
        body: null,
      } as unknown as Request;
      const response = await h.handler.handle(request);
      assert.equal(response.status, 400, host);
      const body = await response.text();
      assert.equal(
        body,
        '{"ActionStatus":"FAIL","ErrorCode":400,"ErrorInfo":"Malformed request target or Host header"}',
      );
      assert.ok(!body.includes(new URLSearchParams(search).get("Sign")!));
    }
    assert.equal(h.journal.status().callbacks, 0);
  });
});
