import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import {
  commandLabel,
  type GroupAfterSendMsgPayload,
  type GroupAttrChangedPayload,
  type GroupInfoChangedPayload,
  groupKey,
  isKnownCommand,
  KNOWN_COMMANDS,
  naturalKey,
  validatePayload,
} from "./protocol.ts";

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

const SEND = "Group.CallbackAfterSendMsg";
const ATTR = "Group.CallbackAfterGroupAttrChanged";
const INFO = "Group.CallbackAfterGroupInfoChanged";

function sendMsg(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    CallbackCommand: SEND,
    GroupId: "@TGS#2J4SZEAEL",
    From_Account: "jared",
    MsgSeq: 123,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }],
    ...extra,
  };
}

Deno.test("protocol: KNOWN_COMMANDS lists the documented commands in order, once each", () => {
  assert.equal(KNOWN_COMMANDS.length, 35);
  assert.equal(new Set(KNOWN_COMMANDS).size, KNOWN_COMMANDS.length);
  assert.equal(KNOWN_COMMANDS[0], "Group.CallbackBeforeCreateGroup");
  assert.equal(KNOWN_COMMANDS.at(-1), "C2C.CallbackAfterMsgWithDraw");
  for (const c of [SEND, ATTR, INFO, "State.StateChange", "Sns.CallbackFriendAdd"]) {
    assert.ok(KNOWN_COMMANDS.includes(c), c);
  }
  assert.ok(Object.isFrozen(KNOWN_COMMANDS));
});

Deno.test("protocol: isKnownCommand and commandLabel bound unknown commands to 'other'", () => {
  assert.equal(isKnownCommand(SEND), true);
  assert.equal(isKnownCommand("Group.CallbackSomethingNew"), false);
  assert.equal(isKnownCommand("group.callbackaftersendmsg"), false);
  assert.equal(commandLabel(SEND), SEND);
  assert.equal(commandLabel("Group.CallbackSomethingNew"), "other");
  assert.equal(commandLabel(""), "other");
});

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

Deno.test("protocol: naturalKey makes 123, '123' and '0123' the same MsgSeq", () => {
  const a = naturalKey(SEND, sendMsg({ MsgSeq: 123 }), "a");
  assert.equal(a, JSON.stringify(["@TGS#2J4SZEAEL", "", "123"]));
  assert.equal(naturalKey(SEND, sendMsg({ MsgSeq: "123" }), "b"), a);
  assert.equal(naturalKey(SEND, sendMsg({ MsgSeq: "0123" }), "c"), a);
  assert.notEqual(naturalKey(SEND, sendMsg({ MsgSeq: 124 }), "a"), a);
  // Beyond 2^53 digit strings stay exact.
  assert.notEqual(
    naturalKey(SEND, sendMsg({ MsgSeq: "9007199254740993" }), "x"),
    naturalKey(SEND, sendMsg({ MsgSeq: "9007199254740992" }), "x"),
  );
});

Deno.test("protocol: naturalKey tells topics and groups apart without ambiguity", () => {
  const plain = naturalKey(SEND, sendMsg(), "x");
  const topic1 = naturalKey(SEND, sendMsg({ TopicId: "t1" }), "x");
  const topic2 = naturalKey(SEND, sendMsg({ TopicId: "t2" }), "x");
  assert.notEqual(topic1, topic2);
  assert.notEqual(plain, topic1);
  assert.equal(naturalKey(SEND, sendMsg({ TopicId: "" }), "x"), plain);
  // A separator inside an id cannot forge another key.
  assert.notEqual(
    naturalKey(SEND, sendMsg({ GroupId: "a", TopicId: "b|c" }), "x"),
    naturalKey(SEND, sendMsg({ GroupId: "a|b", TopicId: "c" }), "x"),
  );
});

