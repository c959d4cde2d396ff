import assert from "node:assert/strict";
import type { DecisionRecord } from "../../plugin.ts";
import { tencentAnswer } from "./answer.ts";
import { decisionRules } from "./rules.ts";

function record(fields: Partial<DecisionRecord>): DecisionRecord {
  return { verdict: "allow", by: "p", replaced: false, deciders: [], ms: 0, ...fields };
}

function answer(
  command: string,
  payload: Record<string, unknown>,
  fields: Partial<DecisionRecord>,
) {
  return tencentAnswer(decisionRules(command)!, payload, record(fields));
}

// The answers below are the ones Tencent's page for each command shows (intl docs
// 1047/34374, 34364, 34370, 34371, 34368, 43467, 43468, 60795, 60799, 60803).

Deno.test("answer: Group.CallbackBeforeSendMsg allows, rejects, drops and replaces as Tencent documents", () => {
  const cmd = "Group.CallbackBeforeSendMsg";
  assert.deepEqual(answer(cmd, {}, {}), { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" });
  assert.deepEqual(answer(cmd, {}, { verdict: "reject" }), {
    ActionStatus: "OK",
    ErrorCode: 1,
    ErrorInfo: "",
  });
  assert.deepEqual(answer(cmd, {}, { verdict: "drop" }), {
    ActionStatus: "OK",
    ErrorCode: 2,
    ErrorInfo: "",
  });
  assert.deepEqual(answer(cmd, {}, { verdict: "reject", code: 10100, info: "blocked" }), {
    ActionStatus: "OK",
    ErrorCode: 10100,
    ErrorInfo: "blocked",
  });
  const body = [
    { MsgType: "TIMTextElem", MsgContent: { Text: "red packet" } },
    { MsgType: "TIMCustomElem", MsgContent: { Desc: "CustomElement.MemberLevel", Data: "LV1" } },
  ];
  assert.deepEqual(
    answer(cmd, {}, {
      replaced: true,
      replace: { MsgBody: body, CloudCustomData: "your cloud custom data" },
    }),
    {
      ActionStatus: "OK",
      ErrorCode: 0,
      ErrorInfo: "",
      MsgBody: body,
      CloudCustomData: "your cloud custom data",
    },
  );
});

Deno.test("answer: C2C.CallbackBeforeSendMsg carries a custom code and a replaced CloudCustomData", () => {
  const cmd = "C2C.CallbackBeforeSendMsg";
  assert.deepEqual(answer(cmd, {}, { verdict: "reject", code: 120001, info: "no links" }), {
    ActionStatus: "OK",
    ErrorCode: 120001,
    ErrorInfo: "no links",
  });
  assert.deepEqual(
    answer(cmd, {}, { replaced: true, replace: { CloudCustomData: "your new cloud custom data" } }),
    {
      ActionStatus: "OK",
      ErrorCode: 0,
      ErrorInfo: "",
      CloudCustomData: "your new cloud custom data",
    },
  );
});

Deno.test("answer: Group.CallbackBeforeInviteJoinGroup lists refused members, or none", () => {
  const cmd = "Group.CallbackBeforeInviteJoinGroup";
  assert.deepEqual(answer(cmd, {}, { refuseMembers: ["jared"] }), {
    ActionStatus: "OK",
    ErrorCode: 0,
    ErrorInfo: "",
    RefusedMembers_Account: ["jared"],
  });
  assert.deepEqual(answer(cmd, {}, { refuseMembers: [] }), {
    ActionStatus: "OK",
    ErrorCode: 0,
    ErrorInfo: "",
  });
  assert.deepEqual(answer(cmd, {}, { verdict: "reject", code: 10150, info: "closed group" }), {
    ActionStatus: "OK",
    ErrorCode: 10150,
    ErrorInfo: "closed group",
  });
});

Deno.test("answer: the other Group commands allow and reject", () => {
  for (
    const cmd of [
      "Group.CallbackBeforeCreateGroup",
      "Group.CallbackBeforeApplyJoinGroup",
      "Group.CallbackBeforeCreateTopic",
    ]
  ) {
    assert.deepEqual(answer(cmd, {}, {}), { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" });
    assert.deepEqual(answer(cmd, {}, { verdict: "reject" }), {
      ActionStatus: "OK",
      ErrorCode: 1,
      ErrorInfo: "",
    });
  }
});

Deno.test("answer: Sns.CallbackPrevFriendAdd answers one ResultItem per friend of the request", () => {
  const cmd = "Sns.CallbackPrevFriendAdd";
  const payload = {
    CallbackCommand: cmd,
    Requester_Account: "id",
    From_Account: "id",
    FriendItem: [{ To_Account: "id1" }, { To_Account: "id2" }],
  };
  assert.deepEqual(answer(cmd, payload, {}), {
    ActionStatus: "OK",
    ErrorCode: 0,
    ErrorInfo: "",
    ResultItem: [
      { To_Account: "id1", ResultCode: 0, ResultInfo: "" },
      { To_Account: "id2", ResultCode: 0, ResultInfo: "" },
    ],
  });
  assert.deepEqual(
    answer(cmd, payload, {
      friendResults: [{ To_Account: "id2", ResultCode: 38001, ResultInfo: "blocked" }],
    }).ResultItem,
    [
      { To_Account: "id1", ResultCode: 0, ResultInfo: "" },
      { To_Account: "id2", ResultCode: 38001, ResultInfo: "blocked" },
    ],
  );
  // A reject refuses every friend: Tencent ignores the ErrorCode of these commands.
  assert.deepEqual(answer(cmd, payload, { verdict: "reject", info: "no" }), {
    ActionStatus: "OK",
    ErrorCode: 0,
    ErrorInfo: "",
    ResultItem: [
      { To_Account: "id1", ResultCode: 38000, ResultInfo: "no" },
      { To_Account: "id2", ResultCode: 38000, ResultInfo: "no" },
    ],
  });
});

Deno.test("answer: Sns.CallbackPrevFriendResponse reads ResponseFriendItem", () => {
  const cmd = "Sns.CallbackPrevFriendResponse";
  const payload = {
    CallbackCommand: cmd,
    ResponseFriendItem: [
      { To_Account: "id1", ResponseAction: "Response_Action_AgreeAndAdd" },
      { To_Account: "id2", ResponseAction: "Response_Action_Reject" },
    ],
  };
  assert.deepEqual(answer(cmd, payload, {}).ResultItem, [
    { To_Account: "id1", ResultCode: 0, ResultInfo: "" },
    { To_Account: "id2", ResultCode: 0, ResultInfo: "" },
  ]);
});

Deno.test("answer: OfficialAccount commands use their own refusal field and codes", () => {
  assert.deepEqual(
    answer("OfficialAccount.CallbackBeforeAddSubscriber", {}, { refuseMembers: ["jared"] }),
    { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "", RefusedSubscribers_Account: ["jared"] },
  );
  assert.deepEqual(
    answer("OfficialAccount.CallbackBeforeSendMsg", {}, { verdict: "drop" }),
    { ActionStatus: "OK", ErrorCode: 2, ErrorInfo: "" },
  );
});

Deno.test("answer: an unknown decision command allows and rejects with code 1", () => {
  const cmd = "Group.CallbackBeforeSomethingNew";
  assert.deepEqual(answer(cmd, {}, {}), { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" });
  assert.deepEqual(answer(cmd, {}, { verdict: "reject", by: "fallback" }), {
    ActionStatus: "OK",
    ErrorCode: 1,
    ErrorInfo: "",
  });
});

interface Fixture {
  command: string;
  body: Record<string, unknown>;
  answer?: Record<string, unknown>;
  answers?: { case: string; body: Record<string, unknown> }[];
}

/** The decision that an answer of Tencent's page stands for. */
function decisionOf(answer: Record<string, unknown>): Partial<DecisionRecord> {
  const code = answer.ErrorCode as number;
  if (code === 2) return { verdict: "drop" };
  if (code !== 0) return { verdict: "reject", code, info: answer.ErrorInfo as string };
  const fields: Partial<DecisionRecord> = {};
  if (answer.MsgBody !== undefined || answer.CloudCustomData !== undefined) {
    fields.replaced = true;
    fields.replace = {
      ...(answer.MsgBody !== undefined ? { MsgBody: answer.MsgBody as never } : {}),
      ...(answer.CloudCustomData !== undefined
        ? { CloudCustomData: answer.CloudCustomData as string }
        : {}),
    };
  }
  const refused = answer.RefusedMembers_Account ?? answer.RefusedSubscribers_Account;
  if (refused !== undefined) fields.refuseMembers = refused as string[];
  if (answer.ResultItem !== undefined) {
    fields.friendResults = answer.ResultItem as DecisionRecord["friendResults"];
  }
  return fields;
}

Deno.test("answer: every answer on Tencent's pages of decision commands comes out exactly", async () => {
  const folder = new URL("../../tests/fixtures/tencent/", import.meta.url);
  const index = JSON.parse(await Deno.readTextFile(new URL("index.json", folder))) as {
    fixtures: { file: string; command: string; kind: string }[];
  };
  let checked = 0;
  for (const entry of index.fixtures) {
    const rules = decisionRules(entry.command);
    if (entry.kind !== "decision" || rules === undefined) continue;
    const fixture = JSON.parse(await Deno.readTextFile(new URL(entry.file, folder))) as Fixture;
    const answers = fixture.answers?.map((a) => a.body) ?? (fixture.answer ? [fixture.answer] : []);
    for (const expected of answers) {
      const actual = tencentAnswer(rules, fixture.body, record(decisionOf(expected)));
      // Key order aside (Tencent's examples vary it), the same JSON.
      assert.deepEqual(actual, expected, `${entry.file}: ${JSON.stringify(expected)}`);
      checked++;
    }
  }
  // The 30 answers the fixtures hold for the Before and Prev commands.
  assert.equal(checked, 30);
});
