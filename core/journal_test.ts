import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type CallbackRecord, Journal, JournalUnavailableError } from "./journal.ts";

function record(n: number, overrides: Partial<CallbackRecord> = {}): CallbackRecord {
  return {
    sdkAppId: "1400000000",
    command: "Group.CallbackAfterSendMsg",
    receivedAt: 1_700_000_000_000 + n,
    body: JSON.stringify({ CallbackCommand: "Group.CallbackAfterSendMsg", MsgSeq: n }),
    dedupKey: `key-${n}`,
    groupKey: `g:${n % 3}`,
    plugins: ["a", "b"],
    ...overrides,
  };
}

async function withJournal(
  fn: (journal: Journal, path: string) => Promise<void>,
  durability: "os" | "fsync" = "os",
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sub/journal.db`;
  try {
    await using journal = Journal.open(path, { durability });
    await fn(journal, path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("journal: concurrent appends share one commit", async () => {
  await withJournal(async (journal) => {
    let commits = 0;
    journal.onAppend(() => commits++);
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, n) => journal.append(record(n))),
    );
    assert.equal(commits, 1);
    assert.deepEqual(results.map((r) => r.id), Array.from({ length: 500 }, (_, n) => n + 1));
    assert.equal(journal.status().callbacks, 500);
  });
});

Deno.test("journal: a duplicate dedup key is stored once and not delivered twice", async () => {
  await withJournal(async (journal) => {
    const [first, second] = await Promise.all([
      journal.append(record(1)),
      journal.append(record(1, { body: "{}" })),
    ]);
    assert.deepEqual(first, { id: 1, duplicate: false });
    assert.deepEqual(second, { id: 1, duplicate: true });
    const third = await journal.append(record(1));
    assert.deepEqual(third, { id: 1, duplicate: true });
    assert.equal(journal.status().callbacks, 1);
    assert.equal(journal.pending("a", 0, 10).length, 1);
  });
});

Deno.test("journal: dedup keys survive a reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    {
      const journal = Journal.open(`${dir}/j.db`);
      await journal.append(record(7));
      journal.close();
    }
    const again = Journal.open(`${dir}/j.db`);
    assert.deepEqual(await again.append(record(7)), { id: 1, duplicate: true });
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("journal: pending deliveries follow journal order per plugin and clear when delivered", async () => {
  await withJournal(async (journal) => {
    for (let n = 0; n < 5; n++) {
      await journal.append(record(n, { plugins: n === 2 ? ["a"] : ["a", "b"] }));
    }
    assert.deepEqual(journal.pending("a", 0, 10).map((p) => p.id), [1, 2, 3, 4, 5]);
    assert.deepEqual(journal.pending("b", 0, 10).map((p) => p.id), [1, 2, 4, 5]);
    assert.deepEqual(journal.pending("a", 2, 2).map((p) => p.id), [3, 4]);
    const first = journal.pending("a", 0, 1)[0]!;
    assert.equal(first.command, "Group.CallbackAfterSendMsg");
    assert.equal(first.groupKey, "g:0");
    assert.equal(first.attempts, 0);
    await journal.markDelivered("a", 1);
    await journal.markRetry("a", 2, { attempts: 1, nextAt: 5, error: "boom" });
    await journal.markDead("a", 3, { attempts: 12, error: "gone" });
    const pending = journal.pending("a", 0, 10);
    assert.deepEqual(pending.map((p) => [p.id, p.attempts, p.nextAt]), [[2, 1, 5], [4, 0, 0], [
      5,
      0,
      0,
    ]]);
    const status = journal.status();
    assert.deepEqual(status.plugins.map((p) => [p.plugin, p.pending, p.dead]), [["a", 3, 1], [
      "b",
      4,
      0,
    ]]);
  });
});

Deno.test("journal: replay re-delivers delivered callbacks and revives dead letters", async () => {
  await withJournal(async (journal) => {
    for (let n = 0; n < 3; n++) await journal.append(record(n, { plugins: ["a"] }));
    for (const id of [1, 2]) await journal.markDelivered("a", id);
    await journal.markDead("a", 3, { attempts: 12, error: "gone" });
    const generation = journal.replayGeneration();
    const plugins = [{ name: "a", matches: () => true }];
    assert.equal(journal.replay({ plugins, dead: true }), 1);
    assert.equal(journal.replayGeneration(), generation + 1);
    assert.deepEqual(journal.pending("a", 0, 10).map((p) => [p.id, p.attempts]), [[3, 0]]);
    assert.equal(journal.replay({ plugins, since: 1_700_000_000_001 }), 2);
    assert.deepEqual(journal.pending("a", 0, 10).map((p) => p.id), [2, 3]);
  });
});

Deno.test("journal: quarantine keeps the raw bytes", async () => {
  await withJournal(async (journal, path) => {
    const body = new Uint8Array([0xff, 0x00, 0x7b]);
    await journal.quarantine({
      sdkAppId: "1400000000",
      receivedAt: 1,
      query: "SdkAppid=1400000000",
      reason: "body is not UTF-8",
      body,
    });
    assert.equal(journal.status().quarantined, 1);
    const reader = new DatabaseSync(path, { readOnly: true });
    const row = reader.prepare("SELECT body, reason FROM quarantine").get() as {
      body: Uint8Array;
      reason: string;
    };
    reader.close();
    assert.deepEqual(new Uint8Array(row.body), body);
    assert.equal(row.reason, "body is not UTF-8");
  });
});

Deno.test("journal: prune keeps callbacks still pending or dead", async () => {
  await withJournal(async (journal) => {
    for (let n = 0; n < 3; n++) await journal.append(record(n, { plugins: ["a"] }));
    await journal.markDelivered("a", 1);
    await journal.markDead("a", 2, { attempts: 1, error: "x" });
    assert.equal(await journal.prune(Number.MAX_SAFE_INTEGER, 0), 1);
    assert.equal(journal.status().callbacks, 2);
  });
});

Deno.test("journal: fsync durability opens and commits", async () => {
  await withJournal(async (journal) => {
    assert.deepEqual(await journal.append(record(1)), { id: 1, duplicate: false });
  }, "fsync");
});

Deno.test("journal: a failed commit rejects every write with JournalUnavailableError", async () => {
  await withJournal(async (journal, path) => {
    // Another connection holds the write lock past the busy timeout.
    const other = new DatabaseSync(path);
    other.exec("PRAGMA busy_timeout = 0");
    other.exec("BEGIN IMMEDIATE");
    const writes = [journal.append(record(1)), journal.append(record(2))];
    const started = Date.now();
    for (const write of writes) {
      await assert.rejects(write, (error: unknown) => {
        assert.ok(error instanceof JournalUnavailableError);
        assert.match(error.message, /^Cannot write the journal: database is locked/);
        return true;
      });
    }
    assert.ok(Date.now() - started >= 900);
    other.exec("ROLLBACK");
    other.close();
    assert.deepEqual(await journal.append(record(1)), { id: 1, duplicate: false });
  });
});

Deno.test("journal: replay works in chunks and reports progress", async () => {
  await withJournal(async (journal) => {
    for (let n = 0; n < 25; n++) await journal.append(record(n, { plugins: [] }));
    const progress: number[] = [];
    const count = journal.replay(
      { plugins: [{ name: "late", matches: () => true }] },
      { chunk: 10, onProgress: (p) => progress.push(p.scanned) },
    );
    assert.equal(count, 25);
    assert.deepEqual(progress, [10, 20, 25]);
    assert.equal(journal.pending("late", 0, 100).length, 25);
  });
});

Deno.test("journal: pruneAll removes old delivered callbacks in batches until done, never pending or dead ones", async () => {
  await withJournal(async (journal) => {
    const old = 1_000;
    const recent = 2_000_000;
    const writes = [];
    for (let n = 1; n <= 2_500; n++) {
      writes.push(journal.append(record(n, { receivedAt: old + n, plugins: ["a"] })));
    }
    for (let n = 2_501; n <= 2_600; n++) {
      writes.push(journal.append(record(n, { receivedAt: recent + n, plugins: ["a"] })));
    }
    await Promise.all(writes);
    const marks = [];
    for (let id = 1; id <= 2_600; id++) {
      if (id % 10 === 0) continue; // stays pending
      if (id % 10 === 1) marks.push(journal.markDead("a", id, { attempts: 3, error: "x" }));
      else marks.push(journal.markDelivered("a", id));
    }
    await Promise.all(marks);
    let commits = 0;
    journal.onAppend(() => commits++);
    // Callbacks before `recent` go; dedup keys before 2001 go (the first 1000).
    const removed = await journal.pruneAll(recent, old + 1_001, { batch: 300 });
    const kept = 250 + 250 + 100; // pending, dead, recent
    assert.equal(removed, 2_500 - 500 + 1_000);
    assert.ok(commits >= Math.ceil(2_000 / 300), `only ${commits} commits`);
    assert.equal(journal.status().callbacks, kept);
    const status = journal.status().plugins[0]!;
    assert.equal(status.pending, 260);
    assert.equal(status.dead, 260);
    // Nothing left to do: a second run removes nothing.
    assert.equal(await journal.pruneAll(recent, old + 1_001), 0);
    // The dedup keys newer than the window still catch duplicates.
    assert.equal((await journal.append(record(1_500))).duplicate, true);
    assert.equal((await journal.append(record(5, { receivedAt: old + 5 }))).duplicate, false);
  });
});

Deno.test("journal: appends commit between prune batches", async () => {
  await withJournal(async (journal) => {
    const writes = [];
    for (let n = 1; n <= 3_000; n++) {
      writes.push(journal.append(record(n, { receivedAt: n, plugins: [] })));
    }
    await Promise.all(writes);
    let pruned = false;
    const pruning = journal.pruneAll(10_000, 0, { batch: 200 }).then((n) => {
      pruned = true;
      return n;
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    const appended = await journal.append(record(9_999, { plugins: [] }));
    assert.equal(appended.duplicate, false);
    assert.equal(pruned, false, "the append waited for the whole prune");
    assert.equal(await pruning, 3_000);
    assert.equal(journal.status().callbacks, 1);
  });
});

Deno.test("journal: deliveries marked delivered together, for several plugins, are all recorded", async () => {
  await withJournal(async (journal) => {
    await Promise.all(Array.from({ length: 50 }, (_, n) => journal.append(record(n))));
    let commits = 0;
    journal.onAppend(() => commits++);
    await Promise.all([
      ...Array.from({ length: 50 }, (_, n) => journal.markDelivered("a", n + 1)),
      ...Array.from({ length: 25 }, (_, n) => journal.markDelivered("b", 2 * n + 1)),
      journal.markRetry("b", 2, { attempts: 1, nextAt: 9, error: "x" }),
    ]);
    assert.equal(commits, 1);
    assert.deepEqual(journal.pending("a", 0, 100), []);
    const b = journal.pending("b", 0, 100);
    assert.deepEqual(b.map((p) => p.id), Array.from({ length: 25 }, (_, n) => 2 * n + 2));
    assert.equal(b[0]!.attempts, 1);
    journal.close();
    await assert.rejects(journal.markDelivered("a", 1), (error: unknown) => {
      assert.ok(error instanceof JournalUnavailableError);
      assert.equal(error.message, "The journal is closed");
      return true;
    });
  });
});

Deno.test("journal: with the checkpointer, a worker copies the WAL into the database file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/journal.db`;
    const warnings: string[] = [];
    const journal = Journal.open(path, {
      checkpointer: true,
      onWarning: (message) => warnings.push(message),
    });
    try {
      const before = (await Deno.stat(path)).size;
      for (let n = 0; n < 200; n++) await journal.append(record(n));
      // Nothing but the worker checkpoints: the database file grows only when it runs.
      const deadline = Date.now() + 10_000;
      while ((await Deno.stat(path)).size <= before) {
        assert.ok(Date.now() < deadline, "the WAL was never checkpointed");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(warnings, []);
      assert.equal(journal.status().callbacks, 200);
    } finally {
      journal.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
