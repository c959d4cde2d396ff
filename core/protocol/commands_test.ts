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

Deno.test("commands: the decisions are the Before and Prev commands", () => {
  const decisions = KNOWN_COMMANDS.filter((c) => commandKind(c) === "before");
  assert.deepEqual(decisions, [
    "Group.CallbackBeforeCreateGroup",
    "Group.CallbackBeforeApplyJoinGroup",
    "Group.CallbackBeforeInviteJoinGroup",
    "Group.CallbackBeforeSendMsg",
    "Group.CallbackBeforeCreateTopic",
    "Sns.CallbackPrevFriendAdd",
    "Sns.CallbackPrevFriendResponse",
    "C2C.CallbackBeforeSendMsg",
  ]);
  for (const command of KNOWN_COMMANDS) {
    const named = /\.Callback(Before|Prev)/.test(command) ? "before" : "after";
    assert.equal(commandSpec(command)!.kind, named, command);
  }
  // A command Tencent adds later is a decision by its name.
  assert.equal(commandKind("Group.CallbackBeforeSomethingNew"), "before");
  assert.equal(commandKind("Sns.CallbackPrevSomethingNew"), "before");
  assert.equal(commandKind("Follow.CallbackAfterFollowAdd"), "after");
  assert.equal(commandKind("toString"), "after");
});

Deno.test("commands: the message commands have natural keys, the C2C ones C2C ordering", () => {
  const having = (test: (spec: CommandSpec) => boolean) =>
    KNOWN_COMMANDS.filter((c) => test(commandSpec(c)!));
  assert.deepEqual(having((s) => s.naturalKey === "groupMessage"), [
    "Group.CallbackBeforeSendMsg",
    "Group.CallbackAfterSendMsg",
    "Group.CallbackSendMsgException",
  ]);
  assert.deepEqual(having((s) => s.naturalKey === "c2cMessage"), [
    "C2C.CallbackBeforeSendMsg",
    "C2C.CallbackAfterSendMsg",
    "C2C.CallbackAfterMsgWithDraw",
  ]);
  assert.deepEqual(
    having((s) => s.groupKey === "c2c"),
    KNOWN_COMMANDS.filter((c) => c.startsWith("C2C.")),
  );
  assert.equal(commandSpec("toString"), undefined);
  assert.equal(commandSpec("__proto__"), undefined);
});
