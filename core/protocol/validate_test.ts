import assert from "node:assert/strict";
import fc from "fast-check";
import type {
  GroupAfterSendMsgPayload,
  GroupAttrChangedPayload,
  GroupInfoChangedPayload,
} from "./payloads.ts";
import { validatePayload } from "./validate.ts";
import { commandSpec, KNOWN_COMMANDS } from "./commands.ts";
import { SCHEMAS } from "./schemas.ts";
import { ATTR, INFO, SEND, sendMsg } from "./_testing.ts";

const SEEDS = new URL("../../tests/fixtures/seeds/", import.meta.url);

async function readSeed<T>(name: string): Promise<{ raw: string; body: T }> {
  const raw = await Deno.readTextFile(new URL(name, SEEDS));
  return { raw, body: JSON.parse(raw) as T };
}

function reject(command: string, payload: Record<string, unknown>): string {
  const result = validatePayload(command, payload);
  assert.equal(result.ok, false, `expected ${JSON.stringify(payload)} to be rejected`);
  return (result as { error: string }).error;
}

Deno.test("protocol: seed group_info_changed_notification is read field by field and valid", async () => {
  const { body } = await readSeed<GroupInfoChangedPayload>("group_info_changed_notification.json");
  assert.equal(body.CallbackCommand, INFO);
  assert.equal(body.GroupId, "@TGS#2J4SZEAEL");
  assert.equal(body.Type, "Public");
  assert.equal(body.Operator_Account, "leckie");
  assert.equal(body.Notification, "NewNotification");
  assert.equal(body.EventTime, "1670574414123");
  assert.equal(body.Name, undefined);
  assert.deepEqual(validatePayload(INFO, body), { ok: true });
  // Page 002's version of the same example has no EventTime: still valid.
  const { EventTime: _, ...withoutTime } = body;
  assert.deepEqual(validatePayload(INFO, withoutTime), { ok: true });
});

Deno.test("protocol: seed group_info_changed_custom_fields is read field by field and valid", async () => {
  const { body } = await readSeed<GroupInfoChangedPayload>("group_info_changed_custom_fields.json");
  assert.equal(body.CallbackCommand, INFO);
  assert.equal(body.GroupId, "@TGS#2J4SZEAEL");
  assert.equal(body.Operator_Account, "leckie");
  assert.equal(body.UserDefinedDataList?.length, 1);
  assert.equal(body.UserDefinedDataList?.[0]?.Key, "UserDefinedKey2");
  assert.equal(body.UserDefinedDataList?.[0]?.Value, "UserDefinedValue2");
  assert.equal(body.Notification, undefined);
  assert.deepEqual(validatePayload(INFO, body), { ok: true });
});

Deno.test("protocol: seed group_info_changed_all is read field by field and valid", async () => {
  const { body } = await readSeed<GroupInfoChangedPayload>("group_info_changed_all.json");
  assert.equal(body.CallbackCommand, INFO);
  assert.equal(body.GroupId, "@TGS#2J4SZEAEL");
  assert.equal(body.Type, "Public");
  assert.equal(body.Operator_Account, "leckie");
  assert.equal(body.Name, "NewGroupName");
  assert.equal(body.Introduction, "NewIntroduction");
  assert.equal(body.Notification, "NewNotification");
  assert.equal(body.FaceUrl, "NewFaceUrl");
  assert.deepEqual(body.UserDefinedDataList, [
    { Key: "UserDefinedKey1", Value: "UserDefinedValue1" },
    { Key: "UserDefinedKey2", Value: "UserDefinedValue2" },
    { Key: "UserDefinedKey3", Value: "UserDefinedValue3" },
  ]);
  assert.equal(body.UserDefinedDataList?.[1]?.Key, "UserDefinedKey2");
  assert.deepEqual(validatePayload(INFO, body), { ok: true });
});

