import assert from "node:assert/strict";
import {
  commandKind,
  commandLabel,
  type CommandSpec,
  commandSpec,
  isKnownCommand,
  KNOWN_COMMANDS,
} from "./commands.ts";
import { ATTR, INFO, SEND } from "./_testing.ts";

const having = (test: (spec: CommandSpec) => boolean): string[] =>
  KNOWN_COMMANDS.filter((c) => test(commandSpec(c)!));

Deno.test("protocol: KNOWN_COMMANDS lists the documented commands in order, once each", () => {
  assert.equal(KNOWN_COMMANDS.length, 67);
  assert.equal(new Set(KNOWN_COMMANDS).size, KNOWN_COMMANDS.length);
  assert.equal(KNOWN_COMMANDS[0], "Alert.RequestOverLimit");
  assert.equal(KNOWN_COMMANDS.at(-1), "Live.CallbackAfterMemberStateChanged");
  for (
    const c of [
      SEND,
      ATTR,
      INFO,
      "State.StateChange",
      "Sns.CallbackFriendAdd",
      "Follow.CallbackAfterFollowAdd",
      "C2C.CallbackAfterC2CMsgExtension",
      "Group.CallbackAfterGroupMsgExtension",
      "ContentCallback.ResultNotify",
      "Bot.OnGroupMessage",
      "Chatbot.OnC2CSignalMessage",
      "OfficialAccount.CallbackBeforeSendMsg",
      "Push.OfflinePush",
      "Call.CallbackAfterEndCall",
    ]
  ) {
    assert.ok(KNOWN_COMMANDS.includes(c), c);
  }
  assert.ok(Object.isFrozen(KNOWN_COMMANDS));
});

Deno.test("protocol: isKnownCommand and commandLabel bound unknown commands to 'other'", () => {
  assert.equal(isKnownCommand(SEND), true);
  assert.equal(isKnownCommand("Group.CallbackSomethingNew"), false);
  assert.equal(isKnownCommand("group.callbackaftersendmsg"), false);
  assert.equal(commandLabel(SEND), SEND);
  assert.equal(commandLabel("Push.AllMemberPush"), "Push.AllMemberPush");
  assert.equal(commandLabel("Group.CallbackSomethingNew"), "other");
  assert.equal(commandLabel(""), "other");
});

Deno.test("commands: the decisions are the Before and Prev commands and the chatbot's signal", () => {
  assert.deepEqual(having((s) => s.kind === "before"), [
    "Sns.CallbackPrevFriendAdd",
    "Sns.CallbackPrevFriendResponse",
    "C2C.CallbackBeforeSendMsg",
    "Group.CallbackBeforeCreateGroup",
    "Group.CallbackBeforeApplyJoinGroup",
    "Group.CallbackBeforeInviteJoinGroup",
    "Group.CallbackBeforeSendMsg",
    "Group.CallbackBeforeCreateTopic",
    "Chatbot.OnC2CSignalMessage",
    "OfficialAccount.CallbackBeforeCreateOfficialAccount",
    "OfficialAccount.CallbackBeforeAddSubscriber",
    "OfficialAccount.CallbackBeforeSendMsg",
  ]);
  for (const command of KNOWN_COMMANDS) {
    const named = /\.Callback(Before|Prev)/.test(command) ? "before" : "after";
    if (command !== "Chatbot.OnC2CSignalMessage") {
      assert.equal(commandSpec(command)!.kind, named, command);
    }
    // Only decisions say what their answer may carry, and every one does.
    assert.equal(commandSpec(command)!.answer !== undefined, commandKind(command) === "before");
  }
  // A command Tencent adds later is a decision by its name.
  assert.equal(commandKind("Group.CallbackBeforeSomethingNew"), "before");
  assert.equal(commandKind("Sns.CallbackPrevSomethingNew"), "before");
  assert.equal(commandKind("Follow.CallbackAfterSomethingNew"), "after");
  assert.equal(commandKind("toString"), "after");
});

