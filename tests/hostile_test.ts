/**
 * Hostile clients against the real `serve`: they get answers, never a crash, and a real
 * callback keeps getting 200.
 */
import assert from "node:assert/strict";
import {
  baseConfig,
  eventually,
  mainShellCommand,
  recordConfigPath,
  recorded,
  recorderConfig,
  ROOT,
  serveCommand,
  type Served,
  signedQuery,
  workspace,
} from "./_helpers.ts";
import { RUNTIME_ENV } from "../scripts/runtime.ts";

const COMMAND = "Group.CallbackAfterSendMsg";
let seq = 0;

function message(): string {
  return JSON.stringify({
    CallbackCommand: COMMAND,
    GroupId: "@TGS#hostile",
    From_Account: "jared",
    MsgSeq: ++seq,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }],
  });
}

/** `serve` (as `deno task start` runs it) run by `sh` after `setup` (`ulimit -n 256`, ...). */
function serveIn(setup: string, config: string): Promise<Served> {
  const command = mainShellCommand(["serve", "--config", config]);
  return serveCommand("sh", ["-c", `${setup} && exec ${command}`], RUNTIME_ENV);
}

async function callback(served: Served): Promise<{ status: number; text: string }> {
  const response = await fetch(`${served.url}?${signedQuery(COMMAND)}`, {
    method: "POST",
    body: message(),
  });
  return { status: response.status, text: await response.text() };
}

function connect(served: Served): Promise<Deno.TcpConn> {
  const url = new URL(served.url);
  return Deno.connect({ hostname: url.hostname, port: Number(url.port) });
}

/** Whether the server closed `conn` within `ms` (EOF or reset). */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  const closed = (async () => {
    for (;;) if (await conn.read(buffer).catch(() => null) === null) return true as const;
  })();
  try {
    return await Promise.race([closed, open]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `head` and `body` on a new connection and reads the whole answer. */
async function raw(served: Served, head: string, body: string): Promise<string> {
  const conn = await connect(served);
  try {
    await conn.write(new TextEncoder().encode(head + body));
    let text = "";
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(65_536);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
      const end = text.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text)?.[1];
      if (end >= 0 && length !== undefined && text.length >= end + 4 + Number(length)) break;
    }
    return text;
  } finally {
    conn.close();
  }
}

Deno.test("hostile: 400 idle connections under a 256-descriptor limit: serve lives, callbacks get 200", async () => {
  await using ws = await workspace(recorderConfig());
  // Deno itself (not imhookd's logger) prints a plain warning when NODE_EXTRA_CA_CERTS, which
  // some hosts set, cannot be read for want of descriptors; this test is about imhookd's lines.
  await using served = await serveIn("ulimit -n 256 && unset NODE_EXTRA_CA_CERTS", ws.config);
  const idle: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 400; i++) idle.push(await connect(served));
    const answer = await callback(served);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.text, '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}');
    await eventually(
      async () => (await recorded(recordConfigPath(ws.dir))).length === 1,
      "delivered",
    );
  } finally {
    for (const conn of idle) conn.close();
  }
  assert.equal((await callback(served)).status, 200);
  assert.equal(await served.stop(), 0);
  // Out of descriptors before the cap (1024): said as a warning, now and then.
  const logs = served.logs.map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new SyntaxError(`serve wrote a stderr line that is not JSON: ${JSON.stringify(line)}`);
    }
  });
  assert.deepEqual(logs.filter((r) => r.level === "error" || r.level === "fatal"), []);
});

Deno.test("hostile: 100 idle connections against server.max_connections 64: a callback still gets 200", async () => {
  await using ws = await workspace(
    recorderConfig().replace("  path: /im/callback", "  path: /im/callback\n  max_connections: 64"),
  );
  await using served = await serveIn("true", ws.config);
  const idle: Deno.TcpConn[] = [];
  let closed = 0;
  try {
    for (let i = 0; i < 100; i++) {
      const conn = await connect(served);
      closedWithin(conn, 600_000).then((yes) => yes && closed++);
      idle.push(conn);
    }
    // The 36 beyond the cap took the places of the oldest ones.
    await eventually(() => closed === 36, "the oldest idle connections are closed");
    const answer = await callback(served);
    assert.equal(answer.status, 200, answer.text);
    await eventually(() => closed === 37, "the callback's connection took an idle one's place");
  } finally {
    for (const conn of idle) conn.close();
  }
  assert.equal(await served.stop(), 0);
});

Deno.test("hostile: silent and half-sent connections are closed after server.header_timeout", async () => {
  await using ws = await workspace(
    recorderConfig().replace("  path: /im/callback", "  path: /im/callback\n  header_timeout: 1s"),
  );
  await using served = await serveIn("true", ws.config);
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 20; i++) conns.push(await connect(served));
    for (let i = 0; i < 20; i++) {
      const conn = await connect(served);
      await conn.write(new TextEncoder().encode(`POST /im/callback HTTP/1.1\r\nHost: x\r\n`));
      conns.push(conn);
    }
    const closed = await Promise.all(conns.map((conn) => closedWithin(conn, 30_000)));
    assert.deepEqual(closed, conns.map(() => true));
    assert.equal((await callback(served)).status, 200);
  } finally {
    for (const conn of conns) conn.close();
  }
  assert.equal(await served.stop(), 0);
});

