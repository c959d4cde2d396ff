import assert from "node:assert/strict";
import type { CallbackEvent, DecisionRecord } from "../../plugin.ts";
import { ManualClock } from "../clock.ts";
import { Metrics } from "../ops/metrics.ts";
import { type DeciderTransport, DecisionChain, type DecisionSettings } from "./chain.ts";
import { decisionRules } from "./rules.ts";

type Decide = (event: CallbackEvent, signal: AbortSignal) => unknown;

/** Deciders in this thread, as the plugin threads would run them. */
class MemoryTransport implements DeciderTransport {
  readonly calls: { plugin: string; event: CallbackEvent }[] = [];
  readonly aborted: string[] = [];
  #deciders: Map<string, Decide>;

  constructor(deciders: Record<string, Decide>) {
    this.#deciders = new Map(Object.entries(deciders));
  }

  deciders(): string[] {
    return [...this.#deciders.keys()];
  }

  async decide(plugin: string, event: CallbackEvent, signal: AbortSignal): Promise<unknown> {
    this.calls.push({ plugin, event: structuredClone(event) });
    signal.addEventListener("abort", () => this.aborted.push(plugin));
    try {
      // structuredClone: as a decision crosses from a plugin thread.
      return structuredClone(await this.#deciders.get(plugin)!(event, signal));
    } catch (error) {
      // As the plugin threads report a throw: one printable line naming its class.
      throw new TypeError(`${(error as Error).name}: ${(error as Error).message}`);
    }
  }
}

const SETTINGS: DecisionSettings = {
  deadlineMs: 1500,
  fallback: "allow",
  fallbackByCommand: {},
  breaker: { failures: 3, cooldownMs: 10_000 },
};

const SEND = "Group.CallbackBeforeSendMsg";

function event(command: string, payload: Record<string, unknown>): CallbackEvent {
  return {
    id: "",
    command,
    sdkAppId: "1400000000",
    receivedAt: 0,
    attempt: 1,
    payload: { CallbackCommand: command, ...payload },
    rawBody: JSON.stringify(payload),
  };
}

const TEXT = {
  GroupId: "g",
  From_Account: "a",
  MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }],
};

function setup(
  deciders: Record<string, Decide>,
  settings: Partial<DecisionSettings> = {},
): { chain: DecisionChain; transport: MemoryTransport; clock: ManualClock; metrics: Metrics } {
  const transport = new MemoryTransport(deciders);
  const clock = new ManualClock();
  const metrics = new Metrics();
  const chain = new DecisionChain(transport, { ...SETTINGS, ...settings }, { clock, metrics });
  return { chain, transport, clock, metrics };
}

function decide(
  chain: DecisionChain,
  clock: ManualClock,
  command = SEND,
  payload: Record<string, unknown> = TEXT,
  routed?: readonly string[],
): Promise<DecisionRecord> {
  return chain.decide({
    rules: decisionRules(command)!,
    event: event(command, payload),
    routed: routed ?? ["a", "b", "c", "hung", "moderation", "user"],
    receivedAt: clock.monotonic(),
  });
}

