/**
 * Each plugin's thread has the Deno permissions its entry grants and no more: a plugin denied
 * `net` cannot fetch, one denied `write` cannot write, and the dead letter says which
 * permission and which config key, after one attempt (retrying cannot help).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { baseConfig, cli, eventually, ROOT, serve, signedQuery, workspace } from "./_helpers.ts";

const COMMAND = "Group.CallbackAfterSendMsg";

async function post(url: string, seq: number, text: string): Promise<void> {
  const response = await fetch(`${url}?${signedQuery(COMMAND)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      CallbackCommand: COMMAND,
      GroupId: `@TGS#perm${seq}`,
      From_Account: "jared",
      MsgSeq: seq,
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: text } }],
    }),
  });
  assert.equal(response.status, 200, await response.text());
}

/** `[state, attempts, error]` of each delivery of `plugin`, by MsgSeq. */
function outcomes(dir: string, plugin: string): Map<number, [string, number, string | null]> {
  const db = new DatabaseSync(`${dir}/journal.db`, { readOnly: true });
  try {
    const rows = db.prepare(
      `SELECT c.body AS body, d.state AS state, d.attempts AS attempts, d.last_error AS error
       FROM deliveries d JOIN callbacks c ON c.id = d.callback_id WHERE d.plugin = ?`,
    ).all(plugin) as unknown as { body: string; state: string; attempts: number; error: string }[];
    return new Map(
      rows.map((r) => [JSON.parse(r.body).MsgSeq, [r.state, r.attempts, r.error]]),
    );
  } finally {
    db.close();
  }
}

Deno.test("permissions: a plugin denied net cannot fetch and one denied write cannot write; each dead letter names the permission and its key", async () => {
  const hits: string[] = [];
  await using receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (r) => {
    hits.push(new URL(r.url).pathname);
    return new Response("ok");
  });
  const target = `127.0.0.1:${receiver.addr.port}`;
  await using ws = await workspace(baseConfig(`delivery:
  initial_backoff: 10ms
log:
  format: json
plugins:
  - name: offline
    use: ${ROOT}tests/fixtures/misbehave.ts
    on: ["*"]
    permissions: { read: [.], write: [.] }
    options: { path: ./offline.jsonl }
  - name: online
    use: ${ROOT}tests/fixtures/misbehave.ts
    permissions: { read: [.], write: [.], net: ["${target}"] }
    options: { path: ./online.jsonl }
  - name: defaults
    use: ${ROOT}tests/fixtures/misbehave.ts
    options: { path: ./defaults.jsonl }
`));
  await using served = await serve(ws.config);
  await post(served.url, 1, `fetch http://${target}/from-a-plugin`);
  await post(served.url, 2, `write ${ws.dir}/written.txt`);

  await eventually(
    () =>
      [...outcomes(ws.dir, "offline").values(), ...outcomes(ws.dir, "defaults").values()]
        .every(([state]) => state !== "pending"),
    "every delivery of offline and defaults is settled",
  );
  const config = ws.config.replaceAll(".", "\\.");
  const offline = outcomes(ws.dir, "offline");
  assert.deepEqual(offline.get(1)?.slice(0, 2), ["dead", 1]);
  assert.match(
    offline.get(1)![2]!,
    new RegExp(
      `^NotCapable: plugin "offline" has no net access to "${target}": grant it in plugins\\[0\\]\\.permissions\\.net of ${config} \\(or set permissions: all\\)$`,
    ),
  );
  // Writing inside the config's folder is granted to offline (a delivered callback leaves no row).
  assert.equal(offline.get(2), undefined);
  assert.ok((await Deno.readTextFile(`${ws.dir}/offline.jsonl`)).includes('"MsgSeq":2'));

  // Without permissions, a user plugin may read its own folder and nothing else.
  const defaults = outcomes(ws.dir, "defaults");
  assert.deepEqual(defaults.get(2)?.slice(0, 2), ["dead", 1]);
  assert.match(
    defaults.get(2)![2]!,
    new RegExp(
      `^NotCapable: plugin "defaults" has no write access to "${
        ws.dir.replaceAll(".", "\\.")
      }/written\\.txt": grant it in plugins\\[2\\]\\.permissions\\.write of ${config} \\(or set permissions: all\\)$`,
    ),
  );

  // Granted net to that host and port: the fetch goes through.
  await eventually(() => hits.includes("/from-a-plugin"), "online fetched");
  await eventually(() => outcomes(ws.dir, "online").get(1) === undefined, "online delivered 1");
  assert.equal(await served.stop(), 0);
});

Deno.test("permissions: check loads each plugin on a thread with its permissions", async () => {
  await using ws = await workspace(baseConfig(`plugins:
  - name: audit
    use: builtin:file_logger
    options: { path: ./logs/audit.jsonl }
  - name: mine
    use: ${ROOT}tests/fixtures/misbehave.ts
    permissions: { net: ["example.com:443"], read: [./data] }
    options: { path: ./mine.jsonl }
`));
  const result = await cli(["check", "--config", ws.config]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /\* +-> audit, mine/);
});
