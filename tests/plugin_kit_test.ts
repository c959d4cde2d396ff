/** `imhookd plugin test`: one configured plugin run on a sample or a body, without the daemon. */
import assert from "node:assert/strict";
import { baseConfig, cli, recorded, refusedPort, ROOT, workspace } from "./_helpers.ts";

const DECIDER = `export default {
  name: "decider",
  create: () => ({
    decide(event) {
      const text = event.payload.MsgBody?.[0]?.MsgContent?.Text ?? "";
      return text.includes("spam") ? { verdict: "reject", code: 10101, info: "no spam" } : undefined;
    },
    handle() {},
  }),
};
`;

function config(port: number): string {
  return baseConfig(`log:
  format: json
plugins:
  - name: recorder
    use: ${ROOT}tests/fixtures/recorder.ts
    permissions: { read: [.], write: [.] }
    options: { path: ./events.jsonl }
  - name: groups
    use: ${ROOT}tests/fixtures/recorder.ts
    on: ["Group.*", "C2C.CallbackAfterSendMsg"]
    permissions: { read: [.], write: [.] }
    options: { path: ./groups.jsonl }
  - name: notify
    use: ${ROOT}tests/fixtures/unreachable.ts
    permissions: { net: ["127.0.0.1:${port}"] }
    options: { url: "http://127.0.0.1:${port}/hook" }
  - name: decider
    use: ./decider.ts
    on: ["Group.CallbackBeforeSendMsg"]
  - name: sealed
    use: ${ROOT}tests/fixtures/misbehave.ts
    options: { path: ./sealed.jsonl }
`);
}

/**
 * A workspace with the config above (`settings` before its plugins) and the decider's module;
 * `notify` posts to a port that refuses connections.
 */
async function kitWorkspace(settings = "") {
  const yaml = config(await refusedPort()).replace("plugins:", `${settings}plugins:`);
  const ws = await workspace(yaml);
  await Deno.writeTextFile(`${ws.dir}/decider.ts`, DECIDER);
  return ws;
}