Deno.test("protocol: seed group_after_send_msg is read field by field and valid", async () => {
  const { body } = await readSeed<GroupAfterSendMsgPayload>("group_after_send_msg.json");
  assert.equal(body.CallbackCommand, SEND);
  assert.equal(body.GroupId, "@TGS#2J4SZEAEL");
  assert.equal(body.Type, "Public");
  assert.equal(body.From_Account, "jared");
  assert.equal(body.Operator_Account, "admin");
  assert.equal(body.Random, 123456);
  assert.equal(body.MsgSeq, 123);
  assert.equal(body.MsgTime, 1490686222);
  assert.equal(body.OnlineOnlyFlag, 1);
  assert.equal(body.MsgBody.length, 1);
  assert.equal(body.MsgBody[0]?.MsgType, "TIMTextElem");
  assert.equal(body.MsgBody[0]?.MsgContent?.Text, "red packet");
  assert.equal(body.CloudCustomData, "your cloud custom data");
  assert.equal(body.EventTime, "1670574414123");
  assert.equal(body.TopicId, undefined);
  assert.deepEqual(validatePayload(SEND, body), { ok: true });
});

Deno.test("protocol: seed group_attr_changed is read field by field and valid", async () => {
  const { body } = await readSeed<GroupAttrChangedPayload>("group_attr_changed.json");
  assert.equal(body.CallbackCommand, ATTR);
  assert.equal(body.GroupId, "@TGS#2J4SZEAEL");
  assert.equal(body.Type, "Public");
  assert.equal(body.Operator_Account, "leckie");
  assert.equal(body.OptionType, "set");
  assert.deepEqual(body.GroupAttr, [
    { key: "key1", value: "value1" },
    { key: "key2", value: "values" },
  ]);
  assert.equal(body.EventTime, "1670574414123");
  assert.deepEqual(validatePayload(ATTR, body), { ok: true });
});

Deno.test("protocol: validatePayload rejects a missing GroupId", () => {
  const { GroupId: _, ...payload } = sendMsg();
  assert.equal(reject(SEND, payload), "GroupId: required");
  assert.equal(reject(INFO, { CallbackCommand: INFO, Type: "Public" }), "GroupId: required");
  assert.equal(reject(INFO, { CallbackCommand: INFO, GroupId: 42 }), "GroupId: expected a string");
});

Deno.test("protocol: validatePayload rejects MsgSeq as an object", () => {
  assert.equal(
    reject(SEND, sendMsg({ MsgSeq: { n: 1 } })),
    "MsgSeq: expected an integer or a digit string",
  );
  assert.equal(
    reject(SEND, sendMsg({ MsgSeq: 1.5 })),
    "MsgSeq: expected an integer or a digit string",
  );
  const { MsgSeq: _, ...noSeq } = sendMsg();
  assert.equal(reject(SEND, noSeq), "MsgSeq: required");
});

Deno.test("protocol: validatePayload rejects EventTime 'abc'", () => {
  assert.equal(
    reject(SEND, sendMsg({ EventTime: "abc" })),
    "EventTime: expected an integer or a digit string",
  );
  assert.equal(
    reject(INFO, { CallbackCommand: INFO, GroupId: "g", EventTime: "12.5" }),
    "EventTime: expected an integer or a digit string",
  );
});

Deno.test("protocol: validatePayload rejects GroupAttr that is not an array", () => {
  const payload = { CallbackCommand: ATTR, GroupId: "g", OptionType: "modify", GroupAttr: "k=v" };
  assert.equal(reject(ATTR, payload), "GroupAttr: expected an array");
  assert.equal(
    reject(ATTR, { ...payload, GroupAttr: [{ key: 1, value: "v" }] }),
    "GroupAttr[0].key: expected a string",
  );
  assert.equal(
    reject(ATTR, { CallbackCommand: ATTR, GroupId: "g", OptionType: "set" }),
    "GroupAttr: required",
  );
  // "clear" removes every attribute: Tencent may leave the empty list out.
  assert.deepEqual(
    validatePayload(ATTR, { CallbackCommand: ATTR, GroupId: "g", OptionType: "clear" }),
    { ok: true },
  );
});

Deno.test("protocol: validatePayload rejects OptionType 'bogus'", () => {
  const payload = { CallbackCommand: ATTR, GroupId: "g", OptionType: "bogus", GroupAttr: [] };
  assert.equal(
    reject(ATTR, payload),
    'OptionType: expected one of "set", "modify", "clear", "delete"',
  );
  const { OptionType: _, ...noType } = payload;
  assert.equal(reject(ATTR, noType), "OptionType: required");
});

