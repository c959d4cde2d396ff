import assert from "node:assert/strict";
import { describeDecision } from "./show.ts";

Deno.test("show: a decision reads as what was answered, by what, and how each decider fared", () => {
  assert.deepEqual(
    describeDecision({
      verdict: "reject",
      code: 10101,
      info: "no spam here",
      by: "moderation",
      replaced: false,
      deciders: [
        { plugin: "moderation", outcome: "reject", ms: 0.4 },
      ],
      ms: 0.9,
    }),
    [
      '  decision   reject 10101 "no spam here" by moderation in 0.9 ms',
      "  deciders   moderation reject 0.4 ms",
    ],
  );
  assert.deepEqual(
    describeDecision({
      verdict: "allow",
      by: "fallback",
      reason: '"crm" did not answer within the deadline (1500ms)',
      replaced: true,
      replace: { MsgBody: [] },
      refuseMembers: ["jared"],
      deciders: [
        { plugin: "moderation", outcome: "allow", ms: 0.2 },
        {
          plugin: "crm",
          outcome: "timeout",
          ms: 1499.8,
          error: "did not answer within the deadline (1500ms)",
        },
      ],
      ms: 1500.1,
    }),
    [
      '  decision   allow by fallback in 1500.1 ms; replaced MsgBody; refused jared; "crm" did not answer within the deadline (1500ms)',
      "  deciders   moderation allow 0.2 ms; crm timeout 1499.8 ms (did not answer within the deadline (1500ms))",
    ],
  );
  assert.deepEqual(
    describeDecision({ verdict: "allow", by: "none", replaced: false, deciders: [], ms: 0 }),
    ["  decision   allow by none in 0 ms", "  deciders   none"],
  );
});
