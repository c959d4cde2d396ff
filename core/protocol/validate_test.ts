import assert from "node:assert/strict";
import fc from "fast-check";
import type {
  GroupAfterSendMsgPayload,
  GroupAttrChangedPayload,
  GroupInfoChangedPayload,
} from "./payloads.ts";
import { checkBodyCommand, quote, validatePayload } from "./validate.ts";
import { commandSpec, KNOWN_COMMANDS } from "./commands.ts";
import { LIST_BAD_ITEMS, SCHEMAS } from "./schemas.ts";
import { ATTR, INFO, SEND, sendMsg } from "./_testing.ts";
import { sampleBody } from "./samples.ts";

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
});

Deno.test("protocol: validatePayload accepts a message without its ids (older pages and peers)", () => {
  const { MsgSeq: _, ...noSeq } = sendMsg();
  assert.deepEqual(validatePayload(SEND, noSeq), { ok: true });
  assert.deepEqual(validatePayload(SEND, noSeq, { quick: false }), { ok: true });
  const c2c = {
    CallbackCommand: "C2C.CallbackAfterSendMsg",
    From_Account: "jared",
    To_Account: "Jonh",
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }],
  };
  assert.deepEqual(validatePayload("C2C.CallbackAfterSendMsg", c2c), { ok: true });
  assert.deepEqual(
    validatePayload("C2C.CallbackBeforeSendMsg", { ...c2c, CallbackCommand: undefined }),
    { ok: true },
  );
  // An id of the wrong type is still wrong.
  assert.equal(
    reject("C2C.CallbackAfterSendMsg", { ...c2c, MsgKey: 5 }),
    "MsgKey: expected a string",
  );
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
  assert.equal(
    reject("C2C.CallbackAfterSendMsg", { From_Account: "a" }),
    "To_Account: required; MsgBody: required",
  );
  assert.equal(
    reject("Sns.CallbackFriendAdd", { PairList: [{ From_Account: "a" }, 5] }),
    "PairList[0].To_Account: required; PairList[1]: expected an object",
  );
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