Deno.test("commands: the decisions' answers carry what their pages document", () => {
  const answer = (command: string) => commandSpec(command)!.answer!;
  assert.deepEqual(answer("Group.CallbackBeforeSendMsg"), {
    customCodes: [10100, 10200],
    refusedError: 10016,
    drop: true,
    replace: ["MsgBody", "CloudCustomData"],
  });
  assert.deepEqual(answer("C2C.CallbackBeforeSendMsg").customCodes, [120001, 130000]);
  assert.equal(answer("C2C.CallbackBeforeSendMsg").refusedError, 20006);
  assert.deepEqual(answer("Group.CallbackBeforeInviteJoinGroup").refuse, {
    field: "RefusedMembers_Account",
    from: "DestinationMembers",
  });
  assert.deepEqual(answer("OfficialAccount.CallbackBeforeAddSubscriber").refuse, {
    field: "RefusedSubscribers_Account",
    from: "SubscribeAccountList",
  });
  assert.equal(answer("Sns.CallbackPrevFriendAdd").resultItems, "FriendItem");
  assert.equal(answer("Sns.CallbackPrevFriendResponse").resultItems, "ResponseFriendItem");
  assert.deepEqual(answer("Sns.CallbackPrevFriendAdd").customCodes, [38000, 39000]);
  assert.equal(answer("Chatbot.OnC2CSignalMessage").data, "RspData");
  assert.deepEqual(
    having((s) => s.answer?.drop === true),
    [
      "C2C.CallbackBeforeSendMsg",
      "Group.CallbackBeforeSendMsg",
      "OfficialAccount.CallbackBeforeSendMsg",
    ],
  );
});

Deno.test("commands: the message commands have natural keys; edits and extensions do not reuse them", () => {
  assert.deepEqual(having((s) => s.naturalKey === "groupMessage"), [
    "Group.CallbackBeforeSendMsg",
    "Group.CallbackAfterSendMsg",
    "Group.CallbackSendMsgException",
    "Bot.OnGroupMessage",
  ]);
  assert.deepEqual(having((s) => s.naturalKey === "c2cMessage"), [
    "C2C.CallbackBeforeSendMsg",
    "C2C.CallbackAfterSendMsg",
    "C2C.CallbackAfterMsgWithDraw",
    "Bot.OnC2CMessage",
    "Chatbot.OnC2CSignalMessage",
  ]);
  assert.equal(commandSpec("Group.CallbackAfterModifyMsg")!.naturalKey, "bodyHash");
  assert.equal(commandSpec("C2C.CallbackAfterModifyMsg")!.naturalKey, "bodyHash");
  assert.equal(
    commandSpec("Group.CallbackAfterGroupMsgExtension")!.naturalKey,
    "groupMessageExtension",
  );
  assert.equal(commandSpec("C2C.CallbackAfterC2CMsgExtension")!.naturalKey, "c2cMessageExtension");
  assert.deepEqual(
    having((s) => s.groupKey === "c2c"),
    [
      ...KNOWN_COMMANDS.filter((c) => c.startsWith("C2C.")),
      "Bot.OnC2CMessage",
      "Chatbot.OnC2CSignalMessage",
    ],
  );
  assert.equal(commandSpec("toString"), undefined);
  assert.equal(commandSpec("__proto__"), undefined);
});

Deno.test("commands: the bodies without a CallbackCommand at the top are routed by the URL's", () => {
  assert.deepEqual(having((s) => s.body === "none"), ["ContentCallback.ResultNotify"]);
  assert.deepEqual(having((s) => s.body === "events"), ["Push.OfflinePush", "Push.AllMemberPush"]);
});

Deno.test("commands: every entry names its Tencent page", () => {
  for (const command of KNOWN_COMMANDS) {
    assert.match(
      commandSpec(command)!.page,
      /^https:\/\/(cloud\.tencent\.com|intl\.cloud\.tencent\.com|www\.tencentcloud\.com)\/document\/product\/\d+\/\d+$|^https:\/\/www\.tencentcloud\.com\/zh\/document\/product\/\d+\/\d+$/,
      command,
    );
  }
});

Deno.test("commands: docs/protocol.md lists every known command with its kind and page", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/protocol.md", import.meta.url));
  const rows = new Map<string, string[]>();
  for (const line of doc.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    const command = /^`([A-Za-z0-9]+\.[A-Za-z0-9]+)`$/.exec(cells[1] ?? "")?.[1];
    if (command !== undefined && cells.length === 9) rows.set(command, cells);
  }
  assert.deepEqual([...rows.keys()], [...KNOWN_COMMANDS]);
  for (const [command, cells] of rows) {
    const spec = commandSpec(command)!;
    assert.equal(cells[2], spec.kind === "before" ? "B" : "A", command);
    assert.ok(cells[7]!.endsWith(`(${spec.page})`), `${command}: ${cells[7]}`);
    assert.equal(cells[4] === "hash", spec.naturalKey === "bodyHash", command);
  }
});
