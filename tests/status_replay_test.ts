/**
 * `status` and `replay`, end to end: the real CLI beside a running `serve`, against the
 * journal that `serve` writes.
 */
import assert from "node:assert/strict";
import {
  baseConfig,
  cli,
  eventually,
  recorded,
  ROOT,
  serve,
  signedQuery,
  workspace,
} from "./_helpers.ts";

const MESSAGE = "Group.CallbackAfterSendMsg";

/** A config with `healthy` (the recorder) and `flaky` (fails while `./down` exists). */
function config(plugins: { healthy?: boolean; flaky?: boolean }, maxAttempts = 2): string {
  return baseConfig(`delivery:
  max_attempts: ${maxAttempts}
  initial_backoff: 10ms
  max_backoff: 50ms
log:
  level: info
  format: json
plugins:
${
    plugins.healthy
      ? `  - name: healthy
    use: ${ROOT}tests/fixtures/recorder.ts
    permissions: { read: [.], write: [.] }
    options: { path: ./healthy.jsonl }
`
      : ""
  }${
    plugins.flaky
      ? `  - name: flaky
    use: ${ROOT}tests/fixtures/gate.ts
    permissions: { read: [.], write: [.] }
    options: { path: ./flaky.jsonl, marker: ./down }
`
      : ""
  }`);
}

async function post(url: string, command: string, body: string): Promise<number> {
  const response = await fetch(`${url}?${signedQuery(command)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await response.body?.cancel();
  return response.status;
}

function message(seq: number): string {
  return JSON.stringify({
    CallbackCommand: MESSAGE,
    GroupId: "@TGS#status",
    From_Account: "jared",
    MsgSeq: seq,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message ${seq}` } }],
  });
}

interface Row {
  plugin: string;
  pending: number;
  dead: number;
  oldest: string;
}

/** Runs `status` and parses its output. */
async function status(file: string): Promise<{ head: string; rows: Row[] }> {
  const out = await cli(["status", "--config", file]);
  assert.equal(out.code, 0, out.stderr);
  const lines = out.stdout.trimEnd().split("\n");
  assert.equal(lines[1], "");
  assert.match(lines[2]!, /^plugin\s+pending\s+dead\s+oldest pending$/);
  // The table ends at a blank line; the running serve's plugin states may follow it.
  const end = lines.indexOf("", 3);
  return {
    head: lines[0]!,
    rows: lines.slice(3, end < 0 ? undefined : end).map((line) => {
      const match = /^(.+?)\s+(\d+)\s+(\d+)\s+(\S+)$/.exec(line);
      assert.ok(match, `unexpected status line "${line}"`);
      return {
        plugin: match[1]!,
        pending: Number(match[2]),
        dead: Number(match[3]),
        oldest: match[4]!,
      };
    }),
  };
}

async function lines(path: string): Promise<Record<string, unknown>[]> {
  return await recorded(path);
}

