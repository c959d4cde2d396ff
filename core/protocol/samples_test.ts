import assert from "node:assert/strict";
import { commandSpec, KNOWN_COMMANDS } from "./commands.ts";
import { groupKey, naturalKey } from "./keys.ts";
import { checkBodyCommand, validatePayload } from "./validate.ts";
import { freshSample, sampleBody } from "./samples.ts";

const NOW = 1_700_000_000_123;
const FIXTURES = new URL("../../tests/fixtures/tencent/", import.meta.url);

Deno.test("samples: every known command has a sample that validates", () => {
  for (const command of KNOWN_COMMANDS) {
    const body = sampleBody(command, NOW);
    assert.ok(body !== undefined, `no sample for ${command}`);
    assert.equal(checkBodyCommand(command, body), undefined, command);
    assert.deepEqual(validatePayload(command, body), { ok: true }, command);
    // The body must survive the trip through JSON as sent by `imhookd send`.
    assert.deepEqual(JSON.parse(JSON.stringify(body)), body, command);
  }
});

Deno.test("samples: the event happens now, where the body says when and names its command", () => {
  const group = sampleBody("Group.CallbackAfterSendMsg", NOW)!;
  assert.equal(group.CallbackCommand, "Group.CallbackAfterSendMsg");
  assert.equal(group.EventTime, NOW);
  const push = sampleBody("Push.OfflinePush", NOW)!;
  assert.deepEqual(Object.keys(push), ["Events"]);
  for (const event of push.Events as Record<string, unknown>[]) {
    assert.equal(event.CallbackCommand, "Push.OfflinePush");
    assert.equal(event.EventTime, Math.floor(NOW / 1000)); // seconds in push events
  }
  const moderation = sampleBody("ContentCallback.ResultNotify", NOW)!;
  assert.equal(moderation.CallbackCommand, undefined);
  assert.equal(moderation.EventTime, undefined);
});

Deno.test("samples: each sample is the example of the command's own Tencent page", async () => {
  for (const command of KNOWN_COMMANDS) {
    const fixture = JSON.parse(await Deno.readTextFile(new URL(`${command}.json`, FIXTURES)));
    const example = fixture.body ?? fixture.repaired_body;
    const sample = sampleBody(command, NOW)!;
    if (commandSpec(command)!.body === "top") {
      assert.deepEqual(sample, { ...example, EventTime: NOW }, command);
    } else {
      const { Events: events, ...rest } = sample;
      const { Events: exampleEvents, ...exampleRest } = example;
      assert.deepEqual(rest, exampleRest, command);
      assert.deepEqual(
        (events as Record<string, unknown>[] | undefined)?.map(({ EventTime: _, ...e }) => e),
        (exampleEvents as Record<string, unknown>[] | undefined)?.map(({ EventTime: _, ...e }) =>
          e
        ),
        command,
      );
    }
  }
});

Deno.test("samples: an unknown command has no sample", () => {
  assert.equal(sampleBody("Group.CallbackSomethingNew", NOW), undefined);
  assert.equal(sampleBody("toString", NOW), undefined);
  assert.equal(sampleBody("__proto__", NOW), undefined);
});

Deno.test("samples: each call returns a fresh object", () => {
  const a = sampleBody("Group.CallbackAfterSendMsg", NOW);
  const b = sampleBody("Group.CallbackAfterSendMsg", NOW + 1);
  assert.ok(a !== undefined && b !== undefined);
  (a.MsgBody as Array<{ MsgContent: { Text: string } }>)[0]!.MsgContent.Text = "changed";
  assert.equal(b.EventTime, NOW + 1);
  assert.deepEqual(b.MsgBody, [{ MsgType: "TIMTextElem", MsgContent: { Text: "red packet" } }]);
  const push = sampleBody("Push.AllMemberPush", NOW)!;
  (push.Events as Record<string, unknown>[])[0]!.To_Account = "changed";
  const again = sampleBody("Push.AllMemberPush", NOW)!;
  assert.equal((again.Events as Record<string, unknown>[])[0]!.To_Account, "user2");
});

Deno.test("samples: message samples carry natural and ordering keys", () => {
  const group = sampleBody("Group.CallbackAfterSendMsg", NOW)!;
  assert.equal(
    naturalKey("Group.CallbackAfterSendMsg", group, "x"),
    JSON.stringify(["@TGS#2J4SZEAEL", "", "123"]),
  );
  assert.equal(groupKey("Group.CallbackAfterSendMsg", group), "g:@TGS#2J4SZEAEL");
  const c2c = sampleBody("C2C.CallbackAfterSendMsg", NOW)!;
  assert.equal(naturalKey("C2C.CallbackAfterSendMsg", c2c, "x"), '["48374_2837546_1557481126"]');
  assert.equal(groupKey("C2C.CallbackAfterSendMsg", c2c), 'c2c:["Jonh","jared"]');
});

Deno.test("samples: freshSample numbers message samples afresh, with the times now", () => {
  const seconds = Math.floor(NOW / 1000);
  const group = freshSample("Group.CallbackAfterSendMsg", NOW, 777)!;
  assert.deepEqual(
    {
      MsgSeq: group.MsgSeq,
      Random: group.Random,
      MsgTime: group.MsgTime,
      EventTime: group.EventTime,
    },
    { MsgSeq: 777, Random: 777, MsgTime: seconds, EventTime: NOW },
  );
  const other = freshSample("Group.CallbackAfterSendMsg", NOW, 778)!;
  assert.notEqual(
    naturalKey("Group.CallbackAfterSendMsg", group, "x"),
    naturalKey("Group.CallbackAfterSendMsg", other, "x"),
  );
  const c2c = freshSample("C2C.CallbackAfterSendMsg", NOW, 42)!;
  assert.equal(c2c.MsgKey, `42_42_${seconds}`);
  assert.equal(freshSample("C2C.CallbackAfterMsgWithDraw", NOW, 43)!.MsgKey, `43_43_${seconds}`);
  assert.equal(freshSample("C2C.CallbackAfterMsgReport", NOW, 1)!.LastReadTime, seconds);
  for (const command of KNOWN_COMMANDS) {
    assert.deepEqual(
      validatePayload(command, freshSample(command, NOW, 9)!),
      { ok: true },
      command,
    );
  }
  assert.equal(freshSample("Brand.Unknown", NOW, 1), undefined);
});
