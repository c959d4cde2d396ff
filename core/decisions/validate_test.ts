import assert from "node:assert/strict";
import { decisionRules, isDecisionCommand } from "./rules.ts";
import { checkDecision } from "./validate.ts";

const GROUP_SEND = decisionRules("Group.CallbackBeforeSendMsg")!;
const C2C_SEND = decisionRules("C2C.CallbackBeforeSendMsg")!;
const INVITE = decisionRules("Group.CallbackBeforeInviteJoinGroup")!;
const CREATE = decisionRules("Group.CallbackBeforeCreateGroup")!;
const FRIEND = decisionRules("Sns.CallbackPrevFriendAdd")!;

function throwsWith(fn: () => unknown, type: ErrorConstructor, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.equal((error as Error).constructor, type);
    assert.equal((error as Error).message, message);
    return true;
  });
}

Deno.test("rules: decision commands are the Before and Prev ones", () => {
  assert.deepEqual(isDecisionCommand("Group.CallbackBeforeSendMsg"), true);
  assert.deepEqual(isDecisionCommand("Sns.CallbackPrevFriendAdd"), true);
  assert.deepEqual(isDecisionCommand("Group.CallbackAfterSendMsg"), false);
  assert.deepEqual(decisionRules("Group.CallbackAfterSendMsg"), undefined);
  assert.deepEqual(decisionRules("Group.CallbackBeforeNew")?.custom, undefined);
});

Deno.test("validate: undefined and null are no opinion; valid decisions come back as given", () => {
  assert.deepEqual(checkDecision(GROUP_SEND, undefined), undefined);
  assert.deepEqual(checkDecision(GROUP_SEND, null), undefined);
  assert.deepEqual(checkDecision(GROUP_SEND, { verdict: "allow" }), { verdict: "allow" });
  assert.deepEqual(checkDecision(GROUP_SEND, { verdict: "reject", code: 10200, info: "x" }), {
    verdict: "reject",
    code: 10200,
    info: "x",
  });
  assert.deepEqual(checkDecision(C2C_SEND, { verdict: "drop" }), { verdict: "drop" });
  assert.deepEqual(
    checkDecision(GROUP_SEND, {
      verdict: "allow",
      replace: { MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }] },
    }),
    {
      verdict: "allow",
      replace: { MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }] },
    },
  );
  assert.deepEqual(checkDecision(INVITE, { verdict: "allow", refuseMembers: ["a"] }), {
    verdict: "allow",
    refuseMembers: ["a"],
  });
  assert.deepEqual(
    checkDecision(FRIEND, {
      verdict: "allow",
      friendResults: [{ To_Account: "a", ResultCode: 38500 }, { To_Account: "b", ResultCode: 0 }],
    }),
    {
      verdict: "allow",
      friendResults: [{ To_Account: "a", ResultCode: 38500 }, { To_Account: "b", ResultCode: 0 }],
    },
  );
});

Deno.test("validate: codes outside the command's range are a RangeError", () => {
  throwsWith(
    () => checkDecision(GROUP_SEND, { verdict: "reject", code: 120001 }),
    RangeError,
    "Decision code 120001: Group.CallbackBeforeSendMsg takes 1 or 10100-10200",
  );
  throwsWith(
    () => checkDecision(C2C_SEND, { verdict: "reject", code: 10100 }),
    RangeError,
    "Decision code 10100: C2C.CallbackBeforeSendMsg takes 1 or 120001-130000",
  );
  throwsWith(
    () => checkDecision(FRIEND, { verdict: "reject", code: 1 }),
    RangeError,
    "Decision code 1: Sns.CallbackPrevFriendAdd takes 38000-39000",
  );
  throwsWith(
    () =>
      checkDecision(FRIEND, {
        verdict: "allow",
        friendResults: [{ To_Account: "a", ResultCode: 5 }],
      }),
    RangeError,
    "Decision friendResults[0].ResultCode 5: Sns.CallbackPrevFriendAdd takes 0 or 38000-39000",
  );
});

Deno.test("validate: fields the command or verdict does not take are a TypeError", () => {
  throwsWith(
    () => checkDecision(CREATE, { verdict: "drop" }),
    TypeError,
    'Decision verdict "drop": Group.CallbackBeforeCreateGroup cannot drop silently',
  );
  throwsWith(
    () => checkDecision(CREATE, { verdict: "allow", replace: { CloudCustomData: "x" } }),
    TypeError,
    'Decision field "replace": Group.CallbackBeforeCreateGroup carries no message to replace',
  );
  throwsWith(
    () => checkDecision(GROUP_SEND, { verdict: "allow", refuseMembers: ["a"] }),
    TypeError,
    'Decision field "refuseMembers": Group.CallbackBeforeSendMsg cannot refuse members',
  );
  throwsWith(
    () => checkDecision(INVITE, { verdict: "allow", friendResults: [] }),
    TypeError,
    'Decision field "friendResults": Group.CallbackBeforeInviteJoinGroup has no friends to answer',
  );
  throwsWith(
    () => checkDecision(GROUP_SEND, { verdict: "allow", code: 10100 }),
    TypeError,
    'Decision field "code": only a reject takes one',
  );
  throwsWith(
    () => checkDecision(GROUP_SEND, { verdict: "reject", replace: {} }),
    TypeError,
    'Decision field "replace": only an allow takes one',
  );
  throwsWith(
    () => checkDecision(GROUP_SEND, { verdict: "allow", replce: {} }),
    TypeError,
    'Decision field "replce": unknown; expected verdict, code, info, replace, refuseMembers, friendResults',
  );
  throwsWith(
    () => checkDecision(GROUP_SEND, { verdict: "yes" }),
    TypeError,
    'Decision verdict "yes": expected "allow", "reject" or "drop"',
  );
  throwsWith(
    () => checkDecision(GROUP_SEND, "allow"),
    TypeError,
    'Decision "allow": expected an object with a verdict, or undefined',
  );
  throwsWith(
    () => checkDecision(GROUP_SEND, { verdict: "allow", replace: { MsgBody: [{ Text: "x" }] } }),
    TypeError,
    'Decision replace.MsgBody[0] {"Text":"x"}: expected an object with a MsgType string',
  );
  throwsWith(
    () => checkDecision(GROUP_SEND, { verdict: "reject", code: 10100.5 }),
    TypeError,
    "Decision code 10100.5: expected an integer",
  );
});