Deno.test("protocol: every schema requires only the fields that say what happened", () => {
  // The top-level fields without which each page's example is refused; every other field
  // of the example (ids, times, descriptions) may be missing.
  const required: Record<string, string[]> = {
    "Alert.RequestOverLimit": ["ServiceName", "Command"],
    "State.StateChange": ["Info"],
    "Profile.CallbackPortraitSet": ["From_Account", "ProfileItem"],
    "Sns.CallbackPrevFriendAdd": ["From_Account", "FriendItem"],
    "Sns.CallbackPrevFriendResponse": ["From_Account", "ResponseFriendItem"],
    "Sns.CallbackFriendAdd": ["PairList"],
    "Sns.CallbackFriendDelete": ["PairList"],
    "Sns.CallbackBlackListAdd": ["PairList"],
    "Sns.CallbackBlackListDelete": ["PairList"],
    "Follow.CallbackAfterFollowAdd": ["From_Account", "FollowList"],
    "Follow.CallbackAfterFollowDelete": ["From_Account", "To_Account"],
    "C2C.CallbackBeforeSendMsg": ["From_Account", "To_Account", "MsgBody"],
    "C2C.CallbackAfterSendMsg": ["From_Account", "To_Account", "MsgBody"],
    "C2C.CallbackAfterMsgReport": ["Report_Account", "Peer_Account", "LastReadTime"],
    "C2C.CallbackAfterMsgWithDraw": ["From_Account", "To_Account"],
    "C2C.CallbackAfterMsgReadReceipt": ["Operator_Account", "Peer_Account", "C2CMsgInfo"],
    "C2C.CallbackAfterC2CMsgExtension": ["OperateType", "ExtensionList"],
    "C2C.CallbackAfterModifyMsg": ["Operator_Account"],
    "C2C.CallbackAfterMsgReadAll": ["Report_Account"],
    "Group.CallbackBeforeCreateGroup": ["Operator_Account", "Owner_Account", "Type"],
    "Group.CallbackAfterCreateGroup": ["GroupId"],
    "Group.CallbackBeforeApplyJoinGroup": ["GroupId", "Requestor_Account"],
    "Group.CallbackBeforeInviteJoinGroup": ["GroupId", "Operator_Account", "DestinationMembers"],
    "Group.CallbackAfterNewMemberJoin": ["GroupId", "NewMemberList"],
    "Group.CallbackAfterMemberExit": ["GroupId", "ExitMemberList"],
    "Group.CallbackBeforeSendMsg": ["GroupId", "From_Account", "MsgBody"],
    "Group.CallbackAfterSendMsg": ["GroupId", "From_Account", "MsgBody"],
    "Group.CallbackSendMsgException": ["GroupId"],
    "Group.CallbackAfterRecallMsg": ["GroupId", "MsgSeqList"],
    "Group.CallbackAfterGroupFull": ["GroupId"],
    "Group.CallbackAfterGroupDestroyed": ["GroupId"],
    "Group.CallbackAfterGroupInfoChanged": ["GroupId"],
    "Group.CallbackAfterGroupAttrChanged": ["GroupId", "OptionType", "GroupAttr"],
    "Group.CallbackOnMemberStateChange": ["GroupId", "MemberList"],
    "Group.CallbackAfterMemberFieldChanged": ["GroupId", "Modified_Account"],
    "Group.CallbackAfterChangeGroupOwner": ["GroupId", "NewOwner_Account"],
    "Group.CallbackAfterReadReceipt": ["GroupId", "GroupMsgReceiptList"],
    "Group.CallbackBeforeCreateTopic": ["Operator_Account"],
    "Group.CallbackAfterCreateTopic": ["GroupId", "TopicId"],
    "Group.CallbackAfterTopicDestroyed": ["GroupId", "TopicIdList"],
    "Group.CallbackAfterTopicInfoChanged": ["GroupId"],
    "Group.CallbackOnDailyGroupQuotaAlarm": ["QuotaUsed", "Quota"],
    "Group.CallbackAfterGroupMsgExtension": ["GroupId", "OperateType", "ExtensionList"],
    "Group.CallbackAfterModifyMsg": ["Operator_Account", "GroupId"],
    "ContentCallback.ResultNotify": ["Scene", "CtxcbResult"],
    "Bot.OnC2CMessage": ["From_Account", "To_Account", "MsgBody"],
    "Bot.OnGroupMessage": ["GroupId", "From_Account", "MsgBody", "AtRobots_Account"],
    "Chatbot.OnC2CSignalMessage": ["From_Account", "To_Account", "Data"],
    "OfficialAccount.CallbackBeforeCreateOfficialAccount": ["Operator_Account", "Owner_Account"],
    "OfficialAccount.CallbackAfterCreateOfficialAccount": ["Official_Account"],
    "OfficialAccount.CallbackAfterOfficialAccountInfoChanged": ["Official_Account"],
    "OfficialAccount.CallbackAfterOfficialAccountDestroyed": ["Official_Account"],
    "OfficialAccount.CallbackBeforeAddSubscriber": ["Official_Account", "SubscribeAccountList"],
    "OfficialAccount.CallbackAfterAddSubscriber": ["Official_Account", "SubscribeAccountList"],
    "OfficialAccount.CallbackAfterOfficialAccountFull": ["Official_Account"],
    "OfficialAccount.CallbackAfterDeleteSubscriber": ["Official_Account", "SubscribeAccountList"],
    "OfficialAccount.CallbackBeforeSendMsg": ["Official_Account", "MsgBody"],
    "OfficialAccount.CallbackAfterSendMsg": ["Official_Account", "MsgBody"],
    "OfficialAccount.CallbackAfterMsgWithDraw": ["Official_Account", "WithdrawMsgList"],
    "Push.OfflinePush": ["Events"],
    "Push.AllMemberPush": ["Events"],
    "Call.CallbackAfterStartCall": ["CallInfo"],
    "Call.CallbackAfterMemberChanged": ["CallId", "ChangedUserList"],
    "Call.CallbackAfterEndCall": ["CallRecord"],
    "Desk.SessionEventNotify": ["SessionId", "Event"],
    "Live.CallbackAfterCreateRoom": ["RoomInfo"],
    "Live.CallbackAfterMemberStateChanged": ["RoomId", "EventType"],
  };
  assert.deepEqual(Object.keys(required), [...KNOWN_COMMANDS]);
  for (const command of KNOWN_COMMANDS) {
    const sample = sampleBody(command, 1_670_574_414_123)!;
    const found = Object.keys(sample).filter((key) => {
      const { [key]: _, ...without } = sample;
      return !validatePayload(command, without).ok;
    });
    assert.deepEqual(found, required[command], command);
  }
  // Either name of the changed member will do.
  assert.deepEqual(
    validatePayload("Group.CallbackAfterMemberFieldChanged", { GroupId: "g", Member_Account: "a" }),
    { ok: true },
  );
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
    "MsgId",
    "GroupAtInfo",
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

Deno.test("validate: the fields Tencent really sends, with their real types", () => {
  // CreateGroupNum, not CreatedGroupNum (intl pages and the older zh page, 1047/34368).
  assert.equal(
    reject("Group.CallbackBeforeCreateGroup", {
      Operator_Account: "leckie",
      Owner_Account: "leckie",
      Type: "Public",
      CreateGroupNum: "many",
    }),
    "CreateGroupNum: expected an integer or a digit string",
  );
  // TopicIdList is a list of topic ids (1047/49465), whatever its field table says.
  assert.equal(
    reject("Group.CallbackAfterTopicDestroyed", { GroupId: "g", TopicIdList: "t1" }),
    "TopicIdList: expected an array",
  );
  assert.equal(
    reject("Group.CallbackAfterTopicDestroyed", { GroupId: "g", TopicIdList: ["t1", 2] }),
    "TopicIdList[1]: expected a string",
  );
  // GroupAtInfo, read receipts' counts, Sns items are typed.
  assert.equal(
    reject(SEND, sendMsg({ GroupAtInfo: [{ GroupAtAllFlag: "all" }] })),
    "GroupAtInfo[0].GroupAtAllFlag: expected an integer or a digit string",
  );
  assert.equal(
    reject("Group.CallbackAfterReadReceipt", {
      GroupId: "g",
      GroupMsgReceiptList: [{ MsgSeq: 1, ReadNum: "some", ReadReceiptMembers: [{}] }],
    }),
    "GroupMsgReceiptList[0].ReadNum: expected an integer or a digit string",
  );
  assert.equal(
    reject("Sns.CallbackFriendAdd", { PairList: [], ForceFlag: true }),
    "ForceFlag: expected an integer or a digit string",
  );
  // Push events: EventTime in seconds, but an integer all the same.
  assert.equal(
    reject("Push.OfflinePush", {
      Events: [{ EventType: 1, To_Account: "u", PushStage: 1, EventTime: "soon" }],
    }),
    "Events[0].EventTime: expected an integer or a digit string",
  );
  assert.equal(reject("Push.OfflinePush", { Events: {} }), "Events: expected an array");
});

Deno.test("validate: a hostile body costs a few checks and a short error", () => {
  const bad = sendMsg({ MsgBody: Array.from({ length: 300_000 }, () => ({ MsgType: 5 })) });
  const error = reject(SEND, bad);
  assert.equal(
    error,
    "MsgBody[0].MsgType: expected a string; MsgBody[1].MsgType: expected a string; " +
      "MsgBody[2].MsgType: expected a string; MsgBody[3].MsgType: expected a string; " +
      "MsgBody[4].MsgType: expected a string; and 6 more problems",
  );
  // The sixth of the extra problems says where the check stopped.
  const { issues } = SCHEMAS.groupAfterSendMsg.safeParse(bad).error!;
  assert.equal(issues.length, LIST_BAD_ITEMS + 1);
  assert.deepEqual(issues.at(-1)!.path, ["MsgBody"]);
  assert.equal(issues.at(-1)!.message, `not checked past ${LIST_BAD_ITEMS} bad items`);
});

Deno.test("validate: checkBodyCommand wants the URL's command where the body names it", () => {
  const top = "Group.CallbackAfterSendMsg";
  assert.equal(checkBodyCommand(top, { CallbackCommand: top }), undefined);
  assert.equal(checkBodyCommand(top, {}), "Body has no CallbackCommand string");
  assert.equal(checkBodyCommand(top, { CallbackCommand: 5 }), "Body has no CallbackCommand string");
  assert.equal(
    checkBodyCommand(top, { CallbackCommand: "Group.CallbackAfterGroupFull" }),
    'Body CallbackCommand "Group.CallbackAfterGroupFull" differs from the URL\'s ' +
      '"Group.CallbackAfterSendMsg"',
  );
  // A command not in the table names itself at the top, as before.
  assert.equal(checkBodyCommand("X.New", {}), "Body has no CallbackCommand string");
  // Bodies that do not name their command are routed by the URL's; one given must match.
  const moderation = "ContentCallback.ResultNotify";
  assert.equal(checkBodyCommand(moderation, { Scene: "C2C" }), undefined);
  assert.equal(checkBodyCommand(moderation, { CallbackCommand: moderation }), undefined);
  assert.match(checkBodyCommand(moderation, { CallbackCommand: "Push.OfflinePush" })!, /differs/);
  const push = "Push.OfflinePush";
  assert.equal(checkBodyCommand(push, { Events: [{ CallbackCommand: push }, {}] }), undefined);
  assert.equal(
    checkBodyCommand(push, { Events: [{ CallbackCommand: push }, { CallbackCommand: "Push.X" }] }),
    'Events[1].CallbackCommand "Push.X" differs from the URL\'s "Push.OfflinePush"',
  );
  // A quoted value is cut short: an error never echoes a megabyte.
  const long = checkBodyCommand(top, { CallbackCommand: "x".repeat(100_000) })!;
  assert.ok(long.length < 200, long);
  assert.equal(quote("x".repeat(100)), `"${"x".repeat(63)}..."`);
});
