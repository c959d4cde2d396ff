import assert from "node:assert/strict";
import { KNOWN_COMMANDS } from "./commands.ts";
import { groupKey, naturalKey } from "./keys.ts";
import { validatePayload } from "./validate.ts";
import { sampleBody } from "./samples.ts";

const NOW = 1_700_000_000_123;

Deno.test("samples: every known command has a sample that validates", () => {
  for (const command of KNOWN_COMMANDS) {
    const body = sampleBody(command, NOW);
    assert.ok(body !== undefined, `no sample for ${command}`);
    assert.equal(body.CallbackCommand, command);
    assert.equal(body.EventTime, NOW, command);
    assert.deepEqual(validatePayload(command, body), { ok: true }, command);
    // The body must survive the trip through JSON as sent by `imhookd send`.
    assert.deepEqual(JSON.parse(JSON.stringify(body)), body, command);
  }
});

Deno.test("samples: an unknown command has no sample", () => {
  assert.equal(sampleBody("Group.CallbackSomethingNew", NOW), undefined);
  assert.equal(sampleBody("toString", NOW), undefined);
  assert.equal(sampleBody("__proto__", NOW), undefined);
});

Deno.test("samples: the seed commands use the seed pages' examples", async () => {
  const seeds = new URL("../../tests/fixtures/seeds/", import.meta.url);
  for (
    const [command, file] of [
      ["Group.CallbackAfterGroupInfoChanged", "group_info_changed_all.json"],
      ["Group.CallbackAfterSendMsg", "group_after_send_msg.json"],
      ["Group.CallbackAfterGroupAttrChanged", "group_attr_changed.json"],
    ] as const
  ) {
    const seed = JSON.parse(await Deno.readTextFile(new URL(file, seeds)));
    assert.deepEqual(sampleBody(command, NOW), { ...seed, EventTime: NOW }, command);
  }
});

Deno.test("samples: each call returns a fresh object", () => {
  const a = sampleBody("Group.CallbackAfterSendMsg", NOW);
  const b = sampleBody("Group.CallbackAfterSendMsg", NOW + 1);
  assert.ok(a !== undefined && b !== undefined);
  (a.MsgBody as Array<{ MsgContent: { Text: string } }>)[0]!.MsgContent.Text = "changed";
  assert.equal(b.EventTime, NOW + 1);
  assert.deepEqual(b.MsgBody, [{ MsgType: "TIMTextElem", MsgContent: { Text: "red packet" } }]);
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