/** Lets the chain reach its next await (its timer armed) before the clock moves. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("chain: no decider allows at once, by none", async () => {
  const { chain, clock, metrics } = setup({});
  const record = await decide(chain, clock);
  assert.deepEqual(record, { verdict: "allow", by: "none", replaced: false, deciders: [], ms: 0 });
  assert.equal(
    metrics.decisions.value({ command: SEND, verdict: "allow", by: "none" }),
    1,
  );
});

Deno.test("chain: deciders not routed to the command are not asked", async () => {
  const { chain, clock, transport } = setup({ a: () => ({ verdict: "reject" }) });
  const record = await decide(chain, clock, SEND, TEXT, ["b"]);
  assert.equal(record.verdict, "allow");
  assert.equal(transport.calls.length, 0);
});

Deno.test("chain: a replace is carried to the next decider, whose reject ends the chain", async () => {
  const replaced = [{ MsgType: "TIMTextElem", MsgContent: { Text: "h*" } }];
  const { chain, clock, transport, metrics } = setup({
    a: () => ({ verdict: "allow", replace: { MsgBody: replaced } }),
    b: (event) => {
      assert.deepEqual(event.payload.MsgBody, replaced);
      return { verdict: "reject", code: 10101, info: "no" };
    },
    c: () => assert.fail("the chain ended before c"),
  });
  const record = await decide(chain, clock);
  assert.deepEqual(record, {
    verdict: "reject",
    code: 10101,
    info: "no",
    by: "b",
    replaced: false,
    deciders: [
      { plugin: "a", outcome: "allow", ms: 0 },
      { plugin: "b", outcome: "reject", ms: 0 },
    ],
    ms: 0,
  });
  assert.deepEqual(transport.calls.map((call) => call.plugin), ["a", "b"]);
  assert.equal(metrics.decisions.value({ command: SEND, verdict: "reject", by: "plugin" }), 1);
});

Deno.test("chain: replacements of several allows add up; by is the last that had an opinion", async () => {
  const body = [{ MsgType: "TIMTextElem", MsgContent: { Text: "x" } }];
  const { chain, clock } = setup({
    a: () => ({ verdict: "allow", replace: { MsgBody: body } }),
    b: () => undefined,
    c: (event) => {
      assert.deepEqual(event.payload.MsgBody, body);
      return { verdict: "allow", replace: { CloudCustomData: "cc" } };
    },
  });
  const record = await decide(chain, clock);
  assert.equal(record.by, "c");
  assert.equal(record.replaced, true);
  assert.deepEqual(record.replace, { MsgBody: body, CloudCustomData: "cc" });
  assert.deepEqual(record.deciders.map((run) => run.outcome), ["allow", "none", "allow"]);
});

Deno.test("chain: refused members are united, friend results merged with refusals winning", async () => {
  const invite = setup({
    a: () => ({ verdict: "allow", refuseMembers: ["x", "y"] }),
    b: () => ({ verdict: "allow", refuseMembers: ["y", "z"] }),
  });
  const record = await decide(invite.chain, invite.clock, "Group.CallbackBeforeInviteJoinGroup", {
    GroupId: "g",
  });
  assert.deepEqual(record.refuseMembers, ["x", "y", "z"]);

  const friends = setup({
    a: () => ({
      verdict: "allow",
      friendResults: [
        { To_Account: "p", ResultCode: 38001, ResultInfo: "a says no" },
        { To_Account: "q", ResultCode: 0 },
      ],
    }),
    b: () => ({
      verdict: "allow",
      friendResults: [
        { To_Account: "p", ResultCode: 0 },
        { To_Account: "q", ResultCode: 38002, ResultInfo: "b says no" },
      ],
    }),
  });
  const merged = await decide(friends.chain, friends.clock, "Sns.CallbackPrevFriendAdd", {});
  assert.deepEqual(merged.friendResults, [
    { To_Account: "p", ResultCode: 38001, ResultInfo: "a says no" },
    { To_Account: "q", ResultCode: 38002, ResultInfo: "b says no" },
  ]);
});

Deno.test("chain: a throwing decider is skipped and the fallback allow decides, keeping earlier replacements", async () => {
  const body = [{ MsgType: "TIMTextElem", MsgContent: { Text: "**" } }];
  const { chain, clock, metrics } = setup({
    moderation: () => ({ verdict: "allow", replace: { MsgBody: body } }),
    user: () => {
      throw new TypeError("boom");
    },
  });
  const record = await decide(chain, clock);
  assert.deepEqual(record, {
    verdict: "allow",
    by: "fallback",
    reason: '"user" failed: TypeError: boom',
    replaced: true,
    replace: { MsgBody: body },
    deciders: [
      { plugin: "moderation", outcome: "allow", ms: 0 },
      { plugin: "user", outcome: "error", ms: 0, error: "failed: TypeError: boom" },
    ],
    ms: 0,
  });
  assert.equal(metrics.deciderFailures.value({ plugin: "user", reason: "error" }), 1);
  assert.equal(metrics.decisions.value({ command: SEND, verdict: "allow", by: "fallback" }), 1);
});

Deno.test("chain: a failed decider does not keep a later one from rejecting when the fallback is allow", async () => {
  const { chain, clock } = setup({
    a: () => ({ verdict: "reject", code: 99 }),
    b: () => ({ verdict: "drop" }),
  });
  const record = await decide(chain, clock);
  assert.equal(record.verdict, "drop");
  assert.equal(record.by, "b");
  assert.deepEqual(record.deciders[0], {
    plugin: "a",
    outcome: "invalid",
    ms: 0,
    error: "Decision code 99: Group.CallbackBeforeSendMsg takes 1 or 10100-10200",
  });
});

Deno.test("chain: with fallback reject, the first failure rejects with the command's default code", async () => {
  const { chain, clock, transport } = setup(
    {
      a: () => ({ verdict: "reject", code: 10100.5 }),
      b: () => assert.fail("not asked after a rejecting fallback"),
    },
    { fallback: "allow", fallbackByCommand: { [SEND]: "reject" } },
  );
  const record = await decide(chain, clock);
  assert.equal(record.verdict, "reject");
  assert.equal(record.code, 1);
  assert.equal(record.by, "fallback");
  assert.equal(record.reason, '"a" Decision code 10100.5: expected an integer');
  assert.equal(transport.calls.length, 1);
  // Other commands keep the general fallback.
  assert.equal(chain.fallbackOf("C2C.CallbackBeforeSendMsg"), "allow");
  // A callback no decider may see gets the fallback too; Sns rejects with its first code.
  const sns = setup({}, { fallback: "reject" });
  const record2 = sns.chain.fallback(
    decisionRules("Sns.CallbackPrevFriendAdd")!,
    "payload breaks its schema",
    sns.clock.monotonic(),
  );
  assert.deepEqual(record2, {
    verdict: "reject",
    code: 38000,
    by: "fallback",
    reason: "payload breaks its schema",
    replaced: false,
    deciders: [],
    ms: 0,
  });
  assert.equal(
    sns.metrics.decisions.value({
      command: "Sns.CallbackPrevFriendAdd",
      verdict: "reject",
      by: "fallback",
    }),
    1,
  );
});

Deno.test("chain: a hung decider costs the deadline, is aborted, and the fallback decides", async () => {
  const { chain, clock, transport, metrics } = setup({
    hung: () => new Promise(() => {}),
    b: () => assert.fail("no time is left for b"),
  });
  const deciding = decide(chain, clock);
  let done = false;
  deciding.then(() => done = true);
  await settle();
  clock.tick(1499);
  await settle();
  assert.equal(done, false);
  clock.tick(1);
  const record = await deciding;
  assert.equal(record.verdict, "allow");
  assert.equal(record.by, "fallback");
  assert.deepEqual(record.deciders, [
    {
      plugin: "hung",
      outcome: "timeout",
      ms: 1500,
      error: "did not answer within the deadline (1500ms)",
    },
    {
      plugin: "b",
      outcome: "skipped",
      ms: 0,
      error: "was not asked: the deadline (1500ms) had passed",
    },
  ]);
  assert.equal(
    record.reason,
    '"hung" did not answer within the deadline (1500ms); "b" was not asked: the deadline (1500ms) had passed',
  );
  assert.deepEqual(transport.aborted, ["hung"]);
  assert.equal(metrics.deciderFailures.value({ plugin: "hung", reason: "timeout" }), 1);
});

Deno.test("chain: the deadline counts from receipt, not from the first decider", async () => {
  const { chain, clock } = setup({ hung: () => new Promise(() => {}) });
  const receivedAt = clock.monotonic();
  clock.tick(1000);
  const deciding = chain.decide({
    rules: decisionRules(SEND)!,
    event: event(SEND, TEXT),
    routed: ["hung"],
    receivedAt,
  });
  await settle();
  clock.tick(500);
  const record = await deciding;
  assert.equal(record.deciders[0]!.ms, 500);
  assert.equal(record.ms, 1500);
});

Deno.test("chain: a decider that keeps failing is skipped for the cool-down, then tried again", async () => {
  let calls = 0;
  let healthy = false;
  const { chain, clock, metrics } = setup({
    a: () => {
      calls++;
      if (!healthy) throw new RangeError("down");
      return { verdict: "reject" };
    },
  });
  for (let i = 0; i < 3; i++) await decide(chain, clock);
  assert.equal(calls, 3);
  assert.equal(metrics.deciderBreakerOpens.value({ plugin: "a" }), 1);
  const skipped = await decide(chain, clock);
  assert.equal(calls, 3);
  assert.equal(skipped.by, "fallback");
  assert.deepEqual(skipped.deciders[0]!.outcome, "skipped");
  assert.equal(metrics.deciderFailures.value({ plugin: "a", reason: "skipped" }), 1);
  // Past the cool-down one call tries it: still failing, it stays open for another.
  clock.tick(10_000);
  await decide(chain, clock);
  assert.equal(calls, 4);
  await decide(chain, clock);
  assert.equal(calls, 4);
  clock.tick(10_000);
  healthy = true;
  const back = await decide(chain, clock);
  assert.equal(back.verdict, "reject");
  assert.equal(back.by, "a");
  await decide(chain, clock);
  assert.equal(calls, 6);
  assert.equal(metrics.deciderBreakerOpens.value({ plugin: "a" }), 1);
});

Deno.test("chain: a breaker with failures 0 never opens", async () => {
  let calls = 0;
  const { chain, clock } = setup({
    a: () => {
      calls++;
      throw new Error("down");
    },
  }, { breaker: { failures: 0, cooldownMs: 10_000 } });
  for (let i = 0; i < 20; i++) await decide(chain, clock);
  assert.equal(calls, 20);
});

Deno.test("chain: a decider sees the event it is given, with an empty id", async () => {
  const { chain, clock, transport } = setup({ a: () => undefined });
  await decide(chain, clock);
  assert.equal(transport.calls[0]!.event.id, "");
  assert.deepEqual(transport.calls[0]!.event.payload, { CallbackCommand: SEND, ...TEXT });
});
