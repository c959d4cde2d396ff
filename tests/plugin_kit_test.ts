/** `imhookd plugin test`: one configured plugin run on a sample or a body, without the daemon. */
import assert from "node:assert/strict";
import { baseConfig, cli, recorded, ROOT, workspace } from "./_helpers.ts";

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

function config(): string {
  return baseConfig(`log:
  format: json
plugins:
  - name: recorder
    use: ${ROOT}tests/fixtures/recorder.ts
    options: { path: ./events.jsonl }
  - name: groups
    use: ${ROOT}tests/fixtures/recorder.ts
    on: ["Group.*", "C2C.CallbackAfterSendMsg"]
    options: { path: ./groups.jsonl }
  - name: notify
    use: ${ROOT}tests/fixtures/unreachable.ts
    options: { url: "http://127.0.0.1:9/hook" }
  - name: decider
    use: ./decider.ts
    on: ["Group.CallbackBeforeSendMsg"]
`);
}

Deno.test("plugin test: runs handle on a sample of the first command the plugin's on matches", async () => {
  await using ws = await workspace(config());
  await Deno.writeTextFile(`${ws.dir}/decider.ts`, DECIDER);
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
  await using ws = await workspace(config());
  await Deno.writeTextFile(`${ws.dir}/decider.ts`, DECIDER);
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
  await using ws = await workspace(config());
  await Deno.writeTextFile(`${ws.dir}/decider.ts`, DECIDER);
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
  await using ws = await workspace(config());
  await Deno.writeTextFile(`${ws.dir}/decider.ts`, DECIDER);
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
