/**
 * Decisions end to end: a real `serve` with real plugin files (`builtin:moderation`, the
 * decider fixture, the recorder), answering Tencent's Before/Prev callbacks.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  APP,
  baseConfig,
  cli,
  eventually,
  recorded,
  ROOT,
  serve,
  type Served,
  signedQuery,
  workspace,
} from "./_helpers.ts";

const GROUP_SEND = "Group.CallbackBeforeSendMsg";
const C2C_SEND = "C2C.CallbackBeforeSendMsg";
const DEADLINE_MS = 1500;

/** Every decision case in one daemon: fewer processes on a shared machine. */
function config(): string {
  return baseConfig(`admin:
  listen: 127.0.0.1:0
log:
  level: debug
  format: json
decisions:
  deadline: ${DEADLINE_MS}ms
  fallback: allow
  fallback_by_command: { ${C2C_SEND}: reject }
  breaker: { failures: 0 }
plugins:
  - name: moderation
    use: builtin:moderation
    on: ["${GROUP_SEND}", "${C2C_SEND}"]
    options:
      rules:
        - words: ["darn", "heck*"]
          action: mask
        - words_file: ./banned.txt
          action: reject
          code: 10101
          info: "no spam here"
        - patterns: ["hush\\\\s+now"]
          action: drop
  - name: gate
    use: ${ROOT}tests/fixtures/decider.ts
    on: ["${GROUP_SEND}", "${C2C_SEND}"]
    permissions: { write: [./gate.jsonl] }
    options:
      seen: ./gate.jsonl
      rules:
        - { when: "REJECTME", answer: { verdict: reject, code: 10150, info: "gate says no" } }
        - { when: "BOOM", throw: "the gate fell over" }
        - { when: "HANG", hang: true }
        - { when: "RANGE", answer: { verdict: reject, code: 99 } }
  - name: invite_a
    use: ${ROOT}tests/fixtures/decider.ts
    on: ["Group.CallbackBeforeInviteJoinGroup"]
    options:
      rules: [{ when: "DestinationMembers", answer: { verdict: allow, refuseMembers: ["jared"] } }]
  - name: invite_b
    use: ${ROOT}tests/fixtures/decider.ts
    on: ["Group.CallbackBeforeInviteJoinGroup"]
    options:
      rules: [{ when: "DestinationMembers", answer: { verdict: allow, refuseMembers: ["bob", "jared"] } }]
  - name: friends
    use: ${ROOT}tests/fixtures/decider.ts
    on: ["Sns.*"]
    options:
      rules:
        - when: "FriendItem"
          answer: { verdict: allow, friendResults: [{ To_Account: "id2", ResultCode: 38001, ResultInfo: "not now" }] }
  - name: recorder
    use: ${ROOT}tests/fixtures/recorder.ts
    permissions: { read: [.], write: [.] }
    options:
      path: ./events.jsonl
  - name: audit
    use: builtin:file_logger
    on: ["${GROUP_SEND}"]
    options:
      path: ./audit.jsonl
`);
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

async function post(
  served: Served,
  command: string,
  body: string | Record<string, unknown>,
): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${served.url}?${signedQuery(command)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify({ CallbackCommand: command, ...body }),
  });
  const json = await response.json();
  return { status: response.status, body: json, ms: performance.now() - started };
}

function message(text: string, seq: number): Record<string, unknown> {
  return {
    GroupId: "@TGS#decisions",
    From_Account: "jared",
    Random: seq,
    MsgBody: [
      { MsgType: "TIMTextElem", MsgContent: { Text: text } },
      { MsgType: "TIMFaceElem", MsgContent: { Index: 1, Data: "darn" } },
    ],
  };
}

function c2c(text: string, seq: number): Record<string, unknown> {
  return {
    From_Account: "jared",
    To_Account: "leckie",
    MsgKey: `c2c_${seq}`,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: text } }],
  };
}

