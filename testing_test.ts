import assert from "node:assert/strict";
import type { Plugin, PluginInstance } from "./plugin.ts";
import { KNOWN_COMMANDS, makeEvent, sample, startPlugin, testContext } from "./testing.ts";
import { validatePayload } from "./core/protocol/validate.ts";

Deno.test("testing: makeEvent makes an event of a fresh sample, or of the payload as given", () => {
  const a = makeEvent("Group.CallbackAfterSendMsg");
  const b = makeEvent("Group.CallbackAfterSendMsg");
  assert.equal(a.command, "Group.CallbackAfterSendMsg");
  assert.equal(a.payload.CallbackCommand, "Group.CallbackAfterSendMsg");
  assert.notEqual(a.payload.MsgSeq, b.payload.MsgSeq, "numbered afresh");
  assert.notEqual(a.id, b.id);
  assert.deepEqual(JSON.parse(a.rawBody), a.payload);
  assert.equal(a.attempt, 1);
  assert.equal(a.sdkAppId, "1400000000");
  assert.equal(a.clientIp, "127.0.0.1");

  const given = makeEvent(
    "Group.CallbackAfterSendMsg",
    { GroupId: "@TGS#x", From_Account: "a", MsgSeq: "7", MsgBody: [] },
    { id: "42", attempt: 3, clientIp: null, rawBody: "raw" },
  );
  assert.deepEqual(given.payload, {
    CallbackCommand: "Group.CallbackAfterSendMsg",
    GroupId: "@TGS#x",
    From_Account: "a",
    MsgSeq: "7",
    MsgBody: [],
  });
  assert.equal(given.id, "42");
  assert.equal(given.attempt, 3);
  assert.equal("clientIp" in given, false);
  assert.equal(given.rawBody, "raw");

  const unknown = makeEvent("Custom.Event", { a: 1 });
  assert.deepEqual(unknown.payload, { CallbackCommand: "Custom.Event", a: 1 });
  assert.deepEqual(makeEvent("Custom.Event").payload, { CallbackCommand: "Custom.Event" });
});

Deno.test("testing: every known command has a sample its schema accepts", () => {
  for (const command of KNOWN_COMMANDS) {
    const payload = sample(command)!;
    assert.deepEqual(validatePayload(command, payload), { ok: true }, command);
  }
  assert.equal(sample("Custom.Event"), undefined);
});

Deno.test("testing: testContext keeps what is logged, its placeholders filled", () => {
  using ctx = testContext({ name: "p" });
  ctx.logger.info("{group} says {text} ({n}, {missing})", { group: "@TGS#1", text: "hi", n: 2 });
  ctx.logger.error("failed: {error}", { error: new TypeError("boom") });
  assert.deepEqual(ctx.logs.map((log) => [log.level, log.message]), [
    ["info", "@TGS#1 says hi (2, {missing})"],
    ["error", "failed: boom"],
  ]);
  assert.equal(ctx.logs[0]!.template, "{group} says {text} ({n}, {missing})");
  assert.equal(ctx.name, "p");
  assert.equal(ctx.signal.aborted, false);
});

Deno.test("testing: startPlugin parses the options, creates, and disposes on await using", async () => {
  const seen: string[] = [];
  const plugin: Plugin<{ word: string }> = {
    name: "echo",
    parseOptions(raw) {
      const word = (raw as { word?: unknown }).word;
      if (typeof word !== "string") throw new TypeError("options.word: expected a string");
      return { word };
    },
    create(options, ctx): PluginInstance {
      return {
        handle(event) {
          seen.push(`${options.word} ${event.command}`);
          ctx.logger.debug("handled {id}", { id: event.id });
        },
        [Symbol.asyncDispose]() {
          seen.push("disposed");
          return Promise.resolve();
        },
      };
    },
  };
  let signal: AbortSignal;
  {
    await using started = await startPlugin(plugin, { word: "got" });
    signal = started.ctx.signal;
    await started.instance.handle(makeEvent("State.StateChange"), started.ctx.signal);
    assert.equal(started.ctx.logs.length, 1);
  }
  assert.deepEqual(seen, ["got State.StateChange", "disposed"]);
  assert.equal(signal.aborted, true);
  await assert.rejects(() => startPlugin(plugin, {}), {
    name: "TypeError",
    message: "options.word: expected a string",
  });
});
