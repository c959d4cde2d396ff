/**
 * Every example of Tencent's pages (tests/fixtures/tencent), sent through the real handler
 * into a real journal: answered 200 and journaled for its plugin, or, for the examples the
 * pages print as broken JSON, answered 400 and quarantined (and their repaired version
 * answered 200). Each test's name records the page it comes from.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ManualClock } from "../clock.ts";
import { JournalWriter } from "../journal/mod.ts";
import { Metrics } from "../ops/metrics.ts";
import { Router } from "../config/router.ts";
import { commandLabel, isKnownCommand, KNOWN_COMMANDS } from "../protocol/commands.ts";
import { CallbackHandler } from "./handler.ts";
import { computeSign } from "./verify.ts";
import { tempDir } from "../_testing.ts";
import { corpus, type Example, exampleQuery } from "../../tests/_corpus.ts";

const APP = "1400000000";
const TOKEN = "corpus-token";
const EXAMPLES = await corpus();

interface Sent {
  status: number;
  answer: Record<string, unknown>;
}

async function withHandler(
  fn: (send: (example: Example, body: string) => Promise<Sent>, h: {
    journal: JournalWriter;
    metrics: Metrics;
    path: string;
  }) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir("imhookd-corpus-");
  const clock = new ManualClock(1_800_000_000_000);
  const metrics = new Metrics();
  const path = `${dir.path}/journal.db`;
  await using journal = JournalWriter.open(path, { busyTimeoutMs: 50 });
  const handler = new CallbackHandler({
    path: "/im/callback",
    maxBodyBytes: 1 << 20,
    maxInFlight: 8,
    journal,
    clock,
    metrics,
    state: {
      apps: new Map([[APP, { sdkAppId: APP, token: TOKEN, maxSkewMs: 60_000 }]]),
      router: new Router([{ name: "all", on: ["*"] }]),
    },
  });
  const requestTime = String(Math.floor(clock.now() / 1000));
  const sign = { RequestTime: requestTime, Sign: computeSign(TOKEN, requestTime) };
  await fn(async (example, body) => {
    const response = await handler.handle(
      new Request(`http://127.0.0.1/im/callback?${exampleQuery(example, APP, sign)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      }),
    );
    return { status: response.status, answer: await response.json() };
  }, { journal, metrics, path });
}

function quarantined(path: string): { reason: string; command: string; body: string }[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT reason, command, CAST(body AS TEXT) AS body FROM quarantine")
      .all() as never;
  } finally {
    db.close();
  }
}

for (const example of EXAMPLES) {
  if (example.file.startsWith("legacy.")) continue;
  Deno.test(`corpus: ${example.file} (${example.page}) is answered 200 and journaled`, async () => {
    await withHandler(async (send, { journal, metrics }) => {
      const sent = await send(example, example.body);
      assert.equal(sent.status, 200, JSON.stringify(sent.answer));
      assert.equal(sent.answer.ActionStatus, "OK");
      assert.equal(sent.answer.ErrorCode, 0);
      const pending = journal.pending("all", 0, 10);
      assert.equal(pending.length, 1);
      assert.equal(pending[0]!.command, example.command);
      assert.equal(pending[0]!.body, example.body);
      assert.equal(isKnownCommand(example.command), true);
      assert.equal(
        metrics.callbacks.value({ command: commandLabel(example.command), result: "ok" }),
        1,
        "counted under its own name",
      );
      // Sent again (Tencent retries): answered 200, stored once.
      assert.equal((await send(example, example.body)).status, 200);
      assert.equal(journal.pending("all", 0, 10).length, 1);
    });
  });
  if (example.invalidText === undefined) continue;
  Deno.test(`corpus: ${example.file} (${example.page}) as the page prints it is answered 400 and quarantined`, async () => {
    await withHandler(async (send, { journal, path }) => {
      const sent = await send(example, example.invalidText!);
      assert.equal(sent.status, 400);
      assert.equal(sent.answer.ActionStatus, "FAIL");
      assert.match(String(sent.answer.ErrorInfo), /^Body is not JSON: /);
      assert.equal(journal.pending("all", 0, 10).length, 0);
      const [kept] = quarantined(path);
      assert.equal(kept?.command, example.command);
      assert.equal(kept?.body, example.invalidText);
    });
  });
}

Deno.test("corpus: every known command has an example of its own page", () => {
  const commands = new Set(
    EXAMPLES.filter((e) => !e.file.startsWith("legacy.")).map((e) => e.command),
  );
  assert.deepEqual([...commands].sort(), [...KNOWN_COMMANDS].sort());
});

Deno.test("corpus: the legacy TUICallKit status callback (647/60129) is not the IM protocol: 403, nothing kept", async () => {
  // Lower-case `sdkappid` and `command` parameters: no SdkAppid, so no known app.
  const [legacy] = EXAMPLES.filter((e) => e.file.startsWith("legacy."));
  assert.ok(legacy !== undefined);
  await withHandler(async (send, { journal, path }) => {
    const sent = await send(legacy, legacy.body);
    assert.equal(sent.status, 403);
    assert.equal(journal.pending("all", 0, 10).length, 0);
    assert.deepEqual(quarantined(path), []);
  });
});
