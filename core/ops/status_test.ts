import assert from "node:assert/strict";
import { JournalWriter } from "../journal/mod.ts";
import { tempDir } from "../_testing.ts";
import { Metrics } from "./metrics.ts";
import { StatusBoard } from "./status.ts";

Deno.test("StatusBoard: rates over the window, charts per interval, plugins with lag, dead letters and last errors", async () => {
  await using dir = await tempDir("status_board_");
  const path = `${dir.path}/journal.db`;
  await using journal = JournalWriter.open(path);
  for (let n = 1; n <= 3; n++) {
    await journal.append({
      sdkAppId: "1400000000",
      command: "Group.CallbackAfterSendMsg",
      receivedAt: 1_000_000 + n,
      body: "{}",
      dedupKey: `k${n}`,
      groupKey: "g:@TGS#1",
      plugins: ["audit", "notify"],
    });
  }
  await journal.markDeliveredMany("audit", [1, 2, 3]);
  await journal.markDead("notify", 1, {
    attempts: 2,
    error: "TypeError: fetch failed; caused by x",
  });
  await journal.markRetry("notify", 2, { attempts: 1, nextAt: 1, error: "later" });

  const metrics = new Metrics();
  let now = 1_000_000;
  const board = new StatusBoard({
    metrics,
    journalPath: path,
    plugins: () => ["audit", "notify"],
    problems: () => [],
    now: () => now,
    windowMs: 10_000,
  });
  try {
    const ok = { command: "Group.CallbackAfterSendMsg", result: "ok" };
    metrics.callbacks.inc(ok, 10);
    now += 5_000;
    board.sample();
    metrics.callbacks.inc(ok, 20);
    metrics.callbacks.inc({ command: "other", result: "unauthorized" }, 5);
    metrics.deliveries.inc({ plugin: "audit", result: "ok" }, 3);
    const rejected = { command: "Group.CallbackBeforeSendMsg", verdict: "reject", by: "plugin" };
    metrics.decisions.inc(rejected, 4);
    now += 5_000;
    board.sample();
    now += 5_000;
    const snapshot = board.snapshot(journal.status());
    // The window's baseline is the sample 10 s before now (at 1_005_000): ok went 10 -> 30.
    assert.equal(snapshot.windowSeconds, 10);
    assert.deepEqual(snapshot.callbacks, [
      { labels: ok, total: 30, perSecond: 2 },
      { labels: { command: "other", result: "unauthorized" }, total: 5, perSecond: 0.5 },
    ]);
    assert.deepEqual(snapshot.callbacksChart, {
      times: [1_005_000, 1_010_000, 1_015_000],
      lines: [
        { name: "ok", values: [2, 4, 0] },
        { name: "unauthorized", values: [0, 1, 0] },
      ],
    });
    assert.deepEqual(snapshot.decisions, [{ labels: rejected, total: 4, perSecond: 0.4 }]);
    assert.deepEqual(snapshot.decisionsChart, {
      times: [1_005_000, 1_010_000, 1_015_000],
      lines: [{ name: "reject", values: [0, 0.8, 0] }],
    });
    assert.equal(snapshot.journal!.callbacks, 3);
    const [audit, notify] = snapshot.plugins;
    assert.deepEqual(audit, {
      name: "audit",
      pending: 0,
      lagMs: null,
      dead: 0,
      restarts: 0,
      deliveredPerSecond: 0.3,
      failedPerSecond: 0,
      lastError: null,
    });
    assert.equal(notify!.pending, 2);
    assert.equal(notify!.lagMs, now - 1_000_002, "the oldest pending: callback 2");
    assert.equal(notify!.dead, 1);
    assert.deepEqual(notify!.lastError, {
      plugin: "notify",
      callbackId: 2,
      state: "pending",
      attempts: 1,
      error: "later",
    });
    assert.deepEqual(snapshot.deadLetters.map((d) => [d.id, d.plugin, d.error]), [
      [1, "notify", "TypeError: fetch failed; caused by x"],
    ]);
  } finally {
    board.close();
  }
});

Deno.test("StatusBoard: forgets samples past keepMs, and reads nothing but counts without a journal", () => {
  const metrics = new Metrics();
  let now = 0;
  const board = new StatusBoard({
    metrics,
    journalPath: "/nonexistent/dir/journal.db",
    plugins: () => ["a"],
    problems: () => ['plugin "a" failed to start: no'],
    now: () => now,
    keepMs: 20_000,
  });
  try {
    for (let i = 0; i < 10; i++) {
      now += 5_000;
      board.sample();
    }
    const snapshot = board.snapshot(undefined);
    assert.ok(snapshot.callbacksChart.times.length <= 6, `${snapshot.callbacksChart.times.length}`);
    assert.equal(snapshot.journal, null);
    assert.deepEqual(snapshot.problems, ['plugin "a" failed to start: no']);
    assert.deepEqual(snapshot.deadLetters, []);
    assert.equal(snapshot.plugins[0]!.name, "a");
  } finally {
    board.close();
  }
});
