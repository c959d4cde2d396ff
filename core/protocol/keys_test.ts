import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { groupKey, naturalKey } from "./keys.ts";
import { INFO, SEND, sendMsg } from "./_testing.ts";
import { runtimeModules } from "../_testing.ts";

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

Deno.test("keys: load neither zod nor the schemas (plugins and the delivery worker import them)", async () => {
  const modules = await runtimeModules(new URL("./keys.ts", import.meta.url));
  assert.ok(modules.has(new URL("./commands.ts", import.meta.url).href), [...modules].join());
  for (const module of modules) {
    assert.ok(!module.startsWith("npm:/zod@"), module);
    assert.ok(!module.endsWith("/schemas.ts"), module);
  }
});

Deno.test("keys: an edit or an extension of a message is its own event, not the message", () => {
  const raw = (body: unknown) => JSON.stringify(body);
  const ext = (Seq: number) => ({ GroupId: "g", MsgSeq: 10, OperateType: 1, Seq });
  const ext1 = naturalKey("Group.CallbackAfterGroupMsgExtension", ext(56), raw(ext(56)));
  assert.equal(ext1, JSON.stringify(["g", "", "10", "56"]));
  assert.notEqual(
    naturalKey("Group.CallbackAfterGroupMsgExtension", ext(57), raw(ext(57))),
    ext1,
  );
  assert.equal(
    naturalKey("C2C.CallbackAfterC2CMsgExtension", { MsgKey: "k", Seq: "2" }, "x"),
    JSON.stringify(["k", "2"]),
  );
  // Without its version an extension falls back to the body hash.
  assert.match(naturalKey("C2C.CallbackAfterC2CMsgExtension", { MsgKey: "k" }, "x"), /^sha256:/);
  // Two edits of one message differ by body: each is kept.
  const edit = (text: string) => ({ GroupId: "g", MsgSeq: 53, Operator_Account: "o", text });
  assert.notEqual(
    naturalKey("Group.CallbackAfterModifyMsg", edit("a"), raw(edit("a"))),
    naturalKey("Group.CallbackAfterModifyMsg", edit("b"), raw(edit("b"))),
  );
  assert.match(naturalKey("C2C.CallbackAfterModifyMsg", { MsgKey: "k" }, "x"), /^sha256:/);
});

Deno.test("keys: the services' natural keys come from their pages' ids", () => {
  assert.equal(
    naturalKey("OfficialAccount.CallbackAfterSendMsg", {
      Official_Account: "@TOA#_1",
      MsgKey: "71_1_1698741698",
    }, "x"),
    JSON.stringify(["@TOA#_1", "71_1_1698741698"]),
  );
  assert.equal(
    naturalKey("ContentCallback.ResultNotify", { CtxcbRequestId: "241ed925" }, "x"),
    '["241ed925"]',
  );
  assert.equal(
    naturalKey("Call.CallbackAfterStartCall", { CallInfo: { CallId: "c1" } }, "x"),
    '["c1"]',
  );
  assert.equal(
    naturalKey("Call.CallbackAfterEndCall", { CallRecord: { CallId: "c1" } }, "x"),
    '["c1"]',
  );
  assert.match(naturalKey("Call.CallbackAfterEndCall", { CallRecord: "c1" }, "x"), /^sha256:/);
  assert.equal(naturalKey("Bot.OnGroupMessage", sendMsg(), "x"), naturalKey(SEND, sendMsg(), "y"));
  assert.equal(naturalKey("Chatbot.OnC2CSignalMessage", { MsgKey: "k" }, "x"), '["k"]');
  assert.match(naturalKey("Push.OfflinePush", { Events: [{ PushID: "p" }] }, "x"), /^sha256:/);
});

Deno.test("keys: services are ordered by their account, call, room or session; pushes not at all", () => {
  assert.equal(
    groupKey("OfficialAccount.CallbackAfterAddSubscriber", { Official_Account: "@TOA#_1" }),
    "oa:@TOA#_1",
  );
  assert.equal(groupKey("Call.CallbackAfterStartCall", { CallInfo: { CallId: "c" } }), "call:c");
  assert.equal(groupKey("Call.CallbackAfterMemberChanged", { CallId: "c" }), "call:c");
  assert.equal(groupKey("Call.CallbackAfterEndCall", { CallRecord: { CallId: "c" } }), "call:c");
  assert.equal(groupKey("Live.CallbackAfterCreateRoom", { RoomInfo: { RoomId: "r" } }), "room:r");
  assert.equal(groupKey("Live.CallbackAfterMemberStateChanged", { RoomId: "r" }), "room:r");
  assert.equal(groupKey("Desk.SessionEventNotify", { SessionId: "s" }), "desk:s");
  assert.equal(
    groupKey("Bot.OnC2CMessage", { From_Account: "b", To_Account: "a" }),
    'c2c:["a","b"]',
  );
  assert.equal(groupKey("Bot.OnGroupMessage", sendMsg()), "g:@TGS#2J4SZEAEL");
  assert.equal(
    groupKey("Push.OfflinePush", { Events: [{ GroupID: "g" }], GroupId: "g" }),
    undefined,
  );
  assert.equal(groupKey("Follow.CallbackAfterFollowAdd", { From_Account: "a" }), undefined);
  assert.equal(groupKey("Group.CallbackOnDailyGroupQuotaAlarm", { QuotaUsed: 1 }), undefined);
});
