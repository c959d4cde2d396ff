import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  APP,
  cli,
  eventually,
  recordConfigPath,
  recorded,
  recorderConfig,
  seeds,
  sendFile,
  serve,
  signedQuery,
  workspace,
} from "./_helpers.ts";

function countRows(path: string, sql: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

Deno.test("serve: seed examples sent with `send` reach the plugin exactly as sent", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serve(ws.config);
  const list = await seeds();
  for (const seed of list) {
    const sent = await sendFile(ws.config, seed.command, seed.file, served.url);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout.trim(), '200 {"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}');
  }
  const events = recordConfigPath(ws.dir);
  await eventually(async () => (await recorded(events)).length === list.length, "all delivered");
  const got = await recorded(events);
  for (const [i, seed] of list.entries()) {
    const event = got.find((e) => e.rawBody === seed.text);
    assert.ok(event, `${seed.file} was not delivered as sent`);
    assert.equal(event.command, seed.command);
    assert.equal(event.sdkAppId, APP);
    assert.equal(event.clientIp, "127.0.0.1");
    assert.equal(event.optPlatform, "RESTAPI");
    assert.equal(event.attempt, 1);
    assert.deepEqual(event.payload, JSON.parse(seed.text));
    assert.equal(typeof event.receivedAt, "number");
    assert.ok(Number(event.id) >= 1, `event ${i} has a journal id`);
  }
  assert.equal(await served.stop(), 0);
});

Deno.test("serve: `send` without --body posts a realistic sample for each seed command", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serve(ws.config);
  const commands = [
    "Group.CallbackAfterGroupInfoChanged",
    "Group.CallbackAfterSendMsg",
    "Group.CallbackAfterGroupAttrChanged",
  ];
  for (const command of commands) {
    const sent = await cli([
      "send",
      "--config",
      ws.config,
      "--command",
      command,
      "--url",
      served.url,
    ]);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  }
  const events = recordConfigPath(ws.dir);
  await eventually(async () => (await recorded(events)).length === 3, "all delivered");
  const got = await recorded(events);
  assert.deepEqual(got.map((e) => e.command).sort(), [...commands].sort());
  for (const event of got) {
    const eventTime = Number((event.payload as Record<string, unknown>).EventTime);
    assert.ok(Math.abs(Date.now() - eventTime) < 60_000, "EventTime is now");
  }
});