const OK = { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" };

/** The decision stored with each callback of `command`, in journal order. */
function storedDecisions(dir: string, command: string): Record<string, unknown>[] {
  const db = new DatabaseSync(`${dir}/journal.db`, { readOnly: true });
  try {
    const rows = db.prepare("SELECT decision FROM callbacks WHERE command = ? ORDER BY id")
      .all(command) as { decision: string | null }[];
    return rows.map((row) => JSON.parse(row.decision ?? "null"));
  } finally {
    db.close();
  }
}

/** Waits until every plugin has started (`/readyz` 200): the listener does not wait for them. */
async function ready(served: Served): Promise<void> {
  await eventually(async () => {
    const response = await fetch(`${served.adminUrl}/readyz`);
    await response.body?.cancel();
    return response.status === 200;
  }, "every plugin started");
}

async function metric(served: Served, line: string): Promise<number> {
  const text = await (await fetch(`${served.adminUrl}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

Deno.test("decisions: plugins answer Tencent's Before and Prev callbacks, end to end", async (t) => {
  await using ws = await workspace(config());
  await Deno.writeTextFile(`${ws.dir}/banned.txt`, "# words that reject\nspam\n");
  await using served = await serve(ws.config);
  await ready(served);

  await t.step("no decider allows at once, by none", async () => {
    const answer = await post(served, "Group.CallbackBeforeCreateGroup", {
      Operator_Account: "leckie",
      Owner_Account: "leckie",
      Type: "Public",
      Name: "MyFirstGroup",
    });
    assert.deepEqual(answer, { ...answer, status: 200, body: OK });
    const [decision] = storedDecisions(ws.dir, "Group.CallbackBeforeCreateGroup");
    assert.deepEqual({ ...decision, ms: 0 }, {
      verdict: "allow",
      by: "none",
      replaced: false,
      deciders: [],
      ms: 0,
    });
  });

  await t.step("a reject with a custom code answers exactly as Tencent documents", async () => {
    const answer = await post(served, GROUP_SEND, message("buy SPAM today", 1));
    assert.equal(answer.status, 200);
    assert.equal(
      JSON.stringify(answer.body),
      '{"ActionStatus":"OK","ErrorCode":10101,"ErrorInfo":"no spam here"}',
    );
  });

  await t.step("show prints the decision stored with the callback", async () => {
    // On a terminal, as text: cli/show_test.ts checks that.
    const db = new DatabaseSync(`${ws.dir}/journal.db`, { readOnly: true });
    const row = db.prepare(
      "SELECT id FROM callbacks WHERE command = ? AND decision LIKE '%no spam here%'",
    ).get(GROUP_SEND) as { id: number };
    db.close();
    const json = JSON.parse(
      (await cli(["show", "--config", ws.config, String(row.id), "--json"])).stdout,
    );
    assert.equal(json.decision.verdict, "reject");
    assert.equal(json.decision.code, 10101);
    assert.equal(json.decision.by, "moderation");
  });

  await t.step("a drop answers ErrorCode 2", async () => {
    const answer = await post(served, GROUP_SEND, message("Hush   now, please", 2));
    assert.deepEqual(answer.body, { ActionStatus: "OK", ErrorCode: 2, ErrorInfo: "" });
  });

  await t.step("a mask replaces MsgBody in the answer and in event.decision", async () => {
    const answer = await post(served, GROUP_SEND, message("darn it, heckin' cold", 3));
    const masked = [
      { MsgType: "TIMTextElem", MsgContent: { Text: "**** it, ******' cold" } },
      { MsgType: "TIMFaceElem", MsgContent: { Index: 1, Data: "darn" } },
    ];
    assert.deepEqual(answer.body, { ...OK, MsgBody: masked });
    await eventually(
      async () =>
        (await recorded(`${ws.dir}/events.jsonl`)).some((e) =>
          e.command === GROUP_SEND && (e.payload as { Random: number }).Random === 3
        ),
      "the recorder got the masked message",
    );
    const event = (await recorded(`${ws.dir}/events.jsonl`)).find((e) =>
      (e.payload as { Random?: number }).Random === 3
    )!;
    const decision = event.decision as Record<string, unknown>;
    assert.equal(decision.verdict, "allow");
    assert.equal(decision.by, "moderation");
    assert.equal(decision.replaced, true);
    assert.deepEqual(decision.replace, { MsgBody: masked });
    assert.deepEqual(
      (decision.deciders as { plugin: string; outcome: string }[]).map((
        d,
      ) => [d.plugin, d.outcome]),
      [["moderation", "allow"], ["gate", "none"]],
    );
    // The payload delivered is the message as sent; the decision says what Tencent sent.
    assert.equal(
      (event.payload as { MsgBody: { MsgContent: { Text: string } }[] }).MsgBody[0]!.MsgContent
        .Text,
      "darn it, heckin' cold",
    );
    // builtin:file_logger writes it as "decision".
    // Whole lines only: the file may be read while a line is being written.
    const audited = async () =>
      (await recorded(`${ws.dir}/audit.jsonl`)).find((line) =>
        (line.payload as { Random?: number }).Random === 3
      );
    await eventually(
      async () => await audited() !== undefined,
      "the audit line of the masked message",
    );
    assert.deepEqual((await audited())!.decision, decision);
  });

  await t.step("the chain: a replace, then a reject by the next decider that saw it", async () => {
    const answer = await post(served, GROUP_SEND, message("darn REJECTME", 4));
    assert.deepEqual(answer.body, {
      ActionStatus: "OK",
      ErrorCode: 10150,
      ErrorInfo: "gate says no",
    });
    const seen = (await Deno.readTextFile(`${ws.dir}/gate.jsonl`)).trim().split("\n")
      .map((line) => JSON.parse(line));
    const last = seen.find((p) => p.Random === 4);
    assert.equal(last.MsgBody[0].MsgContent.Text, "**** REJECTME");
    const stored = storedDecisions(ws.dir, GROUP_SEND).find((d) =>
      (d.deciders as { outcome: string }[])[1]?.outcome === "reject"
    )!;
    assert.equal(stored.by, "gate");
    assert.equal(stored.replaced, false);
  });

  await t.step(
    "a throwing decider falls back (allow), keeping the replacement before it",
    async () => {
      const answer = await post(served, GROUP_SEND, message("darn BOOM", 5));
      assert.deepEqual(answer.body, {
        ...OK,
        MsgBody: [
          { MsgType: "TIMTextElem", MsgContent: { Text: "**** BOOM" } },
          { MsgType: "TIMFaceElem", MsgContent: { Index: 1, Data: "darn" } },
        ],
      });
      const stored = storedDecisions(ws.dir, GROUP_SEND).at(-1)!;
      assert.equal(stored.by, "fallback");
      assert.equal(stored.reason, '"gate" failed: RangeError: the gate fell over');
    },
  );

  await t.step("a decider returning an out-of-range code falls back", async () => {
    const answer = await post(served, GROUP_SEND, message("RANGE", 6));
    assert.deepEqual(answer.body, OK);
    const stored = storedDecisions(ws.dir, GROUP_SEND).at(-1)!;
    assert.equal(stored.by, "fallback");
    assert.equal(
      stored.reason,
      '"gate" Decision code 99: Group.CallbackBeforeSendMsg takes 1 or 10100-10200',
    );
  });

  await t.step(
    "a hung decider costs the deadline: fallback allow, and reject where configured",
    async () => {
      const [allowed, rejected] = await Promise.all([
        post(served, GROUP_SEND, message("HANG", 7)),
        post(served, C2C_SEND, c2c("HANG", 8)),
      ]);
      assert.deepEqual(allowed.body, OK);
      assert.deepEqual(rejected.body, { ActionStatus: "OK", ErrorCode: 1, ErrorInfo: "" });
      for (const answer of [allowed, rejected]) {
        assert.ok(answer.ms >= DEADLINE_MS, `answered after ${answer.ms}ms`);
        assert.ok(answer.ms < 2_000, `answered within Tencent's 2s (${answer.ms}ms)`);
      }
      const stored = storedDecisions(ws.dir, C2C_SEND).at(-1)!;
      assert.equal(stored.verdict, "reject");
      assert.equal(stored.code, 1);
      assert.equal(stored.by, "fallback");
      assert.equal(stored.reason, `"gate" did not answer within the deadline (${DEADLINE_MS}ms)`);
      assert.equal(
        await metric(served, 'imhookd_decider_failures_total{plugin="gate",reason="timeout"}'),
        2,
      );
    },
  );

  await t.step("an invite is partly refused: the deciders' refusals united", async () => {
    const answer = await post(served, "Group.CallbackBeforeInviteJoinGroup", {
      GroupId: "@TGS#2J4SZEAEL",
      Type: "Public",
      Operator_Account: "leckie",
      DestinationMembers: [{ Member_Account: "jared" }, { Member_Account: "bob" }, {
        Member_Account: "leckie",
      }],
    });
    assert.deepEqual(answer.body, { ...OK, RefusedMembers_Account: ["jared", "bob"] });
  });

  await t.step("friend requests are answered one ResultItem per friend", async () => {
    const answer = await post(served, "Sns.CallbackPrevFriendAdd", {
      Requester_Account: "id",
      From_Account: "id",
      FriendItem: [{ To_Account: "id1" }, { To_Account: "id2" }],
      AddType: "Add_Type_Both",
    });
    assert.deepEqual(answer.body, {
      ...OK,
      ResultItem: [
        { To_Account: "id1", ResultCode: 0, ResultInfo: "" },
        { To_Account: "id2", ResultCode: 38001, ResultInfo: "not now" },
      ],
    });
  });

  await t.step(
    "a Before payload that breaks its schema is quarantined and answered with its fallback",
    async () => {
      const allowed = await post(served, GROUP_SEND, {
        GroupId: 5,
        From_Account: "x",
        MsgBody: [],
      });
      assert.deepEqual(allowed, { ...allowed, status: 200, body: OK });
      const rejected = await post(served, C2C_SEND, { MsgKey: 7 });
      assert.deepEqual(rejected.body, { ActionStatus: "OK", ErrorCode: 1, ErrorInfo: "" });
      const status = await cli(["status", "--config", ws.config]);
      assert.match(status.stdout, /, 2 quarantined,/);
    },
  );

  await t.step("send prints Tencent's whole answer", async () => {
    const body = `${ws.dir}/send.json`;
    await Deno.writeTextFile(
      body,
      JSON.stringify({ CallbackCommand: GROUP_SEND, ...message("oh darn", 9) }),
    );
    const sent = await cli([
      "send",
      "--config",
      ws.config,
      "--command",
      GROUP_SEND,
      "--body",
      body,
      "--url",
      served.url,
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(
      sent.stdout.trim(),
      `200 ${
        JSON.stringify({
          ...OK,
          MsgBody: [
            { MsgType: "TIMTextElem", MsgContent: { Text: "oh ****" } },
            { MsgType: "TIMFaceElem", MsgContent: { Index: 1, Data: "darn" } },
          ],
        })
      }`,
    );
  });

  await t.step("send --set on the built-in sample shows the decision", async () => {
    const sent = await cli([
      "send",
      "--config",
      ws.config,
      "--command",
      GROUP_SEND,
      "--set",
      'MsgBody=[{"MsgType":"TIMTextElem","MsgContent":{"Text":"spam again"}}]',
      "--url",
      served.url,
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(
      sent.stdout.trim(),
      '200 {"ActionStatus":"OK","ErrorCode":10101,"ErrorInfo":"no spam here"}',
    );
  });

  await t.step("a reload reads the words file again", async () => {
    await Deno.writeTextFile(`${ws.dir}/banned.txt`, "eggs\n");
    const logged = served.logs.length;
    served.child.kill("SIGHUP");
    await eventually(
      () => served.logs.slice(logged).some((line) => line.includes("Reloaded")),
      "the reload is done",
    );
    // The plugin restarts with the new list: decisions meanwhile get the fallback.
    await ready(served);
    assert.deepEqual((await post(served, GROUP_SEND, message("spam", 10))).body, OK);
    assert.equal((await post(served, GROUP_SEND, message("green EGGS", 11))).body.ErrorCode, 10101);
  });

  await t.step("the metrics count decisions by command, verdict and what decided", async () => {
    const total = (verdict: string, by: string) =>
      metric(
        served,
        `imhookd_decisions_total{command="${GROUP_SEND}",verdict="${verdict}",by="${by}"}`,
      );
    assert.ok(await total("reject", "plugin") >= 3);
    assert.equal(await total("drop", "plugin"), 1);
    assert.ok(await total("allow", "fallback") >= 4);
    assert.ok(
      await metric(served, `imhookd_decision_seconds_count{command="${GROUP_SEND}"}`) >= 10,
    );
  });

  assert.equal(await served.stop(), 0);
  assert.ok(!served.logs.some((line) => line.includes(APP) && line.includes("Sign=")));
});

Deno.test("decisions: a decider that keeps failing is skipped for the cool-down, logged and counted", async () => {
  await using ws = await workspace(baseConfig(`admin:
  listen: 127.0.0.1:0
log:
  level: info
  format: json
decisions:
  breaker: { failures: 2, cooldown: 10m }
plugins:
  - name: flaky
    use: ${ROOT}tests/fixtures/decider.ts
    on: ["${GROUP_SEND}"]
    options:
      rules: [{ when: "MsgBody", throw: "down for maintenance" }]
`));
  await using served = await serve(ws.config);
  await ready(served);
  for (let seq = 1; seq <= 4; seq++) {
    assert.deepEqual((await post(served, GROUP_SEND, message("hello", seq))).body, OK);
  }
  const outcomes = storedDecisions(ws.dir, GROUP_SEND).map((d) =>
    (d.deciders as { outcome: string }[])[0]!.outcome
  );
  assert.deepEqual(outcomes, ["error", "error", "skipped", "skipped"]);
  assert.equal(await metric(served, 'imhookd_decider_breaker_opens_total{plugin="flaky"}'), 1);
  assert.equal(
    await metric(served, 'imhookd_decider_failures_total{plugin="flaky",reason="skipped"}'),
    2,
  );
  assert.ok(
    served.logs.some((line) => line.includes("failed 2 times in a row")),
    served.logs.join("\n"),
  );
  // It only decides: its deliveries (its `on` routes them) are done at once.
  await eventually(
    async () => await metric(served, 'imhookd_deliveries_total{plugin="flaky",result="ok"}') === 4,
    "the decider's deliveries are done",
  );
  assert.equal(await served.stop(), 0);
});

Deno.test("decisions: a decider whose thread crashes costs its decision, not the deadline; it restarts", async () => {
  await using ws = await workspace(baseConfig(`admin:
  listen: 127.0.0.1:0
log:
  level: info
  format: json
decisions:
  breaker: { failures: 0 }
plugins:
  - name: crasher
    use: ${ROOT}tests/fixtures/decider.ts
    on: ["${GROUP_SEND}"]
    options:
      rules: [{ when: "CRASH", exit: true }, { when: "REJECTME", answer: { verdict: reject } }]
`));
  await using served = await serve(ws.config);
  await ready(served);
  const crashed = await post(served, GROUP_SEND, message("CRASH", 1));
  assert.deepEqual(crashed.body, OK);
  assert.ok(crashed.ms < DEADLINE_MS, `answered after ${crashed.ms}ms`);
  const stored = storedDecisions(ws.dir, GROUP_SEND)[0]!;
  assert.equal(stored.by, "fallback");
  assert.match(stored.reason as string, /^"crasher" failed: /);
  await eventually(
    async () =>
      await metric(served, 'imhookd_plugin_restarts_total{plugin="crasher",reason="exit"}') >= 1,
    "the crasher restarted",
  );
  await ready(served);
  assert.deepEqual((await post(served, GROUP_SEND, message("REJECTME", 2))).body, {
    ActionStatus: "OK",
    ErrorCode: 1,
    ErrorInfo: "",
  });
  assert.equal(await served.stop(), 0);
});
