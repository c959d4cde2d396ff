import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { Webhook } from "standardwebhooks";
import type { CallbackEvent, PluginInstance } from "../plugin.ts";
import webhookForwarder, {
  envelopeBody,
  parseRetryAfter,
  signWebhook,
  tencentSign,
  WebhookError,
  type WebhookForwarderOptions,
} from "./webhook_forwarder.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN = "receiver-token-123";
const signal = new AbortController().signal;

function event(id: string, extra: Partial<CallbackEvent> = {}): CallbackEvent {
  // Spacing and a numeric string kept exactly as Tencent sent them.
  const rawBody =
    `{"CallbackCommand": "Group.CallbackAfterSendMsg", "GroupId": "@TGS#1", "MsgSeq": "12", "EventTime":"1670574414123"}`;
  return {
    id,
    command: "Group.CallbackAfterSendMsg",
    sdkAppId: "1400000000",
    receivedAt: Date.UTC(2024, 4, 6, 7, 8, 9, 10),
    clientIp: "203.0.113.7",
    optPlatform: "iOS",
    attempt: 1,
    payload: JSON.parse(rawBody),
    rawBody,
    ...extra,
  };
}

interface Received {
  url: URL;
  headers: Headers;
  body: string;
  port: number;
}

interface Receiver extends AsyncDisposable {
  url: string;
  received: Received[];
  /** Remote ports seen: one per TCP connection. */
  ports: Set<number>;
}

