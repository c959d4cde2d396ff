import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { KNOWN_COMMANDS } from "../core/protocol/commands.ts";
import { run as send } from "../cli/send.ts";
import {
  APP,
  eventually,
  recordConfigPath,
  recorded,
  recorderConfig,
  serve,
  signedQuery,
  workspace,
} from "./_helpers.ts";
import { corpus, exampleQuery } from "./_corpus.ts";

const EXAMPLES = await corpus();

function example(file: string) {
  const found = EXAMPLES.find((e) => e.file === file);
  if (found === undefined) throw new RangeError(`No example "${file}"`);
  return found;
}

Deno.test("corpus: Tencent's examples that imhookd used to refuse reach the plugin through serve", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serve(ws.config);
  const sign = Object.fromEntries(
    new URLSearchParams(signedQuery("x")).entries().filter(([k]) =>
      k === "RequestTime" || k === "Sign"
    ),
  );
  const post = async (query: string, body: string) => {
    const response = await fetch(`${served.url}?${query}`, { method: "POST", body });
    return { status: response.status, answer: await response.json() };
  };
  const withoutIds = [
    // cloud.tencent.com/document/product/269/2661 without MsgSeq (older revisions, peers).
    { ...JSON.parse(example("Group.CallbackAfterSendMsg.json").body), MsgSeq: undefined },
    // intl.cloud.tencent.com/document/product/1047/34365 without MsgKey.
    { ...JSON.parse(example("C2C.CallbackAfterSendMsg.json").body), MsgKey: undefined },
  ].map((body) => JSON.stringify(body));
  const sent = [
    // cloud.tencent.com/document/product/269/102567 (Push events; repaired "....").
    { example: example("Push.OfflinePush.json"), body: example("Push.OfflinePush.json").body },
    // cloud.tencent.com/document/product/269/102568.
    { example: example("Push.AllMemberPush.json"), body: example("Push.AllMemberPush.json").body },
    // www.tencentcloud.com/zh/document/product/1047/78240 (no CallbackCommand in the body).
    {
      example: example("ContentCallback.ResultNotify.json"),
      body: example("ContentCallback.ResultNotify.json").body,
    },
    // cloud.tencent.com/document/product/269/78206 (no GroupId).
    {
      example: example("Group.CallbackBeforeCreateTopic.json"),
      body: example("Group.CallbackBeforeCreateTopic.json").body,
    },
    { example: example("Group.CallbackAfterSendMsg.json"), body: withoutIds[0]! },
    { example: example("C2C.CallbackAfterSendMsg.json"), body: withoutIds[1]! },
  ];
  for (const { example, body } of sent) {
    const answer = await post(exampleQuery(example, APP, sign), body);
    assert.equal(answer.status, 200, `${example.file}: ${JSON.stringify(answer.answer)}`);
  }
  // As the page prints it (a literal "...." in the events): 400, kept in the quarantine.
  const broken = example("Push.OfflinePush.json");
  const refused = await post(exampleQuery(broken, APP, sign), broken.invalidText!);
  assert.equal(refused.status, 400);
  assert.match(refused.answer.ErrorInfo, /^Body is not JSON: /);

  const events = recordConfigPath(ws.dir);
  await eventually(async () => (await recorded(events)).length === sent.length, "all delivered");
  const got = await recorded(events);
  for (const { example, body } of sent) {
    const event = got.find((e) => e.rawBody === body);
    assert.ok(event, `${example.file} was not delivered as sent`);
    assert.equal(event.command, example.command);
    assert.deepEqual(event.payload, JSON.parse(body));
  }
  assert.equal(await served.stop(), 0);
  const db = new DatabaseSync(`${ws.dir}/journal.db`, { readOnly: true });
  try {
    const rows = db.prepare("SELECT command FROM quarantine").all();
    assert.deepEqual(rows.map((r) => r.command), ["Push.OfflinePush"]);
  } finally {
    db.close();
  }
});

Deno.test("corpus: `send --command` posts the page's example of every known command, answered OK", async () => {
  await using ws = await workspace(recorderConfig());
  await using served = await serve(ws.config);
  for (const command of KNOWN_COMMANDS) {
    assert.equal(await send({ config: ws.config, command, url: served.url }), 0, command);
  }
  const events = recordConfigPath(ws.dir);
  await eventually(
    async () => (await recorded(events)).length === KNOWN_COMMANDS.length,
    "all delivered",
  );
  const got = await recorded(events);
  assert.deepEqual(got.map((e) => e.command).sort(), [...KNOWN_COMMANDS].sort());
  assert.equal(await served.stop(), 0);
});
