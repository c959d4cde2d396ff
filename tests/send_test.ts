/** `imhookd send` against the real `serve`: fresh samples, `--set`, stdin, the body's command. */
import assert from "node:assert/strict";
import {
  cli,
  eventually,
  recordConfigPath,
  recorded,
  recorderConfig,
  serve,
  workspace,
} from "./_helpers.ts";

const COMMAND = "Group.CallbackAfterSendMsg";

Deno.test("send: each sample is numbered afresh, so two sends are two callbacks", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serve(ws.config);
  const send = ["send", "--config", ws.config, "--command", COMMAND, "--url", served.url];
  for (let i = 0; i < 2; i++) {
    const result = await cli(send);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '200 {"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}\n');
    assert.match(
      result.stderr,
      /^Sent Group\.CallbackAfterSendMsg to http:\/\/127\.0\.0\.1:\d+\/im\/callback$/m,
    );
  }
  await eventually(
    async () => (await recorded(recordConfigPath(ws.dir))).length === 2,
    "both sends are delivered",
  );
  const [a, b] = (await recorded(recordConfigPath(ws.dir))).map((event) =>
    event.payload as Record<string, number>
  );
  assert.notEqual(a!.MsgSeq, b!.MsgSeq);
  const now = Date.now() / 1000;
  for (const payload of [a!, b!]) {
    assert.ok(Math.abs(payload.MsgTime! - now) < 600, `MsgTime ${payload.MsgTime} is now`);
    assert.ok(Math.abs(payload.EventTime! / 1000 - now) < 600, `EventTime ${payload.EventTime}`);
  }
  assert.equal(await served.stop(), 0);
});

Deno.test("send: --set changes fields, --body - reads stdin, and the command comes from the body", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serve(ws.config);
  const set = await cli([
    "send",
    "--config",
    ws.config,
    "--command",
    COMMAND,
    "--url",
    served.url,
    "--set",
    "GroupId=@TGS#set",
    "--set",
    "MsgBody.0.MsgContent.Text=hello there",
    "--set",
    "OnlineOnlyFlag=0",
    "--set",
    "CloudCustomData=plain text",
  ]);
  assert.equal(set.code, 0, set.stderr);
  const body = JSON.stringify({
    CallbackCommand: "C2C.CallbackAfterSendMsg",
    From_Account: "a",
    To_Account: "b",
    MsgKey: "1_2_3",
    MsgBody: [],
  });
  for (const file of ["-", "/dev/stdin"]) {
    const piped = await cli(
      [
        "send",
        "--config",
        ws.config,
        "--body",
        file,
        "--url",
        served.url,
        "--set",
        `MsgKey=${file}`,
      ],
      {},
      body,
    );
    assert.equal(piped.code, 0, piped.stderr);
  }
  await eventually(
    async () => (await recorded(recordConfigPath(ws.dir))).length === 3,
    "the three sends are delivered",
  );
  const events = await recorded(recordConfigPath(ws.dir));
  const payload = events[0]!.payload as Record<string, unknown>;
  assert.equal(payload.GroupId, "@TGS#set");
  assert.deepEqual(payload.MsgBody, [{
    MsgType: "TIMTextElem",
    MsgContent: { Text: "hello there" },
  }]);
  assert.equal(payload.OnlineOnlyFlag, 0);
  assert.equal(payload.CloudCustomData, "plain text");
  assert.deepEqual(
    events.slice(1).map((event) => [event.command, (event.payload as { MsgKey: string }).MsgKey]),
    [["C2C.CallbackAfterSendMsg", "-"], ["C2C.CallbackAfterSendMsg", "/dev/stdin"]],
  );
  assert.equal(await served.stop(), 0);
});

Deno.test("send: without a command anywhere, or with a body that is not JSON, it is a usage error", async () => {
  await using ws = await workspace(recorderConfig());
  const url = "http://127.0.0.1:1/im/callback";
  const none = await cli(["send", "--config", ws.config, "--url", url]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^Give --command CMD or --body FILE/);
  const notJson = await cli(["send", "--config", ws.config, "--body", "-", "--url", url], {}, "{x");
  assert.equal(notJson.code, 2);
  assert.match(
    notJson.stderr,
    /^The body of stdin is not JSON \(.*\): give --command CMD to send it anyway/,
  );
  const noCommand = await cli(
    ["send", "--config", ws.config, "--body", "-", "--url", url],
    {},
    "{}",
  );
  assert.equal(noCommand.code, 2);
  assert.match(noCommand.stderr, /^The body has no CallbackCommand: give --command CMD/);
  const badSet = await cli([
    "send",
    "--config",
    ws.config,
    "--command",
    COMMAND,
    "--set",
    "x",
    "--url",
    url,
  ]);
  assert.equal(badSet.code, 2);
  assert.match(badSet.stderr, /^--set "x": expected Key=value/);
});
