import assert from "node:assert/strict";
import type { CallbackEvent } from "../../plugin.ts";
import { tempDir } from "../_testing.ts";
import { type Config, parseConfig } from "../config/config.ts";
import { JournalWriter } from "../journal/mod.ts";
import { Metrics } from "../ops/metrics.ts";
import { DeliveryHost } from "./host.ts";

const FIXTURE = new URL("../../tests/fixtures/misbehave.ts", import.meta.url).pathname;

function config(dir: string, plugins: string): Config {
  return parseConfig(
    `apps: [{ sdk_app_id: 1400000000 }]
journal: { path: ./journal.db }
log: { level: error, format: json }
delivery: { start_timeout: 60s }
plugins:
${plugins}`,
    `${dir}/config.yaml`,
  );
}

function event(): CallbackEvent {
  const payload = {
    CallbackCommand: "Group.CallbackBeforeSendMsg",
    GroupId: "@TGS#1",
    From_Account: "jared",
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hello" } }],
  };
  return {
    id: "",
    command: payload.CallbackCommand,
    sdkAppId: "1400000000",
    receivedAt: Date.now(),
    attempt: 1,
    payload,
    rawBody: JSON.stringify(payload),
  };
}

async function until(probe: () => boolean, what: string, detail: () => unknown): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!probe()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting until ${what}: ${JSON.stringify(detail())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("DeliveryHost: decide asks a running plugin's thread and returns its decision", async () => {
  await using dir = await tempDir("imhookd-host-");
  const cfg = config(
    dir.path,
    `  - name: judge
    use: ${FIXTURE}
    options: { path: ./judge.jsonl, decide: reject }
  - name: clumsy
    use: ${FIXTURE}
    options: { path: ./clumsy.jsonl, decide: throw }
  - name: waits
    use: ${FIXTURE}
    options: { path: ./waits.jsonl, decide: slow }
  - name: mute
    use: ${FIXTURE}
    options: { path: ./mute.jsonl }
`,
  );
  const journal = JournalWriter.open(cfg.journal.path, { checkpointedElsewhere: true });
  const host = await DeliveryHost.start(cfg, journal, new Metrics(), {
    onTooManyStuck: () => {},
  });
  try {
    await until(() => host.problems().length === 0, "every plugin runs", () => host.problems());
    assert.deepEqual(host.deciders(), ["judge", "clumsy", "waits"]);

    const signal = new AbortController().signal;
    assert.deepEqual(await host.decide("judge", event(), signal), {
      verdict: "reject",
      code: 10101,
      info: "rejected ",
    });

    await assert.rejects(
      host.decide("clumsy", event(), signal),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message === "TypeError: no decision for Group.CallbackBeforeSendMsg",
    );
    await assert.rejects(
      host.decide("mute", event(), signal),
      (error: unknown) =>
        error instanceof TypeError && error.message === "the plugin has no decide()",
    );
    await assert.rejects(
      host.decide("nobody", event(), signal),
      (error: unknown) =>
        error instanceof TypeError && error.message === 'There is no plugin "nobody" running',
    );

    const timeout = AbortSignal.timeout(50);
    await assert.rejects(
      host.decide("waits", event(), timeout),
      (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
    );
    // The thread is still fine after an aborted decision.
    assert.deepEqual(await host.decide("judge", event(), signal), {
      verdict: "reject",
      code: 10101,
      info: "rejected ",
    });
  } finally {
    await host.shutdown(1_000);
    journal.close();
  }
});