Deno.test("protocol: validatePayload names nested paths and reports every problem", () => {
  assert.equal(
    reject(SEND, sendMsg({ MsgBody: [{ MsgType: 7, MsgContent: {} }] })),
    "MsgBody[0].MsgType: expected a string",
  );
  assert.equal(
    reject(SEND, sendMsg({ MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: 5 } }] })),
    "MsgBody[0].MsgContent.Text: expected a string",
  );
  assert.equal(
    reject(SEND, sendMsg({ MsgBody: [{ MsgType: "TIMTextElem", MsgContent: "hi" }] })),
    "MsgBody[0].MsgContent: expected an object",
  );
  assert.equal(
    reject(
      SEND,
      sendMsg({
        MsgBody: [
          { MsgType: "TIMTextElem", MsgContent: { Text: "ok" } },
          {
            MsgType: "TIMImageElem",
            MsgContent: { UUID: "u", ImageInfoArray: [{ Type: 1, Width: "wide" }] },
          },
        ],
      }),
    ),
    "MsgBody[1].MsgContent.ImageInfoArray[0].Width: expected an integer or a digit string",
  );
  assert.equal(
    reject(SEND, { CallbackCommand: SEND, GroupId: "g", From_Account: null, MsgSeq: "1" }),
    "From_Account: expected a string; MsgBody: required",
  );
  assert.equal(
    reject("Group.CallbackAfterNewMemberJoin", { GroupId: "g" }),
    "NewMemberList: required",
  );
  assert.equal(
    reject("Group.CallbackAfterMemberExit", { GroupId: "g", ExitMemberList: {} }),
    "ExitMemberList: expected an array",
  );
  assert.equal(reject("C2C.CallbackAfterSendMsg", { From_Account: "a" }), "MsgKey: required");
});

Deno.test("protocol: validatePayload accepts EventTime as a number and as a digit string", () => {
  assert.deepEqual(validatePayload(SEND, sendMsg({ EventTime: 1670574414123 })), { ok: true });
  assert.deepEqual(validatePayload(SEND, sendMsg({ EventTime: "1670574414123" })), { ok: true });
  assert.deepEqual(validatePayload(SEND, sendMsg({ MsgSeq: "123", Random: "42" })), { ok: true });
});

Deno.test("protocol: validatePayload keeps unknown fields and never changes the payload", () => {
  const payload = sendMsg({
    SomethingNew: { nested: [1, 2] },
    EventTime: "1670574414123",
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi", Extra: true }, Also: 1 }],
  });
  const before = structuredClone(payload);
  assert.deepEqual(validatePayload(SEND, payload), { ok: true });
  assert.deepEqual(payload, before);
  assert.equal(payload.EventTime, "1670574414123");
});

Deno.test("protocol: validatePayload accepts unknown MsgTypes and group Types", () => {
  const payload = sendMsg({
    Type: "Meeting",
    MsgBody: [
      { MsgType: "TIMFutureElem", MsgContent: { Text: 12, Anything: [1] } },
      { MsgType: "TIMStreamElem" },
    ],
  });
  assert.deepEqual(validatePayload(SEND, payload), { ok: true });
  assert.deepEqual(validatePayload(INFO, { GroupId: "g", Type: "FutureKind" }), { ok: true });
});

Deno.test("protocol: validatePayload accepts missing optional fields", () => {
  for (
    const command of [
      INFO,
      "Group.CallbackAfterGroupFull",
      "Group.CallbackAfterGroupDestroyed",
      "Group.CallbackAfterRecallMsg",
      "Group.CallbackSendMsgException",
      "Group.CallbackAfterCreateTopic",
    ]
  ) {
    assert.deepEqual(validatePayload(command, { CallbackCommand: command, GroupId: "g" }), {
      ok: true,
    }, command);
  }
  for (
    const command of [
      "Group.CallbackBeforeCreateGroup",
      "Group.CallbackOnDailyGroupQuotaAlarm",
      "State.StateChange",
      "Profile.CallbackPortraitSet",
      "Sns.CallbackFriendAdd",
      "C2C.CallbackAfterMsgReport",
      "C2C.CallbackAfterMsgWithDraw",
    ]
  ) {
    assert.deepEqual(validatePayload(command, { CallbackCommand: command }), { ok: true }, command);
  }
  assert.deepEqual(
    validatePayload(SEND, { GroupId: "g", From_Account: "a", MsgSeq: 1, MsgBody: [] }),
    { ok: true },
  );
  assert.deepEqual(validatePayload("C2C.CallbackAfterSendMsg", { MsgKey: "k" }), { ok: true });
});