Deno.test("hostile: a malformed Host header is answered 400, and nothing secret is logged", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serveIn("true", ws.config);
  const query = signedQuery(COMMAND);
  const sign = new URLSearchParams(query).get("Sign")!;
  for (const host of ["a b", "[::1", "a:99999999"]) {
    const body = message();
    const answer = await raw(
      served,
      `POST /im/callback?${query} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
    );
    assert.match(answer, /^HTTP\/1\.1 400 /, host);
    assert.ok(
      answer.endsWith(
        '{"ActionStatus":"FAIL","ErrorCode":400,"ErrorInfo":"Malformed request target or Host header"}',
      ),
      answer,
    );
  }
  assert.equal((await callback(served)).status, 200);
  assert.equal(await served.stop(), 0);
  const logs = served.logs.join("\n");
  assert.ok(!logs.includes(sign), "the Sign appeared in the logs");
  assert.doesNotMatch(logs, /Request failed|"level":"error"/);
});

Deno.test("hostile: a 0.9 MB body of 450,000 bad elements gets a short answer and short logs", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serveIn("true", ws.config);
  const elements = Array.from({ length: 450_000 }, () => "1").join(",");
  const body =
    `{"CallbackCommand":"${COMMAND}","GroupId":"g","From_Account":"a","MsgBody":[${elements}]}`;
  assert.ok(body.length > 900_000 && body.length < 1_048_576, `${body.length} bytes`);
  const response = await fetch(`${served.url}?${signedQuery(COMMAND)}`, { method: "POST", body });
  assert.equal(response.status, 400);
  const text = await response.text();
  assert.ok(text.length < 600, `${text.length} bytes of answer`);
  assert.equal(
    JSON.parse(text).ErrorInfo,
    "Group.CallbackAfterSendMsg payload: MsgBody[0]: expected an object; MsgBody[1]: expected " +
      "an object; MsgBody[2]: expected an object; MsgBody[3]: expected an object; MsgBody[4]: " +
      "expected an object; and 6 more problems",
  );
  assert.equal((await callback(served)).status, 200);
  assert.equal(await served.stop(), 0);
  const longest = Math.max(...served.logs.map((line) => line.length));
  assert.ok(longest < 2_000, `a log line of ${longest} characters`);
});

Deno.test("hostile: with log.format json, a plugin's Node warnings come out as JSON lines", async () => {
  await using ws = await workspace(baseConfig(`log:
  level: info
  format: json
plugins:
  - name: warns
    use: ${ROOT}tests/fixtures/warns.ts
`));
  await using served = await serveIn("true", ws.config);
  assert.equal((await callback(served)).status, 200);
  await eventually(
    () => served.logs.some((line) => line.includes("a plugin's own warning")),
    "the plugin's warning is logged",
  );
  await eventually(
    () => served.logs.some((line) => line.includes("TimeoutNegativeWarning")),
    "Node's warning is logged",
  );
  assert.equal(await served.stop(), 0);
  for (const line of served.logs) {
    const record = JSON.parse(line);
    assert.equal(typeof record.level, "string", line);
    assert.equal(typeof record.message, "string", line);
  }
  const warning = served.logs.map((line) => JSON.parse(line)).find((r) =>
    r.message.startsWith("TimeoutNegativeWarning")
  );
  assert.equal(warning.logger, "imhookd.process");
  assert.equal(warning.level, "warning");
});

Deno.test("hostile: under umask 022 the journal, inbox, databases and logs are created 0640", async () => {
  await using ws = await workspace(baseConfig(`log:
  level: info
plugins:
  - name: audit
    use: builtin:file_logger
    options: { path: ./logs/callbacks.jsonl }
  - name: state
    use: builtin:sqlite_sync
    options: { path: ./im.db }
`));
  await using served = await serveIn("umask 022", ws.config);
  assert.equal((await callback(served)).status, 200);
  await eventually(async () => {
    try {
      return (await Deno.readTextFile(`${ws.dir}/logs/callbacks.jsonl`)).endsWith("\n");
    } catch {
      return false;
    }
  }, "file_logger wrote the callback");
  const files = [
    "journal.db",
    "journal.db-wal",
    "journal.db-shm",
    "journal.db-inbox",
    "journal.db-inbox.lock",
    "im.db",
    "im.db-wal",
    "im.db-shm",
    "logs/callbacks.jsonl",
  ];
  await eventually(async () => {
    for (const file of files) {
      try {
        await Deno.stat(`${ws.dir}/${file}`);
      } catch {
        return false;
      }
    }
    return true;
  }, "every file exists");
  const modes = await Promise.all(
    files.map(async (file) => [file, ((await Deno.stat(`${ws.dir}/${file}`)).mode ?? 0) & 0o777]),
  );
  assert.deepEqual(modes, files.map((file) => [file, 0o640]));
  assert.equal(await served.stop(), 0);
});
