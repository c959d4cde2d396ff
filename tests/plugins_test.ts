import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { computeSign } from "../core/listener/verify.ts";
import { cli, eventually, ROOT, seeds, sendFile, serve, TOKEN, workspace } from "./_helpers.ts";

interface Received {
  url: URL;
  headers: Headers;
  body: string;
}

/** A webhook receiver on 127.0.0.1 port 0 that records what it gets. */
function receiver(): { url: string; received: Received[] } & AsyncDisposable {
  const received: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    received.push({
      url: new URL(request.url),
      headers: request.headers,
      body: await request.text(),
    });
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function rows(db: DatabaseSync, sql: string): Record<string, unknown>[] {
  return db.prepare(sql).all().map((row) => ({ ...row }));
}

Deno.test("plugins: the seeds sent with `send` land in the JSONL file, the forwarder's receiver and SQLite", async () => {
  await using hook = receiver();
  await using ws = await workspace(`
server:
  listen: 127.0.0.1:0
apps:
  - sdk_app_id: 1400000000
    token: ${TOKEN}
journal:
  path: ./journal.db
log:
  format: json
plugins:
  - name: audit
    use: builtin:file_logger
    options:
      path: ./data/callbacks.jsonl
  - name: forward
    use: builtin:webhook_forwarder
    options:
      url: ${hook.url}
      token: downstream-token
  - name: group_state
    use: builtin:sqlite_sync
    on: ["Group.*"]
    options:
      path: ./data/im.db
`);
  await using served = await serve(ws.config);
  const list = await seeds();
  for (const seed of list) {
    const sent = await sendFile(ws.config, seed.command, seed.file, served.url);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  }
  const jsonl = `${ws.dir}/data/callbacks.jsonl`;
  const lines = async (): Promise<Record<string, unknown>[]> => {
    try {
      return (await Deno.readTextFile(jsonl)).trim().split("\n").map((l) => JSON.parse(l));
    } catch {
      return [];
    }
  };
  await eventually(async () => (await lines()).length === list.length, "file logger wrote all");
  await eventually(() => hook.received.length === list.length, "forwarder delivered all");
  await eventually(() => {
    using db = openReader(`${ws.dir}/data/im.db`);
    return rows(db.db, "SELECT 1 FROM group_messages").length === 1 &&
      rows(db.db, "SELECT 1 FROM group_attrs").length === 2;
  }, "sqlite_sync applied all");
  assert.equal(await served.stop(), 0);

  // File logger: one line per callback, the payload exactly as sent.
  for (const line of await lines()) {
    const seed = list.find((s) =>
      JSON.stringify(JSON.parse(s.text)) === JSON.stringify(line.payload)
    );
    assert.ok(seed, `unexpected line ${JSON.stringify(line)}`);
    assert.equal(line.command, seed.command);
    assert.equal(line.sdk_app_id, "1400000000");
    assert.equal(line.client_ip, "127.0.0.1");
    assert.equal(line.opt_platform, "RESTAPI");
    assert.match(String(line.received_at), /^\d{4}-\d\d-\d\dT/);
  }

  // Forwarder: the original body and query, re-signed with its own token.
  for (const got of hook.received) {
    const seed = list.find((s) => s.text === got.body);
    assert.ok(seed, "forwarded body is the original body");
    assert.equal(got.url.searchParams.get("CallbackCommand"), seed.command);
    assert.equal(got.url.searchParams.get("SdkAppid"), "1400000000");
    assert.equal(got.url.searchParams.get("ClientIP"), "127.0.0.1");
    assert.match(got.headers.get("webhook-id") ?? "", /^\d+$/);
    const requestTime = got.url.searchParams.get("RequestTime")!;
    assert.equal(got.url.searchParams.get("Sign"), computeSign("downstream-token", requestTime));
  }

  // SQLite: the state the seeds describe, read through a separate connection.
  using reader = openReader(`${ws.dir}/data/im.db`);
  const db = reader.db;
  const [group] = rows(db, "SELECT * FROM groups");
  assert.equal(group?.group_id, "@TGS#2J4SZEAEL");
  assert.equal(group?.sdk_app_id, "1400000000");
  assert.equal(group?.name, "NewGroupName");
  assert.equal(group?.introduction, "NewIntroduction");
  assert.equal(group?.notification, "NewNotification");
  assert.equal(group?.face_url, "NewFaceUrl");
  assert.deepEqual(
    rows(db, "SELECT key, value FROM group_custom_fields ORDER BY key"),
    [
      { key: "UserDefinedKey1", value: "UserDefinedValue1" },
      { key: "UserDefinedKey2", value: "UserDefinedValue2" },
      { key: "UserDefinedKey3", value: "UserDefinedValue3" },
    ],
  );
  assert.deepEqual(rows(db, "SELECT key, value, updated_at_ms FROM group_attrs ORDER BY key"), [
    { key: "key1", value: "value1", updated_at_ms: 1670574414123 },
    { key: "key2", value: "values", updated_at_ms: 1670574414123 },
  ]);
  const [message] = rows(db, "SELECT * FROM group_messages");
  assert.equal(message?.group_id, "@TGS#2J4SZEAEL");
  assert.equal(message?.topic_id, "");
  assert.equal(message?.msg_seq, 123);
  assert.equal(message?.from_account, "jared");
  assert.equal(message?.operator_account, "admin");
  assert.equal(message?.random, 123456);
  assert.equal(message?.msg_time, 1490686222);
  assert.equal(message?.online_only_flag, 1);
  assert.equal(message?.text, "red packet");
  assert.equal(message?.cloud_custom_data, "your cloud custom data");
  assert.equal(message?.event_time_ms, 1670574414123);
  assert.equal(message?.recalled, 0);
  assert.deepEqual(JSON.parse(String(message?.msg_body)), [
    { MsgType: "TIMTextElem", MsgContent: { Text: "red packet" } },
  ]);
});

Deno.test("plugins: the README's example plugin runs end to end", async () => {
  await using hook = receiver();
  await using ws = await workspace(`
server:
  listen: 127.0.0.1:0
apps:
  - sdk_app_id: 1400000000
journal:
  path: ./journal.db
plugins:
  - name: notify_ops
    use: ${ROOT}examples/notify_ops.ts
    on: ["Group.CallbackAfterSendMsg"]
    permissions: { net: ["${new URL(hook.url).host}"] }
    options: { url: "${hook.url}", min_length: 1 }
`);
  const checked = await cli(["check", "--config", ws.config]);
  assert.equal(checked.code, 0, checked.stderr);
  await using served = await serve(ws.config);
  const seed = (await seeds()).find((s) => s.command === "Group.CallbackAfterSendMsg")!;
  const sent = await sendFile(ws.config, seed.command, seed.file, served.url);
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  await eventually(() => hook.received.length === 1, "example plugin posted");
  assert.deepEqual(JSON.parse(hook.received[0]!.body), {
    group: "@TGS#2J4SZEAEL",
    text: "red packet",
  });
});

function openReader(path: string): { db: DatabaseSync } & Disposable {
  const db = new DatabaseSync(path, { readOnly: true });
  return { db, [Symbol.dispose]: () => db.close() };
}