Deno.test("protocol: naturalKey uses MsgKey for C2C messages", () => {
  const key = naturalKey("C2C.CallbackAfterSendMsg", { MsgKey: "48374_2837546_1557481126" }, "a");
  assert.equal(key, JSON.stringify(["48374_2837546_1557481126"]));
  assert.equal(
    naturalKey("C2C.CallbackAfterSendMsg", { MsgKey: "48374_2837546_1557481126", X: 1 }, "b"),
    key,
  );
  assert.notEqual(naturalKey("C2C.CallbackAfterSendMsg", { MsgKey: "other" }, "a"), key);
});

Deno.test("protocol: naturalKey falls back to the body hash", () => {
  const raw = '{"CallbackCommand":"State.StateChange","Info":{"Action":"Login"}}';
  const hash = "sha256:" + createHash("sha256").update(raw).digest("hex");
  assert.equal(naturalKey("State.StateChange", JSON.parse(raw), raw), hash);
  assert.match(hash, /^sha256:[0-9a-f]{64}$/);
  // Missing or malformed natural fields also use the hash.
  const { MsgSeq: _, ...noSeq } = sendMsg();
  assert.equal(naturalKey(SEND, noSeq, raw), hash);
  assert.equal(naturalKey(SEND, sendMsg({ MsgSeq: "x1" }), raw), hash);
  assert.equal(naturalKey(SEND, sendMsg({ GroupId: "" }), raw), hash);
  assert.equal(naturalKey("C2C.CallbackAfterSendMsg", { MsgKey: "" }, raw), hash);
  assert.equal(naturalKey("Group.CallbackSomethingNew", sendMsg(), raw), hash);
  // Non-ASCII bodies hash as UTF-8.
  const utf8 = '{"Text":"红包"}';
  assert.equal(
    naturalKey("X", {}, utf8),
    "sha256:" + createHash("sha256").update(new TextEncoder().encode(utf8)).digest("hex"),
  );
});

Deno.test("protocol: naturalKey is equal for equal MsgSeq values (property)", () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), fc.nat(), fc.nat({ max: 3 }), (g, t, seq, zeros) => {
      fc.pre(g !== "");
      const n = naturalKey(SEND, sendMsg({ GroupId: g, TopicId: t, MsgSeq: seq }), "a");
      const s = naturalKey(
        SEND,
        sendMsg({ GroupId: g, TopicId: t, MsgSeq: "0".repeat(zeros) + String(seq) }),
        "b",
      );
      return n === s && n === JSON.stringify([g, t, String(seq)]);
    }),
  );
});

Deno.test("protocol: groupKey orders by GroupId, else by the unordered C2C pair", () => {
  assert.equal(groupKey(SEND, sendMsg()), "g:@TGS#2J4SZEAEL");
  assert.equal(groupKey(INFO, { GroupId: "" }), undefined);
  const ab = groupKey("C2C.CallbackAfterSendMsg", { From_Account: "alice", To_Account: "bob" });
  const ba = groupKey("C2C.CallbackAfterMsgWithDraw", { From_Account: "bob", To_Account: "alice" });
  assert.equal(ab, 'c2c:["alice","bob"]');
  assert.equal(ba, ab);
  assert.notEqual(
    groupKey("C2C.CallbackAfterSendMsg", { From_Account: "a", To_Account: "b,c" }),
    groupKey("C2C.CallbackAfterSendMsg", { From_Account: "a,b", To_Account: "c" }),
  );
  assert.equal(groupKey("C2C.CallbackAfterSendMsg", { From_Account: "alice" }), undefined);
  assert.equal(
    groupKey("Sns.CallbackFriendAdd", { From_Account: "alice", To_Account: "bob" }),
    undefined,
  );
  assert.equal(groupKey("State.StateChange", { Info: { To_Account: "alice" } }), undefined);
});

Deno.test("protocol: groupKey is symmetric for any C2C pair (property)", () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
      const x = groupKey("C2C.CallbackAfterSendMsg", { From_Account: a, To_Account: b });
      const y = groupKey("C2C.CallbackAfterSendMsg", { From_Account: b, To_Account: a });
      return x !== undefined && x === y;
    }),
  );
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