/** A loopback HTTP server on a free port that records every request and answers with `answer`. */
function receiver(
  answer: (request: Request, seen: Received) => Response | Promise<Response>,
): Receiver {
  const received: Received[] = [];
  const ports = new Set<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request, info) => {
      const seen = {
        url: new URL(request.url),
        headers: request.headers,
        body: await request.text(),
        port: info.remoteAddr.port,
      };
      received.push(seen);
      ports.add(seen.port);
      return await answer(request, seen);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks/im?x=1`,
    received,
    ports,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function forwarder(raw: Record<string, unknown>): PluginInstance & AsyncDisposable {
  const options = webhookForwarder.parseOptions(raw);
  return webhookForwarder.create(options, {
    name: "forward",
    configDir: "/",
    logger: getLogger(["test", "webhook_forwarder"]),
    signal: new AbortController().signal,
  }) as PluginInstance & AsyncDisposable;
}

async function failure(promise: Promise<unknown> | unknown): Promise<WebhookError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WebhookError, `expected a WebhookError, got ${error}`);
    return error;
  }
  assert.fail("expected a WebhookError");
}

Deno.test("webhook_forwarder: signWebhook matches the Standard Webhooks example", () => {
  assert.equal(
    signWebhook(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'),
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  );
});

Deno.test("webhook_forwarder: tencentSign matches Tencent's documented example", () => {
  assert.equal(
    tencentSign("xxxxyyyy", "1669872112"),
    "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061",
  );
});

Deno.test("webhook_forwarder: parseRetryAfter reads seconds and HTTP dates", () => {
  const now = Date.UTC(2015, 9, 21, 7, 28, 0);
  assert.equal(parseRetryAfter("120", now), 120_000);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), 30_000);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

Deno.test("webhook_forwarder: parseOptions fills the defaults", () => {
  assert.deepEqual(
    webhookForwarder.parseOptions({ url: "https://example.com/hook" }),
    {
      url: "https://example.com/hook",
      format: "tencent",
      headers: {},
      timeoutMs: 10_000,
      concurrency: 8,
    } satisfies WebhookForwarderOptions,
  );
  assert.deepEqual(
    webhookForwarder.parseOptions({
      url: "http://10.0.0.1:8080/x?k=v",
      format: "envelope",
      headers: { Authorization: "Bearer abc", "X-Num": 5 },
      timeout: "2s",
      secret: SECRET,
      concurrency: 3,
    }),
    {
      url: "http://10.0.0.1:8080/x?k=v",
      format: "envelope",
      headers: { Authorization: "Bearer abc", "X-Num": "5" },
      timeoutMs: 2000,
      secret: SECRET,
      concurrency: 3,
    } satisfies WebhookForwarderOptions,
  );
});

Deno.test("webhook_forwarder: parseOptions names the key of a bad option and hides secrets", () => {
  const cases: [unknown, ErrorConstructor, string][] = [
    [[], TypeError, "options: expected a mapping, got []"],
    [{}, TypeError, "options.url: required, e.g. https://example.com/hook"],
    [
      { url: "not a url" },
      TypeError,
      'options.url: expected an absolute http or https URL, got "not a url"',
    ],
    [
      { url: "ftp://x/y" },
      RangeError,
      'options.url: expected an http or https URL, got "ftp://x/y"',
    ],
    [
      { url: "ftp://user:pw@x/y?key=s3cret" },
      RangeError,
      'options.url: expected an http or https URL, got "ftp://***@x/y?key=***"',
    ],
    [
      { url: "https://x", verb: "PUT" },
      TypeError,
      "options.verb: unknown option; expected one of url, format, headers, timeout, secret, token, concurrency",
    ],
    [
      { url: "https://x", format: "xml" },
      RangeError,
      'options.format: expected "tencent" or "envelope", got "xml"',
    ],
    [
      { url: "https://ops:pw@x", headers: { authorization: "Bearer t" } },
      RangeError,
      "options.headers.Authorization: the URL has credentials too; keep one of them",
    ],
    [
      { url: "https://x", headers: ["a"] },
      TypeError,
      "options.headers: expected a mapping of header names to values, got a list",
    ],
    [
      { url: "https://x", headers: { "X-A": true } },
      TypeError,
      "options.headers.X-A: expected a string value",
    ],
    [
      { url: "https://x", headers: { "Webhook-Id": "1" } },
      RangeError,
      "options.headers.Webhook-Id: this header is set by the plugin",
    ],
    [
      { url: "https://x", headers: { "Bad Name": "v" } },
      RangeError,
      "options.headers.Bad Name: not a valid header name and value",
    ],
    [
      { url: "https://x", headers: { Authorization: "line\nbreak-s3cret" } },
      RangeError,
      "options.headers.Authorization: not a valid header name and value",
    ],
    [
      { url: "https://x", timeout: "soon" },
      RangeError,
      'options.timeout: expected a duration such as 500ms, 10s or 2m, got "soon"',
    ],
    [
      { url: "https://x", timeout: "0s" },
      RangeError,
      'options.timeout: expected a duration above 0 and below 24 days, got "0s"',
    ],
    [
      { url: "https://x", concurrency: 0 },
      RangeError,
      "options.concurrency: expected an integer >= 1, got 0",
    ],
    [
      { url: "https://x", concurrency: "2" },
      TypeError,
      'options.concurrency: expected an integer >= 1, got "2"',
    ],
    [
      { url: "https://x", secret: "s3cret-without-prefix" },
      TypeError,
      'options.secret: expected "whsec_" followed by a base64 key (the Standard Webhooks format)',
    ],
    [
      { url: "https://x", secret: "whsec_!!s3cret!!" },
      TypeError,
      'options.secret: expected "whsec_" followed by a base64 key (the Standard Webhooks format)',
    ],
    [{ url: "https://x", token: "" }, TypeError, "options.token: expected a non-empty string"],
    [
      { url: "https://x", format: "envelope", token: "s3cret" },
      RangeError,
      'options.token: only used with format "tencent", not "envelope"',
    ],
  ];
  for (const [raw, errorClass, message] of cases) {
    assert.throws(() => webhookForwarder.parseOptions(raw), (error: unknown) => {
      assert.ok(error instanceof errorClass, `${JSON.stringify(raw)} throws ${errorClass.name}`);
      assert.equal(error.message, message);
      assert.ok(!error.message.includes("s3cret"));
      return true;
    });
  }
});

Deno.test("webhook_forwarder: tencent format sends the original body and query on one kept-alive connection", async () => {
  await using target = receiver(() => new Response("ok"));
  await using plugin = forwarder({ url: target.url, headers: { "X-Env": "prod" } });
  await plugin.handle(event("41"), signal);
  await plugin.handle(event("42", { clientIp: undefined, optPlatform: undefined }), signal);
  for (let i = 43; i < 48; i++) await plugin.handle(event(String(i)), signal);

  assert.equal(target.received.length, 7);
  const [first, second] = target.received;
  assert.equal(first!.url.pathname, "/hooks/im");
  assert.deepEqual([...first!.url.searchParams], [
    ["x", "1"],
    ["SdkAppid", "1400000000"],
    ["CallbackCommand", "Group.CallbackAfterSendMsg"],
    ["contenttype", "json"],
    ["ClientIP", "203.0.113.7"],
    ["OptPlatform", "iOS"],
  ]);
  assert.equal(first!.body, event("41").rawBody);
  assert.equal(first!.headers.get("content-type"), "application/json");
  assert.equal(first!.headers.get("webhook-id"), "41");
  assert.equal(first!.headers.get("x-env"), "prod");
  assert.equal(first!.headers.get("webhook-signature"), null);
  assert.equal(first!.headers.get("webhook-timestamp"), null);
  assert.equal(second!.url.searchParams.has("ClientIP"), false);
  assert.equal(second!.url.searchParams.has("OptPlatform"), false);
  assert.equal(second!.url.searchParams.has("Sign"), false);
  assert.equal(target.ports.size, 1, "every request reused the first connection");
});

Deno.test("webhook_forwarder: envelope format sends the documented JSON envelope", async () => {
  await using target = receiver(() => new Response(null, { status: 204 }));
  await using plugin = forwarder({ url: target.url, format: "envelope" });
  const sent = event("7", { optPlatform: undefined });
  await plugin.handle(sent, signal);
  const [got] = target.received;
  assert.equal(got!.url.search, "?x=1");
  assert.equal(got!.body, envelopeBody(sent));
  assert.deepEqual(JSON.parse(got!.body), {
    id: "7",
    command: "Group.CallbackAfterSendMsg",
    sdk_app_id: "1400000000",
    received_at: "2024-05-06T07:08:09.010Z",
    client_ip: "203.0.113.7",
    opt_platform: null,
    payload: {
      CallbackCommand: "Group.CallbackAfterSendMsg",
      GroupId: "@TGS#1",
      MsgSeq: "12",
      EventTime: "1670574414123",
    },
  });
  assert.equal(got!.headers.get("webhook-id"), "7");
});

/** Accepts only requests with a valid Standard Webhooks signature and a fresh Tencent Sign. */
function checkingReceiver(): Receiver {
  const webhook = new Webhook(SECRET);
  return receiver((_request, seen) => {
    try {
      webhook.verify(seen.body, Object.fromEntries(seen.headers));
    } catch (error) {
      return new Response(`bad signature: ${(error as Error).message}`, { status: 401 });
    }
    const time = seen.url.searchParams.get("RequestTime") ?? "";
    const sign = seen.url.searchParams.get("Sign");
    if (sign !== tencentSign(TOKEN, time) || Math.abs(Number(time) - Date.now() / 1000) > 60) {
      // A careless receiver echoing what it got.
      return new Response(`bad Sign ${sign} for ${seen.url.href}`, { status: 401 });
    }
    return new Response("ok");
  });
}

Deno.test("webhook_forwarder: signs with the secret and re-signs with the token", async () => {
  await using target = checkingReceiver();
  {
    await using plugin = forwarder({ url: target.url, secret: SECRET, token: TOKEN });
    await plugin.handle(event("100"), signal);
  }
  const [got] = target.received;
  assert.equal(got!.headers.get("webhook-id"), "100");
  assert.match(got!.headers.get("webhook-timestamp")!, /^\d{10}$/);
  assert.match(got!.headers.get("webhook-signature")!, /^v1,[A-Za-z0-9+/]+=*$/);
  assert.equal(got!.body, event("100").rawBody);

  const otherSecret = "whsec_" + btoa("another-secret-of-24-byte");
  {
    await using plugin = forwarder({ url: target.url, secret: otherSecret, token: TOKEN });
    const error = await failure(plugin.handle(event("101"), signal));
    assert.equal(error.status, 401);
    assert.equal(error.permanent, true);
    assert.match(error.message, /answered 401: bad signature/);
  }
  {
    await using plugin = forwarder({ url: target.url, secret: SECRET, token: "wrong-token" });
    const error = await failure(plugin.handle(event("102"), signal));
    assert.equal(error.status, 401);
    assert.equal(error.permanent, true);
    const sign = target.received.at(-1)!.url.searchParams.get("Sign")!;
    assert.ok(!error.message.includes(sign), "the Sign is not repeated in the error");
    assert.ok(!error.message.includes("wrong-token"));
    assert.ok(!error.message.includes("RequestTime"), error.message);
  }
});

Deno.test("webhook_forwarder: 408, 429 and 5xx are retried, honouring Retry-After", async () => {
  const answers = [
    () => new Response("busy", { status: 503, headers: { "retry-after": "7" } }),
    () => new Response("oops", { status: 500 }),
    () =>
      new Response("slow down", {
        status: 429,
        headers: { "retry-after": new Date(Date.now() + 120_000).toUTCString() },
      }),
    () => new Response(null, { status: 408 }),
    () => new Response("fine"),
  ];
  let calls = 0;
  await using target = receiver(() => answers[calls++]!());
  await using plugin = forwarder({ url: target.url });
  const errors: WebhookError[] = [];
  for (let attempt = 1;; attempt++) {
    try {
      await plugin.handle(event("5", { attempt }), signal);
      break;
    } catch (error) {
      assert.ok(error instanceof WebhookError);
      errors.push(error);
    }
  }
  assert.equal(calls, 5);
  assert.deepEqual(errors.map((e) => [e.status, e.permanent]), [
    [503, false],
    [500, false],
    [429, false],
    [408, false],
  ]);
  assert.equal(errors[0]!.message, `POST to "${target.url.split("?")[0]}" answered 503: busy`);
  assert.equal(errors[0]!.retryAfterMs, 7000);
  assert.equal(errors[1]!.retryAfterMs, undefined);
  assert.ok(errors[2]!.retryAfterMs! > 110_000 && errors[2]!.retryAfterMs! <= 120_000);
  assert.equal(target.ports.size, 1, "error answers keep the connection too");
});

Deno.test("webhook_forwarder: other 4xx and redirects are dead letters at once", async () => {
  await using target = receiver((request) =>
    new URL(request.url).searchParams.get("x") === "1"
      ? Response.json({ error: "GroupId missing" }, { status: 400 })
      : new Response(null, { status: 302, headers: { location: "http://example.com/" } })
  );
  {
    await using plugin = forwarder({ url: target.url });
    const error = await failure(plugin.handle(event("9"), signal));
    assert.equal(error.status, 400);
    assert.equal(error.permanent, true);
    assert.equal(error.retryAfterMs, undefined);
    assert.equal(
      error.message,
      `POST to "${target.url.split("?")[0]}" answered 400: {"error":"GroupId missing"}`,
    );
  }
  {
    await using plugin = forwarder({ url: target.url.replace("x=1", "x=2") });
    const error = await failure(plugin.handle(event("10"), signal));
    assert.equal(error.status, 302);
    assert.equal(error.permanent, true);
    assert.match(error.message, /redirects are not followed/);
  }
});

/** A receiver whose answers hang until it is disposed. */
function hangingReceiver(): Receiver & { arrived: Promise<void> } {
  const { promise: arrived, resolve } = Promise.withResolvers<void>();
  const released = Promise.withResolvers<void>();
  const target = receiver(async () => {
    resolve();
    await released.promise;
    return new Response("too late");
  });
  return {
    ...target,
    arrived,
    [Symbol.asyncDispose]: () => {
      released.resolve();
      return target[Symbol.asyncDispose]();
    },
  };
}

Deno.test("webhook_forwarder: a hanging endpoint times out and the error is retried", async () => {
  await using target = hangingReceiver();
  await using plugin = forwarder({ url: target.url, timeout: "150ms", token: TOKEN });
  const started = performance.now();
  const error = await failure(plugin.handle(event("3"), signal));
  assert.ok(performance.now() - started >= 140);
  assert.equal(error.message, `POST to "${target.url.split("?")[0]}" timed out after 150ms`);
  assert.equal(error.permanent, false);
  assert.equal(error.status, undefined);
});

Deno.test("webhook_forwarder: the handle signal aborts the request", async () => {
  await using target = hangingReceiver();
  await using plugin = forwarder({ url: target.url });
  const controller = new AbortController();
  const handled = plugin.handle(event("4"), controller.signal);
  await target.arrived;
  controller.abort(new RangeError("handler_timeout passed"));
  const error = await failure(handled);
  assert.equal(
    error.message,
    `POST to "${target.url.split("?")[0]}" aborted: handler_timeout passed`,
  );
  assert.equal(error.permanent, false);
});

Deno.test("webhook_forwarder: dispose aborts requests in flight and refuses new ones", async () => {
  await using target = hangingReceiver();
  const plugin = forwarder({ url: target.url });
  const handled = plugin.handle(event("4"), signal);
  await target.arrived;
  await plugin[Symbol.asyncDispose]();
  const error = await failure(handled);
  assert.equal(
    error.message,
    `POST to "${target.url.split("?")[0]}" aborted: the forwarder is shutting down`,
  );
  const refused = await failure(plugin.handle(event("5"), signal));
  assert.match(refused.message, /the forwarder is shutting down/);
});

Deno.test("webhook_forwarder: network errors are retried without leaking the Sign or token", async () => {
  const closed = receiver(() => new Response("ok"));
  const url = closed.url;
  await closed[Symbol.asyncDispose]();
  await using plugin = forwarder({ url, token: TOKEN });
  const error = await failure(plugin.handle(event("8"), signal));
  assert.equal(error.permanent, false);
  assert.ok(error.message.startsWith(`Cannot POST to "${url.split("?")[0]}": `), error.message);
  assert.ok(!error.message.includes("Sign="), error.message);
  assert.ok(!error.message.includes(TOKEN));
  assert.match(error.message, /Connection refused/);
});

Deno.test("webhook_forwarder: what an endpoint echoes back is stored without the configured secrets", async () => {
  const secrets = {
    password: "pa55-w0rd-9",
    query: "q-secret-7431",
    bearer: "tok-abc123def",
    apiKey: "key-xyz789",
  };
  // A failing endpoint that echoes the request: its URL, its headers and its body.
  await using target = receiver((request, seen) =>
    new Response(
      `bad request to ${request.url} with ${
        [...seen.headers].map(([name, value]) => `${name}: ${value}`).join("\n")
      } ${decodeURIComponent(request.url)}`,
      { status: 400 },
    )
  );
  const withCredentials = new URL(target.url);
  withCredentials.username = "ops";
  withCredentials.password = secrets.password;
  withCredentials.searchParams.set("api_key", secrets.query);
  const withQuery = new URL(target.url);
  withQuery.searchParams.set("api_key", secrets.query);
  const configs = [
    { url: withCredentials.href, token: TOKEN, headers: { "X-Api-Key": secrets.apiKey } },
    {
      url: withQuery.href,
      token: TOKEN,
      headers: { Authorization: `Bearer ${secrets.bearer}`, "X-Api-Key": secrets.apiKey },
    },
  ];
  for (const [i, options] of configs.entries()) {
    await using plugin = forwarder(options);
    const error = await failure(plugin.handle(event(`1${i}`), signal));
    assert.equal(error.status, 400);
    // The request carried them: the endpoint saw them.
    const seen = target.received[i]!;
    assert.equal(seen.headers.get("x-api-key"), secrets.apiKey);
    assert.equal(seen.url.searchParams.get("api_key"), secrets.query);
    assert.equal(
      seen.headers.get("authorization"),
      i === 0 ? `Basic ${btoa(`ops:${secrets.password}`)}` : `Bearer ${secrets.bearer}`,
    );
    assert.ok(error.message.startsWith(`POST to "${target.url.split("?")[0]}" answered 400: `));
    assert.match(error.message, /\[redacted\]/);
    for (
      const value of [
        ...Object.values(secrets),
        TOKEN,
        btoa(`ops:${secrets.password}`),
        seen.url.searchParams.get("Sign")!,
      ]
    ) {
      assert.ok(!error.message.includes(value), `${value} in ${error.message}`);
      // Nor a start of it cut by the snippet's length.
      assert.ok(!error.message.includes(value.slice(0, 6)), `${value} in ${error.message}`);
    }
  }
});

Deno.test("webhook_forwarder: a network error never shows the URL's credentials or query secrets", async () => {
  const closed = receiver(() => new Response("ok"));
  const url = new URL(closed.url);
  await closed[Symbol.asyncDispose]();
  url.username = "ops";
  url.password = "pa55-w0rd-9";
  url.searchParams.set("api_key", "q-secret-7431");
  await using plugin = forwarder({ url: url.href });
  const error = await failure(plugin.handle(event("12"), signal));
  assert.match(error.message, /Connection refused/);
  for (const value of ["pa55-w0rd-9", "q-secret-7431", "ops:"]) {
    assert.ok(!error.message.includes(value), error.message);
  }
});

Deno.test("webhook_forwarder: concurrency caps the requests in flight", async () => {
  let inFlight = 0;
  let most = 0;
  await using target = receiver(async () => {
    most = Math.max(most, ++inFlight);
    // Hold each request long enough for the others to pile up behind the cap.
    await new Promise((done) => setTimeout(done, 30));
    inFlight--;
    return new Response("ok");
  });
  await using plugin = forwarder({ url: target.url, concurrency: 2 });
  await Promise.all(Array.from({ length: 8 }, (_, i) => plugin.handle(event(String(i)), signal)));
  assert.equal(target.received.length, 8);
  assert.equal(most, 2);

  // A caller whose signal aborts while waiting for a slot leaves the queue.
  const controller = new AbortController();
  const busy = [plugin.handle(event("a"), signal), plugin.handle(event("b"), signal)];
  const waiting = plugin.handle(event("c"), controller.signal);
  controller.abort(new RangeError("gave up"));
  const error = await failure(waiting);
  assert.match(error.message, /aborted: gave up$/);
  await Promise.all(busy);
  assert.equal(target.received.length, 10);
});

Deno.test("webhook_forwarder: parseOptions reports every bad option at once", () => {
  assert.throws(
    () =>
      webhookForwarder.parseOptions({
        url: 5,
        format: "xml",
        timeout: 60,
        headers: { Host: "x", "X-Ok": "fine", "X-Bad": true },
        verb: "PUT",
      }),
    (error: unknown) => {
      assert.ok(error instanceof AggregateError);
      assert.deepEqual(error.errors.map((e: Error) => [e.name, e.message]), [
        [
          "TypeError",
          "options.verb: unknown option; expected one of url, format, headers, timeout, secret, token, concurrency",
        ],
        ["TypeError", "options.url: expected an http or https URL, got 5"],
        ["RangeError", 'options.format: expected "tencent" or "envelope", got "xml"'],
        ["RangeError", "options.headers.Host: this header is set by the plugin"],
        ["TypeError", "options.headers.X-Bad: expected a string value"],
        ["RangeError", "options.timeout: expected a duration such as 500ms, 10s or 2m, got 60"],
      ]);
      return true;
    },
  );
});
