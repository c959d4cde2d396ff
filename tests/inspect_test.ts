/**
 * What operators look at, end to end beside a running `serve`: `dead` (with the errors'
 * causes), `show ID`, `quarantine`, and `replay --dry-run` / `--all`.
 */
import assert from "node:assert/strict";
import {
  auditAndDownNotify,
  baseConfig,
  cli,
  cliOnTerminal,
  eventually,
  recorded,
  serve,
  signedQuery,
  workspace,
} from "./_helpers.ts";

const MESSAGE = "Group.CallbackAfterSendMsg";

async function config(): Promise<string> {
  return baseConfig(await auditAndDownNotify("?key=s3cret-key"));
}

async function post(url: string, command: string, body: string): Promise<number> {
  const response = await fetch(`${url}?${signedQuery(command)}`, { method: "POST", body });
  await response.body?.cancel();
  return response.status;
}

function message(seq: number): string {
  return JSON.stringify({
    CallbackCommand: MESSAGE,
    GroupId: "@TGS#inspect",
    From_Account: "jared",
    MsgSeq: seq,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message ${seq}` } }],
  });
}

Deno.test("inspect: dead lists dead letters with the error's cause, show prints one whole, quarantine says why", async () => {
  await using ws = await workspace(await config());
  await using served = await serve(ws.config);
  for (const seq of [1, 2]) assert.equal(await post(served.url, MESSAGE, message(seq)), 200);
  assert.equal(
    await post(
      served.url,
      "State.StateChange",
      '{"CallbackCommand":"State.StateChange","Info":{"Action":"Login","To_Account":"u1","Reason":"Register"}}',
    ),
    200,
  );
  assert.equal(
    await post(served.url, MESSAGE, '{"CallbackCommand":"Group.CallbackAfterSendMsg"}'),
    400,
  );

  const dead = async (): Promise<Record<string, unknown>[]> => {
    const out = await cli(["dead", "--config", ws.config]);
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout); // not a terminal: JSON
  };
  await eventually(async () => (await dead()).length === 2, "two dead letters");
  const letters = await dead();
  assert.deepEqual(
    letters.map(({ id, plugin, command, groupKey, attempts }) => ({
      id,
      plugin,
      command,
      groupKey,
      attempts,
    })),
    [
      { id: 2, plugin: "notify", command: MESSAGE, groupKey: "g:@TGS#inspect", attempts: 2 },
      { id: 1, plugin: "notify", command: MESSAGE, groupKey: "g:@TGS#inspect", attempts: 2 },
    ],
  );
  const error = letters[0]!.error as string;
  // The cause, not just "fetch failed"; the URL's query value masked.
  assert.match(error, /^TypeError: fetch failed; caused by .*Connection refused/);
  assert.match(error, /\/hook\?key=\*\*\*/);
  assert.ok(!error.includes("s3cret-key"), error);
  assert.match(letters[0]!.receivedAt as string, /^\d{4}-\d\d-\d\dT/);
  // Each died after its two attempts, and just now.
  for (const letter of letters) {
    const died = Date.parse(letter.diedAt as string);
    assert.ok(died >= Date.parse(letter.receivedAt as string), `${letter.diedAt} after receipt`);
    assert.ok(Date.now() - died < 60_000, `${letter.diedAt} is recent`);
  }
  assert.deepEqual(
    JSON.parse((await cli(["dead", "--config", ws.config, "--plugin", "audit"])).stdout),
    [],
  );
  const unknown = await cli(["dead", "--config", ws.config, "--plugin", "nope"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^There is no plugin "nope" in /);

  const shown = await cli(["show", "--config", ws.config, "2"]);
  assert.equal(shown.code, 0, shown.stderr);
  const detail = JSON.parse(shown.stdout);
  assert.equal(detail.command, MESSAGE);
  assert.equal(detail.groupKey, "g:@TGS#inspect");
  assert.equal(detail.body, message(2));
  assert.deepEqual(detail.deliveries, [
    { plugin: "audit", state: "delivered" },
    { plugin: "notify", state: "dead", attempts: 2, diedAt: letters[0]!.diedAt, error },
  ]);
  // On a terminal: tables, with when each letter was received and when it died.
  const table = await cliOnTerminal(["dead", "--config", ws.config]);
  assert.equal(table.code, 0, table.output);
  const [header, ...rows] = table.output.trim().split("\n");
  assert.match(header!, /^ID +PLUGIN +COMMAND +GROUP +ATTEMPTS +RECEIVED +DIED +LAST ERROR$/);
  assert.match(
    rows[0]!,
    /^2 +notify +Group\.CallbackAfterSendMsg +@TGS#inspect +2 +\d{4}-.*ago\) +\d{4}-.*ago\) +TypeError: fetch failed/,
  );
  const whole = await cliOnTerminal(["show", "--config", ws.config, "2"]);
  assert.equal(whole.code, 0, whole.output);
  assert.match(whole.output, /^ +notify +dead since \S+ ago +2 +TypeError: fetch failed/m);
  const state = JSON.parse((await cli(["show", "--config", ws.config, "3"])).stdout);
  assert.deepEqual(state.deliveries, [
    { plugin: "audit", state: "delivered" },
    { plugin: "notify", state: "not subscribed" },
  ]);
  const missing = await cli(["show", "--config", ws.config, "99"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^There is no callback 99 in /);
  const badId = await cli(["show", "--config", ws.config, "x"]);
  assert.equal(badId.code, 2);
  assert.match(badId.stderr, /^ID "x" is not a journal id/);
  const noId = await cli(["show", "--config", ws.config]);
  assert.equal(noId.code, 2);
  assert.match(noId.stderr, /^"show" needs ID/);

  const quarantine = await cli(["quarantine", "--config", ws.config, "--json"]);
  assert.equal(quarantine.code, 0, quarantine.stderr);
  const [kept, ...more] = JSON.parse(quarantine.stdout);
  assert.deepEqual(more, []);
  assert.equal(kept.command, MESSAGE);
  assert.equal(kept.body, '{"CallbackCommand":"Group.CallbackAfterSendMsg"}');
  assert.match(kept.reason, /GroupId/);
  assert.doesNotMatch(kept.query, /Sign=/);
  const quarantineTable = await cliOnTerminal(["quarantine", "--config", ws.config]);
  assert.equal(quarantineTable.code, 0, quarantineTable.output);
  const [quarantineHeader, quarantineRow] = quarantineTable.output.trim().split("\n");
  assert.match(quarantineHeader!, /^ID +RECEIVED +APP +COMMAND +BODY +WHY$/);
  assert.match(
    quarantineRow!,
    /^1 +\d{4}-.*ago\) +1400000000 +Group\.CallbackAfterSendMsg +\{"CallbackCommand":"Group\.CallbackAfterSendMsg"\} +.*GroupId/,
  );
  assert.match(
    quarantineTable.output,
    /1 quarantined request\(s\)\. "--json" prints the bodies whole\.\n$/,
  );

  const status = await cli(["status", "--config", ws.config]);
  assert.match(status.stdout, /"imhookd dead --config FILE" lists the 2 dead letter\(s\) and why/);
  assert.match(status.stdout, /"imhookd quarantine --config FILE" lists the 1 quarantined request/);
  assert.equal(await served.stop(), 0);
});

Deno.test("inspect: replay needs a selector or --all, and --dry-run changes nothing", async () => {
  await using ws = await workspace(await config());
  {
    await using served = await serve(ws.config);
    for (const seq of [1, 2, 3]) assert.equal(await post(served.url, MESSAGE, message(seq)), 200);
    assert.equal(
      await post(
        served.url,
        "State.StateChange",
        '{"CallbackCommand":"State.StateChange","Info":{"Action":"Login","To_Account":"u1","Reason":"Register"}}',
      ),
      200,
    );
    await eventually(
      async () => (await recorded(`${ws.dir}/audit.jsonl`)).length === 4,
      "audit has all four",
    );
    await eventually(
      async () => JSON.parse((await cli(["dead", "--config", ws.config])).stdout).length === 3,
      "three dead letters",
    );
    assert.equal(await served.stop(), 0);
  }
  const bare = await cli(["replay", "--config", ws.config]);
  assert.equal(bare.code, 2);
  assert.match(
    bare.stderr,
    /^Without --plugin, --command, --since, --until or --dead, replay delivers every journaled callback again to every plugin: add --all/,
  );

  const dry = await cli(["replay", "--config", ws.config, "--all", "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(
    dry.stdout,
    `Dry run: would select 7 deliveries for delivery again; nothing changed.

PLUGIN  DELIVERIES
audit   4
notify  3

COMMAND                     DELIVERIES
${MESSAGE}  6
State.StateChange           1
`,
  );
  const deadDry = await cli(["replay", "--config", ws.config, "--dead", "--dry-run"]);
  assert.match(
    deadDry.stdout,
    /^Dry run: would select 3 dead letter\(s\) for delivery again; nothing changed\./,
  );
  // Nothing changed: the dead letters are still dead, nothing is pending.
  const status = await cli(["status", "--config", ws.config]);
  assert.match(status.stdout, /^audit\s+0\s+0\s+-$/m);
  assert.match(status.stdout, /^notify\s+0\s+3\s+-$/m);

  const all = await cli(["replay", "--config", ws.config, "--all"]);
  assert.equal(all.stdout.trim(), "Selected 7 deliveries for delivery again.");
  const after = await cli(["status", "--config", ws.config]);
  assert.match(after.stdout, /^audit\s+4\s+0\s+/m);
  assert.match(after.stdout, /^notify\s+3\s+0\s+/m);
});