Deno.test("status/replay: dead letters are counted, revived by `replay --dead` and delivered by the running serve", async () => {
  await using ws = await workspace(config({ healthy: true, flaky: true }));
  await Deno.writeTextFile(`${ws.dir}/down`, "");
  await using served = await serve(ws.config);
  for (let seq = 1; seq <= 3; seq++) {
    assert.equal(await post(served.url, MESSAGE, message(seq)), 200);
  }
  assert.equal(await post(served.url, "Custom.Event", '{"CallbackCommand":"Custom.Event"}'), 200);
  // Authenticated but not JSON: 400, kept in the quarantine.
  assert.equal(await post(served.url, MESSAGE, "{not json"), 400);

  const healthy = `${ws.dir}/healthy.jsonl`;
  const flaky = `${ws.dir}/flaky.jsonl`;
  await eventually(async () => (await lines(healthy)).length === 4, "healthy has all four");
  await eventually(
    async () => (await status(ws.config)).rows.find((r) => r.plugin === "flaky")?.dead === 4,
    "four dead letters",
  );
  const before = await status(ws.config);
  assert.match(
    before.head,
    /^Journal .*\/journal\.db: 4 callbacks, 1 quarantined, \d+\.\d (KiB|MiB)$/,
  );
  assert.deepEqual(before.rows, [
    { plugin: "healthy", pending: 0, dead: 0, oldest: "-" },
    { plugin: "flaky", pending: 0, dead: 4, oldest: "-" },
  ]);
  assert.deepEqual(await lines(flaky), []);

  // After the fix, `replay --dead` makes them pending; the running serve delivers them.
  await Deno.remove(`${ws.dir}/down`);
  const dead = await cli(["replay", "--config", ws.config, "--dead", "--plugin", "flaky"]);
  assert.equal(dead.code, 0, dead.stderr);
  assert.equal(dead.stdout.trim(), "Selected 4 dead letter(s) for delivery again.");
  await eventually(async () => (await lines(flaky)).length === 4, "flaky got the revived four");
  const revived = await lines(flaky);
  assert.deepEqual(revived.map((e) => e.attempt), [1, 1, 1, 1]);
  // The group's three in journal order; Custom.Event has no group and may come anywhere.
  assert.deepEqual(revived.map((e) => Number(e.id)).filter((id) => id !== 4), [1, 2, 3]);
  await eventually(
    async () => (await status(ws.config)).rows.every((r) => r.pending === 0 && r.dead === 0),
    "nothing left pending or dead",
  );

  // `--dead` again finds nothing; `--command` picks the group messages only.
  const none = await cli(["replay", "--config", ws.config, "--dead"]);
  assert.equal(none.stdout.trim(), "Selected 0 dead letter(s) for delivery again.");
  const picked = await cli([
    "replay",
    "--config",
    ws.config,
    "--plugin",
    "healthy",
    "--command",
    "Group.*",
    "--since",
    "1h",
  ]);
  assert.equal(picked.code, 0, picked.stderr);
  assert.equal(picked.stdout.trim(), "Selected 3 deliveries for delivery again.");
  await eventually(async () => (await lines(healthy)).length === 7, "three re-delivered");
  const again = (await lines(healthy)).slice(4);
  assert.deepEqual(again.map((e) => e.command), [MESSAGE, MESSAGE, MESSAGE]);
  assert.deepEqual(again.map((e) => Number(e.id)), [1, 2, 3]);

  // `--since 1h` without a filter re-delivers all four delivered ones to the plugin.
  const all = await cli(["replay", "--config", ws.config, "--plugin", "flaky", "--since", "1h"]);
  assert.equal(all.stdout.trim(), "Selected 4 deliveries for delivery again.");
  await eventually(async () => (await lines(flaky)).length === 8, "four re-delivered");
  // A time range that holds nothing selects nothing.
  const future = new Date(Date.now() + 3_600_000).toISOString();
  const empty = await cli(["replay", "--config", ws.config, "--since", future]);
  assert.equal(empty.stdout.trim(), "Selected 0 deliveries for delivery again.");
  assert.equal(await served.stop(), 0);
  assert.equal((await lines(healthy)).length, 7);
});

Deno.test("status/replay: a plugin removed from the config keeps its pending deliveries, shown as not configured, until it comes back", async () => {
  await using ws = await workspace(config({ healthy: true, flaky: true }, 1000));
  await Deno.writeTextFile(`${ws.dir}/down`, "");
  {
    await using served = await serve(ws.config);
    for (let seq = 1; seq <= 3; seq++) {
      assert.equal(await post(served.url, MESSAGE, message(seq)), 200);
    }
    await eventually(async () => (await lines(`${ws.dir}/healthy.jsonl`)).length === 3, "healthy");
    assert.equal(await served.stop(), 0);
  }
  await Deno.writeTextFile(ws.config, config({ healthy: true }));
  {
    await using served = await serve(ws.config);
    assert.equal(await post(served.url, MESSAGE, message(4)), 200);
    await eventually(async () => (await lines(`${ws.dir}/healthy.jsonl`)).length === 4, "fourth");
    const shown = await status(ws.config);
    assert.match(shown.head, /: 4 callbacks, 0 quarantined, /);
    assert.equal(shown.rows.length, 2);
    assert.deepEqual(shown.rows[0], { plugin: "healthy", pending: 0, dead: 0, oldest: "-" });
    const removed = shown.rows[1]!;
    assert.equal(removed.plugin, "flaky (not configured)");
    assert.equal(removed.pending, 3);
    assert.equal(removed.dead, 0);
    assert.match(removed.oldest, /^\d+s$/);
    // `replay` only knows configured plugins.
    const refused = await cli(["replay", "--config", ws.config, "--plugin", "flaky", "--dead"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /There is no plugin "flaky" in /);
    assert.equal(await served.stop(), 0);
  }
  await Deno.remove(`${ws.dir}/down`);
  await Deno.writeTextFile(ws.config, config({ healthy: true, flaky: true }, 1000));
  {
    await using served = await serve(ws.config);
    await eventually(async () => (await lines(`${ws.dir}/flaky.jsonl`)).length === 3, "resumed");
    const got = await lines(`${ws.dir}/flaky.jsonl`);
    // Only what was routed to it while it was configured; attempts carried over.
    assert.deepEqual(got.map((e) => Number(e.id)), [1, 2, 3]);
    // The head of the group kept its attempts across restarts; the others waited behind it.
    assert.ok(Number(got[0]!.attempt) > 1, `attempts of the head: ${got[0]!.attempt}`);
    assert.deepEqual(got.slice(1).map((e) => e.attempt), [1, 1]);
    await eventually(
      async () => (await status(ws.config)).rows.every((r) => r.pending === 0),
      "nothing pending",
    );
    assert.equal(await served.stop(), 0);
  }
});