Deno.test("plugin test: runs handle on a sample of the first command the plugin's on matches", async () => {
  await using ws = await kitWorkspace();
  const result = await cli(["plugin", "test", "--config", ws.config, "--plugin", "groups"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    /^Plugin groups \(.*recorder\.ts\), C2C\.CallbackAfterSendMsg callback \d+:\n {2}handle: ok \(\d+ ms\)\n$/,
  );
  const [event] = await recorded(`${ws.dir}/groups.jsonl`);
  assert.equal(event!.command, "C2C.CallbackAfterSendMsg");
  assert.equal((event!.payload as { CallbackCommand: string }).CallbackCommand, event!.command);
  assert.equal(event!.sdkAppId, "1400000000");
  assert.equal(event!.attempt, 1);
  // Nothing was journaled: there is no daemon and no journal.
  await assert.rejects(() => Deno.stat(`${ws.dir}/journal.db`), Deno.errors.NotFound);
});

Deno.test("plugin test: a body from stdin with --set, its command from the body, and warnings", async () => {
  await using ws = await kitWorkspace();
  const body = JSON.stringify({ CallbackCommand: "State.StateChange", Info: { Action: "Login" } });
  const result = await cli(
    [
      "plugin",
      "test",
      "--config",
      ws.config,
      "--plugin",
      "groups",
      "--body",
      "-",
      "--set",
      "Info.To_Account=bob",
    ],
    {},
    body,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stderr,
    /^Warning: serve would not deliver State\.StateChange to groups \(on: Group\.\*, C2C\.CallbackAfterSendMsg\)$/m,
  );
  const [event] = await recorded(`${ws.dir}/groups.jsonl`);
  assert.deepEqual(event!.payload, {
    CallbackCommand: "State.StateChange",
    Info: { Action: "Login", To_Account: "bob" },
  });
  const broken = await cli(
    ["plugin", "test", "--config", ws.config, "--plugin", "recorder", "--body", "-"],
    {},
    JSON.stringify({ CallbackCommand: "Group.CallbackAfterSendMsg" }),
  );
  assert.equal(broken.code, 0, broken.stderr);
  assert.match(broken.stderr, /^Warning: serve would quarantine this body: GroupId: required/m);
});

Deno.test("plugin test: a failing handle exits 1 with the error's causes and what serve would do", async () => {
  await using ws = await kitWorkspace();
  const result = await cli(["plugin", "test", "--config", ws.config, "--plugin", "notify"]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stdout,
    /\n {2}handle: failed after \d+ ms: TypeError: .*\n {2}\(serve retries it, up to delivery\.max_attempts\)\n$/,
  );
  const unknown = await cli(["plugin", "test", "--config", ws.config, "--plugin", "nope"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^There is no plugin "nope" in /);
  const noName = await cli(["plugin", "test", "--config", ws.config]);
  assert.equal(noName.code, 2);
  assert.match(noName.stderr, /^"plugin test" needs --plugin NAME/);
  const other = await cli(["plugin", "run", "--config", ws.config, "--plugin", "notify"]);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /^Unknown subcommand "plugin run"/);
});

Deno.test("plugin test: a decider's decision is printed for a decision command", async () => {
  await using ws = await kitWorkspace();
  const spam = await cli([
    "plugin",
    "test",
    "--config",
    ws.config,
    "--plugin",
    "decider",
    "--set",
    "MsgBody.0.MsgContent.Text=spam!",
  ]);
  assert.equal(spam.code, 0, spam.stderr);
  assert.match(
    spam.stdout,
    /^Plugin decider \(\.\/decider\.ts\), Group\.CallbackBeforeSendMsg callback \d+:\n {2}decide: \{"verdict":"reject","code":10101,"info":"no spam"\} \(\d+ ms\)\n {2}handle: ok/,
  );
  const fine = await cli(["plugin", "test", "--config", ws.config, "--plugin", "decider"]);
  assert.match(fine.stdout, /\n {2}decide: no opinion \(\d+ ms\)\n/);
});

Deno.test("plugin test: the plugin runs with its entry's permissions, as under serve", async () => {
  await using ws = await kitWorkspace();
  // misbehave.ts appends to options.path, in the workspace: its entry grants no write there.
  const result = await cli(["plugin", "test", "--config", ws.config, "--plugin", "sealed"]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stdout,
    /\n {2}handle: failed after \d+ ms: .*plugins\[4\]\.permissions\.write/,
  );
  assert.match(result.stdout, /\(permanent: serve makes it a dead letter at once\)\n$/);
  await assert.rejects(Deno.stat(`${ws.dir}/sealed.jsonl`), Deno.errors.NotFound);
});

/** `plugin test` of the misbehaving plugin on a message whose text says how to misbehave. */
async function misbehaving(text: string, settings = "") {
  await using ws = await kitWorkspace(settings);
  const command = ["--command", "Group.CallbackAfterSendMsg"];
  const set = ["--set", `MsgBody.0.MsgContent.Text=${text}`];
  return await cli([
    "plugin",
    "test",
    "--config",
    ws.config,
    "--plugin",
    "sealed",
    ...command,
    ...set,
  ]);
}

Deno.test("plugin test: a handle that never yields fails at handler_timeout and the command ends", async () => {
  const result = await misbehaving("loop", "delivery:\n  handler_timeout: 2s\n");
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stdout,
    /\n {2}handle: failed after \d+ ms: did not finish within delivery\.handler_timeout\n {2}\(its thread never yields: serve restarts the plugin after delivery\.plugin_stall/,
  );
});

Deno.test("plugin test: a plugin that exits is reported as serve would restart it", async () => {
  const result = await misbehaving("exit");
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stdout,
    /\n {2}handle: failed after \d+ ms: the plugin exited \(the plugin called Deno\.exit\(1\)\)/,
  );
  assert.match(result.stdout, /serve restarts the plugin and makes this callback its dead letter/);
});