Deno.test("serve: raw HTTP callbacks on one keep-alive connection are delivered with their query fields", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serve(ws.config);
  const list = await seeds();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(served.url).port),
  });
  const reader = conn.readable.getReader();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  let pending = "";
  async function readResponse(): Promise<string> {
    for (;;) {
      const end = pending.indexOf("\r\n\r\n");
      if (end >= 0) {
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
        if (pending.length >= end + 4 + length) {
          const response = pending.slice(0, end + 4 + length);
          pending = pending.slice(end + 4 + length);
          return response;
        }
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("connection closed");
      pending += decoder.decode(value);
    }
  }
  try {
    for (const seed of list) {
      const body = encoder.encode(seed.text);
      const head = `POST /im/callback?${signedQuery(seed.command)} HTTP/1.1\r\n` +
        `Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
      await conn.write(encoder.encode(head));
      await conn.write(body);
      const response = await readResponse();
      assert.match(response, /^HTTP\/1\.1 200 OK/);
      assert.ok(response.endsWith('{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'));
      assert.doesNotMatch(response, /connection: close/i);
    }
  } finally {
    reader.releaseLock();
    conn.close();
  }
  const events = recordConfigPath(ws.dir);
  await eventually(async () => (await recorded(events)).length === list.length, "all delivered");
  for (const event of await recorded(events)) {
    assert.equal(event.clientIp, "203.0.113.7");
    assert.equal(event.optPlatform, "Android");
    assert.ok(list.some((seed) => seed.text === event.rawBody));
  }
  // Nothing secret in the logs.
  assert.ok(served.logs.length > 0);
  for (const line of served.logs) {
    assert.doesNotMatch(line, /e2e-secret-token|Sign=/);
  }
});

Deno.test("serve: each rejection answers its status with a JSON body over a real socket", async () => {
  await using ws = await workspace(
    recorderConfig().replace(
      "  path: /im/callback",
      "  path: /im/callback\n  max_body_bytes: 2048",
    ),
  );
  await using served = await serve(ws.config);
  const base = served.url;
  const seed = (await seeds()).find((s) => s.command === "Group.CallbackAfterSendMsg")!;
  const cases: { name: string; url: string; init: RequestInit; status: number; info: RegExp }[] = [
    {
      name: "path",
      url: base.replace("/im/callback", "/nope"),
      init: { method: "POST" },
      status: 404,
      info: /No callback endpoint/,
    },
    {
      name: "method",
      url: `${base}?${signedQuery(seed.command)}`,
      init: { method: "PUT", body: seed.text },
      status: 405,
      info: /Method PUT/,
    },
    {
      name: "app",
      url: `${base}?${signedQuery(seed.command, { SdkAppid: "1" })}`,
      init: { method: "POST", body: seed.text },
      status: 403,
      info: /SdkAppid "1"/,
    },
    {
      name: "sign",
      url: `${base}?${signedQuery(seed.command, { Sign: "f".repeat(64) })}`,
      init: { method: "POST", body: seed.text },
      status: 401,
      info: /^Sign does not match$/,
    },
    {
      name: "skew",
      url: `${base}?${signedQuery(seed.command, {}, Date.now() - 3_600_000)}`,
      init: { method: "POST", body: seed.text },
      status: 401,
      info: /over max_skew/,
    },
    {
      name: "size",
      url: `${base}?${signedQuery(seed.command)}`,
      init: { method: "POST", body: "x".repeat(4096) },
      status: 413,
      info: /max_body_bytes \(2048\)/,
    },
    {
      name: "json",
      url: `${base}?${signedQuery(seed.command)}`,
      init: { method: "POST", body: "{oops" },
      status: 400,
      info: /not JSON/,
    },
    {
      name: "command",
      url: `${base}?${signedQuery("Group.CallbackAfterGroupFull")}`,
      init: { method: "POST", body: seed.text },
      status: 400,
      info: /differs/,
    },
    {
      name: "schema",
      url: `${base}?${signedQuery(seed.command)}`,
      init: {
        method: "POST",
        body: '{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":7}',
      },
      status: 400,
      info: /payload: /,
    },
  ];
  for (const c of cases) {
    const response = await fetch(c.url, c.init);
    const body = await response.json();
    assert.equal(response.status, c.status, c.name);
    assert.equal(body.ActionStatus, "FAIL", c.name);
    assert.equal(body.ErrorCode, c.status, c.name);
    assert.match(body.ErrorInfo, c.info, c.name);
  }
  // A chunked body with no Content-Length cannot get around the limit.
  const chunks = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(1024).fill(0x20));
      controller.close();
    },
  });
  const chunked = await fetch(`${base}?${signedQuery(seed.command)}`, {
    method: "POST",
    body: chunks,
  });
  assert.equal(chunked.status, 413);
  await chunked.body?.cancel();
  assert.equal(await served.stop(), 0);
  const journal = `${ws.dir}/journal.db`;
  assert.equal(countRows(journal, "SELECT COUNT(*) AS n FROM callbacks"), 0);
  assert.equal(
    countRows(journal, "SELECT COUNT(*) AS n FROM quarantine"),
    3,
    "json, command, schema kept",
  );
});

Deno.test("serve: a burst of 1,000 concurrent callbacks is all answered 200 and journaled once", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serve(ws.config);
  const seed = JSON.parse(
    (await seeds()).find((s) => s.command === "Group.CallbackAfterSendMsg")!.text,
  );
  const query = signedQuery("Group.CallbackAfterSendMsg");
  const send = async (n: number): Promise<number> => {
    const body = JSON.stringify({ ...seed, GroupId: `@TGS#${n % 10}`, MsgSeq: n });
    const response = await fetch(`${served.url}?${query}`, { method: "POST", body });
    await response.body?.cancel();
    return response.status;
  };
  const statuses = await Promise.all(Array.from({ length: 1000 }, (_, n) => send(n)));
  assert.deepEqual(statuses.filter((s) => s !== 200), []);
  // Duplicates of the first hundred are answered 200 and not stored again.
  const again = await Promise.all(Array.from({ length: 100 }, (_, n) => send(n)));
  assert.deepEqual(again.filter((s) => s !== 200), []);
  const events = recordConfigPath(ws.dir);
  await eventually(async () => (await recorded(events)).length >= 1000, "all delivered", 30_000);
  assert.equal(await served.stop(), 0);
  const journal = `${ws.dir}/journal.db`;
  assert.equal(countRows(journal, "SELECT COUNT(*) AS n FROM callbacks"), 1000);
  assert.equal(countRows(journal, "SELECT COUNT(*) AS n FROM deliveries"), 0);
  const got = await recorded(events);
  assert.equal(new Set(got.map((e) => (e.payload as { MsgSeq: number }).MsgSeq)).size, 1000);
  for (let g = 0; g < 10; g++) {
    const seqs = got.filter((e) => (e.payload as { GroupId: string }).GroupId === `@TGS#${g}`)
      .map((e) => Number(e.id));
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      `group ${g} delivered in journal order`,
    );
  }
});

Deno.test("serve: a second serve on the same journal is refused at start, and the first keeps answering", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serve(ws.config);
  await assert.rejects(serve(ws.config), /in use by another imhookd serve on the same journal/);
  const response = await fetch(`${served.url}?${signedQuery("Group.CallbackAfterSendMsg")}`, {
    method: "POST",
    body: JSON.stringify({
      CallbackCommand: "Group.CallbackAfterSendMsg",
      GroupId: "@TGS#second",
      From_Account: "alice",
      MsgSeq: 1,
      MsgBody: [],
    }),
  });
  await response.body?.cancel();
  assert.equal(response.status, 200);
  assert.equal(await served.stop(), 0);
});