Deno.test("protocol: validatePayload accepts any body for an unknown command", () => {
  assert.deepEqual(validatePayload("Group.CallbackSomethingNew", {}), { ok: true });
  assert.deepEqual(validatePayload("Whatever", { GroupId: 5, MsgSeq: {} }), { ok: true });
});

Deno.test("protocol: the quick check of message commands decides exactly as the schemas (property)", () => {
  const value = fc.oneof(
    fc.constant(undefined),
    fc.string({ maxLength: 4 }),
    fc.constantFrom("12", "-3", "0012", "1.5", "", "x1"),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const content = fc.oneof(
    value,
    fc.record({ Text: value, Data: value, Index: value, Desc: value }, { requiredKeys: [] }),
  );
  const element = fc.oneof(
    value,
    fc.record({
      MsgType: fc.oneof(
        fc.constantFrom("TIMTextElem", "TIMFaceElem", "TIMCustomElem", "TIMImageElem", "New"),
        value,
      ),
      MsgContent: content,
    }, { requiredKeys: [] }),
  );
  const fields = [
    "CallbackCommand",
    "EventTime",
    "GroupId",
    "Type",
    "Operator_Account",
    "TopicId",
    "From_Account",
    "To_Account",
    "Random",
    "MsgRandom",
    "OnlineOnlyFlag",
    "MsgBody",
    "CloudCustomData",
    "MsgSeq",
    "MsgTime",
    "MsgKey",
    "SendMsgResult",
    "ErrorInfo",
    "UnreadMsgNum",
  ];
  const text = { MsgType: "TIMTextElem", MsgContent: { Text: "hi" } };
  // A valid message with one or two fields changed, or one element of its MsgBody.
  const changes = fc.array(
    fc.oneof(
      fc.tuple(fc.constantFrom(...fields), value),
      fc.tuple(fc.constant("MsgBody"), fc.array(element, { minLength: 1, maxLength: 2 })),
      fc.tuple(
        fc.constant("MsgBody"),
        fc.tuple(fc.constantFrom("MsgType", "MsgContent"), value).map(([key, v]) => [
          text,
          { ...text, [key]: v },
        ]),
      ),
      fc.tuple(
        fc.constant("MsgBody"),
        fc.tuple(fc.constantFrom("TIMTextElem", "TIMFaceElem", "New"), value).map((
          [type, v],
        ) => [{ MsgType: type, MsgContent: { Text: v, Index: v } }]),
      ),
    ),
    { minLength: 1, maxLength: 2 },
  );
  const valid = {
    CallbackCommand: SEND,
    GroupId: "@TGS#1",
    From_Account: "a",
    MsgSeq: 1,
    MsgKey: "k",
    MsgBody: [text],
  };
  fc.assert(
    fc.property(
      fc.constantFrom(SEND, "C2C.CallbackAfterSendMsg"),
      changes,
      (command, changed) => {
        const raw = { ...valid, ...Object.fromEntries(changed) };
        const payload = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
        assert.deepEqual(
          validatePayload(command, payload),
          validatePayload(command, payload, { quick: false }),
        );
      },
    ),
    { numRuns: 5_000 },
  );
});

Deno.test("validate: every known command has a schema, and an unknown one none", () => {
  for (const command of KNOWN_COMMANDS) {
    assert.ok(SCHEMAS[commandSpec(command)!.schema] !== undefined, command);
    // A number where every schema wants a string: only a schema that ran rejects it.
    const result = validatePayload(command, { CallbackCommand: 5 });
    assert.equal(result.ok, false, command);
    assert.match((result as { error: string }).error, /CallbackCommand: expected a string/);
  }
  assert.deepEqual(validatePayload("toString", { CallbackCommand: 5 }), { ok: true });
});
