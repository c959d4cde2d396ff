import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  type AppendResult,
  type CallbackRecord,
  JournalReader,
  JournalUnavailableError,
  JournalWriter,
  SCHEMA_VERSION,
} from "./mod.ts";
import { tempDir } from "../_testing.ts";

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
  fn: (journal: JournalWriter, path: string) => Promise<void>,
  durability: "os" | "fsync" = "os",
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sub/journal.db`;
  try {
    await using journal = JournalWriter.open(path, { durability });
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
      const journal = JournalWriter.open(`${dir}/j.db`);
      await journal.append(record(7));
      journal.close();
    }
    const again = JournalWriter.open(`${dir}/j.db`);
    assert.deepEqual(await again.append(record(7)), { id: 1, duplicate: true });
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("journal: a pending delivery carries every field of its callback", async () => {
  await withJournal(async (journal) => {
    await journal.append(record(1));
    await journal.append(record(2, { clientIp: "203.0.113.9", optPlatform: "Android" }));
    assert.deepEqual(journal.pending("a", 0, 10), [{
      id: 1,
      receivedAt: 1_700_000_000_001,
      sdkAppId: "1400000000",
      command: "Group.CallbackAfterSendMsg",
      groupKey: "g:1",
      clientIp: null,
      optPlatform: null,
      body: '{"CallbackCommand":"Group.CallbackAfterSendMsg","MsgSeq":1}',
      attempts: 0,
      nextAt: 0,
    }, {
      id: 2,
      receivedAt: 1_700_000_000_002,
      sdkAppId: "1400000000",
      command: "Group.CallbackAfterSendMsg",
      groupKey: "g:2",
      clientIp: "203.0.113.9",
      optPlatform: "Android",
      body: '{"CallbackCommand":"Group.CallbackAfterSendMsg","MsgSeq":2}',
      attempts: 0,
      nextAt: 0,
    }]);
  });
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

Deno.test("journal: checkpointed elsewhere, the writer leaves the WAL to a reader's checkpoint()", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/journal.db`;
    const journal = JournalWriter.open(path, { checkpointedElsewhere: true });
    const reader = JournalReader.open(path);
    try {
      const before = (await Deno.stat(path)).size;
      const text = "x".repeat(3_000);
      for (let n = 0; n < 600; n++) {
        await journal.append(record(n, { body: JSON.stringify({ MsgSeq: n, text }) }));
      }
      // About 2 MB of WAL: the writer (backstop at 64 MiB) leaves it all to the reader.
      assert.equal((await Deno.stat(path)).size, before, "the writer checkpointed by itself");
      reader.checkpoint();
      assert.ok((await Deno.stat(path)).size > before + 1_500_000, "checkpoint() copied the WAL");
      assert.equal(reader.pending("a", 0, 1_000).length, 600);
      assert.equal(journal.status().callbacks, 600);
    } finally {
      reader.close();
      journal.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The schema of journals made before `PRAGMA user_version` (version 0), as it was. */
const OLD_SCHEMA = `
CREATE TABLE IF NOT EXISTS callbacks (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  sdk_app_id TEXT NOT NULL,
  command TEXT NOT NULL,
  group_key TEXT,
  client_ip TEXT,
  opt_platform TEXT,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS callbacks_received_at ON callbacks (received_at);
CREATE TABLE IF NOT EXISTS dedup (
  key TEXT PRIMARY KEY,
  callback_id INTEGER NOT NULL,
  received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_received_at ON dedup (received_at);
CREATE TABLE IF NOT EXISTS deliveries (
  plugin TEXT NOT NULL,
  callback_id INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  PRIMARY KEY (plugin, callback_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_callback_id ON deliveries (callback_id);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  sdk_app_id TEXT NOT NULL,
  command TEXT,
  query TEXT NOT NULL,
  reason TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('replay_generation', 0);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, filler BLOB NOT NULL);
`;

function objects(db: DatabaseSync): string[] {
  return (db.prepare(
    "SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
  ).all() as { name: string }[]).map((row) => row.name);
}

Deno.test("journal: a journal made by the old schema is migrated on open and keeps working", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/old.db`;
  try {
    {
      // Written the way the old code wrote: WAL, three callbacks, their keys, deliveries.
      const db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(OLD_SCHEMA);
      const callback = db.prepare(
        `INSERT INTO callbacks (received_at, sdk_app_id, command, group_key, body)
         VALUES (?, '1400000000', 'Group.CallbackAfterSendMsg', ?, ?)`,
      );
      const dedup = db.prepare(
        "INSERT INTO dedup (key, callback_id, received_at) VALUES (?, ?, ?)",
      );
      const delivery = db.prepare(
        "INSERT INTO deliveries (plugin, callback_id, state) VALUES (?, ?, ?)",
      );
      for (let n = 1; n <= 3; n++) {
        const r = record(n);
        callback.run(r.receivedAt, r.groupKey!, r.body);
        dedup.run(r.dedupKey, n, r.receivedAt);
      }
      delivery.run("a", 1, "pending");
      delivery.run("b", 2, "dead");
      db.exec("UPDATE meta SET value = 4 WHERE key = 'replay_generation'");
      db.close();
    }
    const journal = JournalWriter.open(path);
    try {
      // Keys stored before the migration still catch their duplicates, with the old ids.
      assert.deepEqual(await journal.append(record(2)), { id: 2, duplicate: true });
      assert.deepEqual(await journal.append(record(3, { body: "{}" })), {
        id: 3,
        duplicate: true,
      });
      assert.deepEqual(await journal.append(record(4)), { id: 4, duplicate: false });
      assert.deepEqual(await journal.append(record(4)), { id: 4, duplicate: true });
      assert.equal(journal.replayGeneration(), 4);
      assert.deepEqual(journal.pending("a", 0, 10).map((p) => p.id), [1, 4]);
      assert.deepEqual(
        journal.status().plugins.map((p) => [p.plugin, p.pending, p.dead]),
        [["a", 2, 0], ["b", 1, 1]],
      );
      // The dead letter of "b" keeps callback 2; callback 3 goes; keys older than 3 go.
      assert.equal(
        await journal.prune(Number.MAX_SAFE_INTEGER, record(3).receivedAt),
        1 + 2,
      );
      assert.equal(journal.status().callbacks, 3);
      assert.equal((await journal.append(record(1))).duplicate, false);
      assert.deepEqual(await journal.append(record(3)), { id: 3, duplicate: true });
    } finally {
      journal.close();
    }
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      assert.equal(
        (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
        SCHEMA_VERSION,
      );
      const names = objects(db);
      assert.ok(!names.includes("dedup"), names.join());
      assert.ok(!names.includes("deliveries_callback_id"), names.join());
      assert.ok(names.includes("dedup_index"), names.join());
    } finally {
      db.close();
    }
    // Opening a migrated journal again changes nothing.
    const again = JournalWriter.open(path);
    assert.deepEqual(await again.append(record(4)), { id: 4, duplicate: true });
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("journal: a journal from a newer version is refused, untouched", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/new.db`;
  try {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => JournalWriter.open(path), /schema version 3 is newer/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const stagedKeys of [1, 16_384]) {
  Deno.test(`journal: keys whose hashes collide are different callbacks, before and after a reopen (${stagedKeys} staged)`, async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/j.db`;
    const hash = (): number => 42;
    try {
      {
        const journal = JournalWriter.open(path, { hash, stagedKeys });
        const [a, b] = await Promise.all([journal.append(record(1)), journal.append(record(2))]);
        assert.deepEqual(a, { id: 1, duplicate: false });
        assert.deepEqual(b, { id: 2, duplicate: false });
        assert.deepEqual(await journal.append(record(3)), { id: 3, duplicate: false });
        assert.deepEqual(await journal.append(record(2)), { id: 2, duplicate: true });
        assert.equal(journal.pending("a", 0, 10).length, 3);
        journal.close();
      }
      const journal = JournalWriter.open(path, { hash, stagedKeys });
      try {
        assert.deepEqual(await journal.append(record(1)), { id: 1, duplicate: true });
        assert.deepEqual(await journal.append(record(3)), { id: 3, duplicate: true });
        assert.deepEqual(await journal.append(record(4)), { id: 4, duplicate: false });
        assert.equal(journal.status().callbacks, 4);
      } finally {
        journal.close();
      }
      const db = new DatabaseSync(path, { readOnly: true });
      const hashes = db.prepare("SELECT DISTINCT hash FROM dedup_keys").all() as { hash: number }[];
      db.close();
      assert.deepEqual(hashes.map((row) => row.hash), [42], "the collision was not forced");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

for (const stagedKeys of [1, 16_384]) {
  Deno.test(`journal: one commit's appends find duplicates of indexed, staged and same-commit keys (${stagedKeys} staged)`, async () => {
    const dir = await Deno.makeTempDir();
    // Every key of one length collides: each look-up must compare whole keys.
    const hash = (key: string): number => key.length;
    try {
      await using journal = JournalWriter.open(`${dir}/j.db`, { hash, stagedKeys, mergeChunk: 1 });
      await journal.append(record(1));
      await journal.append(record(2));
      await journal.append(record(10)); // with 1 staged, keys 1 and 2 are indexed by now
      const results = await Promise.all([
        journal.append(record(1)),
        journal.append(record(3)),
        journal.append(record(3, { body: "{}" })),
        journal.append(record(10)),
        journal.append(record(2)),
        journal.append(record(11)),
        journal.append(record(4)),
      ]);
      assert.deepEqual(results, [
        { id: 1, duplicate: true },
        { id: 4, duplicate: false },
        { id: 4, duplicate: true },
        { id: 3, duplicate: true },
        { id: 2, duplicate: true },
        { id: 5, duplicate: false },
        { id: 6, duplicate: false },
      ]);
      assert.deepEqual(
        journal.pending("a", 0, 10).map((row) => [row.id, JSON.parse(row.body).MsgSeq]),
        [[1, 1], [2, 2], [3, 10], [4, 3], [5, 11], [6, 4]],
      );
      assert.deepEqual(
        journal.pending("b", 0, 10).map((row) => row.id),
        [1, 2, 3, 4, 5, 6],
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("journal: duplicates are caught after a reopen, in one commit with new callbacks", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/j.db`;
  try {
    {
      const journal = JournalWriter.open(path);
      await Promise.all(Array.from({ length: 300 }, (_, n) => journal.append(record(n))));
      journal.close();
    }
    const journal = JournalWriter.open(path);
    try {
      const results = await Promise.all(
        Array.from({ length: 600 }, (_, n) => journal.append(record(n))),
      );
      assert.deepEqual(
        results.slice(0, 300),
        Array.from({ length: 300 }, (_, n) => ({ id: n + 1, duplicate: true })),
      );
      assert.deepEqual(
        results.slice(300),
        Array.from({ length: 300 }, (_, n) => ({ id: 301 + n, duplicate: false })),
      );
      assert.equal(journal.status().callbacks, 600);
    } finally {
      journal.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("journal: dedup keys outlive pruned callbacks and go on their own schedule", async () => {
  await withJournal(async (journal) => {
    for (let n = 1; n <= 4; n++) {
      await journal.append(record(n, { receivedAt: n * 1_000, plugins: ["a", "b"] }));
    }
    for (let id = 1; id <= 4; id++) await journal.markDelivered("a", id);
    for (const id of [1, 2]) await journal.markDelivered("b", id);
    // Retention shorter than the dedup window: callbacks 1 and 2 go (3 and 4 wait for "b"),
    // no key goes, and the keys of the pruned callbacks still catch duplicates.
    assert.equal(await journal.pruneAll(10_000, 0), 2);
    assert.equal(journal.status().callbacks, 2);
    assert.deepEqual(await journal.append(record(1)), { id: 1, duplicate: true });
    assert.deepEqual(await journal.append(record(2)), { id: 2, duplicate: true });
    // Dedup window shorter than retention: keys before 2500 go, no callback does.
    assert.equal(await journal.pruneAll(0, 2_500, { batch: 1 }), 2);
    assert.equal(journal.status().callbacks, 2);
    assert.equal((await journal.append(record(1))).duplicate, false);
    assert.deepEqual(await journal.append(record(3)), { id: 3, duplicate: true });
    assert.deepEqual(journal.pending("b", 0, 10).map((p) => p.id), [3, 4, 5]);
  });
});

Deno.test("journal: replay revives the dead letters of the selected plugins only", async () => {
  await withJournal(async (journal) => {
    for (let n = 0; n < 2; n++) await journal.append(record(n, { plugins: ["a", "b", "c"] }));
    for (const plugin of ["a", "b", "c"]) {
      await journal.markDead(plugin, 1, { attempts: 3, error: "x" });
    }
    const plugins = ["a", "c"].map((name) => ({ name, matches: () => true }));
    assert.equal(journal.replay({ plugins, dead: true }), 2);
    const dead = journal.status().plugins.map((p) => [p.plugin, p.dead]);
    assert.deepEqual(dead, [["a", 0], ["b", 1], ["c", 0]]);
  });
});

/** Checks the dedup tables against each other; returns how many keys are in `dedup_index`. */
function checkDedupTables(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const n = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    assert.equal(
      n("SELECT COUNT(*) AS n FROM dedup_index WHERE seq NOT IN (SELECT seq FROM dedup_keys)"),
      0,
      "an index entry outlived its key",
    );
    assert.equal(
      n(`SELECT COUNT(*) AS n FROM dedup_keys k JOIN dedup_merged m ON m.bucket = (k.hash >> 49) & 15
         WHERE k.seq <= m.through
         AND NOT EXISTS (SELECT 1 FROM dedup_index i WHERE i.hash = k.hash AND i.seq = k.seq)`),
      0,
      "a key below its bucket's mark is not indexed",
    );
    return n("SELECT COUNT(*) AS n FROM dedup_index");
  } finally {
    db.close();
  }
}

for (const mergeChunk of [128, 1]) {
  Deno.test(`journal: staged dedup keys are merged into the index and still catch duplicates, across reopens and prunes (${mergeChunk} per commit)`, async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/j.db`;
    try {
      {
        const journal = JournalWriter.open(path, { stagedKeys: 8, mergeChunk });
        for (let first = 0; first < 400; first += 10) {
          const results = await Promise.all(
            Array.from(
              { length: 10 },
              (_, k) => journal.append(record(first + k, { receivedAt: first + k, plugins: [] })),
            ),
          );
          assert.ok(results.every((r) => !r.duplicate));
          // Each key of this batch and of earlier ones is a duplicate now.
          assert.deepEqual(await journal.append(record(first + 9)), {
            id: first + 10,
            duplicate: true,
          });
          assert.deepEqual(await journal.append(record(first / 2)), {
            id: first / 2 + 1,
            duplicate: true,
          });
        }
        journal.close();
      }
      const merged = checkDedupTables(path);
      assert.ok(merged > 300, `only ${merged} keys merged`);
      const journal = JournalWriter.open(path, { stagedKeys: 8, mergeChunk });
      try {
        const again = await Promise.all(
          Array.from({ length: 400 }, (_, n) => journal.append(record(n))),
        );
        assert.deepEqual(
          again,
          Array.from({ length: 400 }, (_, n) => ({ id: n + 1, duplicate: true })),
        );
        // Keys received before 150 go, staged or merged, in batches.
        assert.equal(await journal.pruneAll(0, 150, { batch: 7 }), 150);
        assert.equal((await journal.append(record(149, { plugins: [] }))).duplicate, false);
        assert.deepEqual(await journal.append(record(150)), { id: 151, duplicate: true });
        assert.deepEqual(await journal.append(record(399)), { id: 400, duplicate: true });
      } finally {
        journal.close();
      }
      checkDedupTables(path);
      // Every key pruned: numbering goes on above what was merged, and nothing is missed.
      {
        const journal = JournalWriter.open(path, { stagedKeys: 8, mergeChunk });
        assert.equal(await journal.pruneAll(0, Number.MAX_SAFE_INTEGER), 251);
        for (let n = 1_000; n < 1_020; n++) await journal.append(record(n, { plugins: [] }));
        journal.close();
      }
      checkDedupTables(path);
      const last = JournalWriter.open(path, { stagedKeys: 8, mergeChunk });
      try {
        assert.equal((await last.append(record(1_005))).duplicate, true);
        assert.equal((await last.append(record(5))).duplicate, false);
      } finally {
        last.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("journal: keys of a failed commit are not duplicates afterwards", async () => {
  await withJournal(async (journal, path) => {
    assert.deepEqual(await journal.append(record(1)), { id: 1, duplicate: false });
    const other = new DatabaseSync(path);
    other.exec("BEGIN IMMEDIATE");
    await assert.rejects(journal.append(record(2)), JournalUnavailableError);
    other.exec("ROLLBACK");
    other.close();
    assert.deepEqual(await journal.append(record(2)), { id: 2, duplicate: false });
    assert.deepEqual(await journal.append(record(1)), { id: 1, duplicate: true });
    assert.deepEqual(await journal.append(record(2)), { id: 2, duplicate: true });
  });
});

Deno.test("journal: two journals on one file catch each other's duplicates", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/j.db`;
  try {
    const a = JournalWriter.open(path, { stagedKeys: 4 });
    const b = JournalWriter.open(path, { stagedKeys: 4 });
    try {
      for (let n = 0; n < 40; n++) {
        const [first, second] = n % 2 === 0 ? [a, b] : [b, a];
        const stored = await first.append(record(n, { plugins: [] }));
        assert.equal(stored.duplicate, false);
        assert.deepEqual(await second.append(record(n)), { id: stored.id, duplicate: true });
        if (n > 0) assert.equal((await second.append(record(n - 1))).duplicate, true);
      }
      await a.pruneAll(0, Number.MAX_SAFE_INTEGER);
      assert.equal((await b.append(record(3, { plugins: [] }))).duplicate, false);
      assert.equal((await a.append(record(3))).duplicate, true);
    } finally {
      a.close();
      b.close();
    }
    checkDedupTables(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A journal with an inbox, whose listener is busy while `busy.now` is true. */
function openWithInbox(
  path: string,
  busy: { now: boolean },
  indexed: { records: CallbackRecord[]; results: AppendResult[] } = { records: [], results: [] },
  options: { maxBacklogBytes?: number; restartBytes?: number } = {},
): JournalWriter {
  return JournalWriter.open(path, {
    inbox: {
      busy: () => busy.now,
      onIndexed: (records, results) => {
        indexed.records.push(...records);
        indexed.results.push(...results);
      },
      ...options,
    },
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("journal: with an inbox, an idle listener's callbacks are indexed before they are answered", async () => {
  await using tmp = await tempDir("journal_test_");
  const dir = tmp.path;
  const path = `${dir}/journal.db`;
  const indexed = { records: [] as CallbackRecord[], results: [] as AppendResult[] };
  await using journal = openWithInbox(path, { now: false }, indexed);
  const results = await Promise.all([1, 2, 1].map((n) => journal.accept(record(n))));
  assert.deepEqual(results, [
    { id: 1, duplicate: false },
    { id: 2, duplicate: false },
    { id: 1, duplicate: true },
  ]);
  assert.equal(journal.status().callbacks, 2);
  assert.deepEqual(journal.status().inbox, { records: 0, bytes: 0 });
  // Only deferred callbacks are reported indexed later.
  assert.equal(indexed.records.length, 0);
  await assert.rejects(journal.append(record(3)), /through its inbox/);
});

Deno.test("journal: with an inbox, a busy listener's callbacks are answered at once and indexed when it is not", async () => {
  await using tmp = await tempDir("journal_test_");
  const dir = tmp.path;
  const path = `${dir}/journal.db`;
  const busy = { now: true };
  const indexed = { records: [] as CallbackRecord[], results: [] as AppendResult[] };
  await using journal = openWithInbox(path, busy, indexed);
  let commits = 0;
  journal.onAppend(() => commits++);
  const first = await Promise.all([1, 2, 3].map((n) => journal.accept(record(n))));
  const second = await Promise.all([3, 4].map((n) => journal.accept(record(n))));
  assert.deepEqual([...first, ...second], Array(5).fill("deferred"));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(journal.status().callbacks, 0, "indexed while busy");
  assert.deepEqual(journal.status().inbox.records, 5);
  assert.ok(journal.indexing.backlogBytes > 0);
  assert.equal(commits, 0);

  busy.now = false;
  await until(() => journal.indexing.backlogBytes === 0, "the inbox is indexed");
  assert.ok(commits > 0, "the delivery side is told of the new callbacks");
  assert.deepEqual(
    indexed.records.map((r) => r.dedupKey),
    [1, 2, 3, 3, 4].map((n) => `key-${n}`),
  );
  assert.deepEqual(indexed.results, [
    { id: 1, duplicate: false },
    { id: 2, duplicate: false },
    { id: 3, duplicate: false },
    { id: 3, duplicate: true },
    { id: 4, duplicate: false },
  ]);
  assert.equal(journal.status().callbacks, 4);
  assert.deepEqual(journal.status().inbox, { records: 0, bytes: 0 });
  assert.deepEqual(journal.pending("a", 0, 10).map((p) => p.id), [1, 2, 3, 4]);
  // Indexed up to date again: the next callback is indexed before its answer.
  assert.deepEqual(await journal.accept(record(2)), { id: 2, duplicate: true });
});

Deno.test("journal: with an inbox, a busy listener's backlog past maxBacklogBytes is indexed anyway", async () => {
  await using tmp = await tempDir("journal_test_");
  const dir = tmp.path;
  const busy = { now: true };
  await using journal = openWithInbox(`${dir}/journal.db`, busy, undefined, {
    maxBacklogBytes: 1_000,
  });
  for (let n = 1; n <= 20; n++) assert.equal(await journal.accept(record(n)), "deferred");
  await until(() => journal.indexing.backlogBytes <= 1_000, "the backlog is indexed down");
  assert.ok(journal.status().callbacks > 0);
});

Deno.test("journal: with an inbox, callbacks answered but not indexed when the process died are indexed by the next open", async () => {
  await using tmp = await tempDir("journal_test_");
  const dir = tmp.path;
  const path = `${dir}/journal.db`;
  const busy = { now: true };
  const first = openWithInbox(path, { now: false });
  assert.deepEqual(await first.accept(record(1)), { id: 1, duplicate: false });
  first.close();
  // Answered more without indexing them, and is never closed before the next open (a crash).
  const crashed = openWithInbox(path, busy);
  for (let n = 2; n <= 6; n++) assert.equal(await crashed.accept(record(n)), "deferred");
  // A second serve on the same journal would corrupt the inbox: it is refused.
  assert.throws(() => openWithInbox(path, { now: false }), /in use by another imhookd serve/);
  // Closing writes nothing more than a crash would have: everything was written already.
  crashed.close();
  // A torn batch at the end, as a kill in the middle of a write leaves.
  Deno.writeFileSync(`${path}-inbox`, new Uint8Array([0x69, 0x6d, 0x42, 0x78, 0, 0, 9]), {
    append: true,
  });

  const indexed = { records: [] as CallbackRecord[], results: [] as AppendResult[] };
  await using again = openWithInbox(path, { now: false }, indexed);
  await until(() => again.indexing.backlogBytes === 0, "the inbox is indexed");
  assert.deepEqual(
    indexed.records.map((r) => r.dedupKey),
    [2, 3, 4, 5, 6].map((n) => `key-${n}`),
  );
  assert.equal(again.status().callbacks, 6);
  assert.deepEqual(await again.accept(record(7)), { id: 7, duplicate: false });
});

Deno.test("journal: with an inbox, a large indexed inbox starts over in a new file, and a reopen resumes right", async () => {
  await using tmp = await tempDir("journal_test_");
  const dir = tmp.path;
  const path = `${dir}/journal.db`;
  const busy = { now: true };
  {
    await using journal = openWithInbox(path, busy, undefined, { restartBytes: 2_000 });
    for (let n = 1; n <= 20; n++) assert.equal(await journal.accept(record(n)), "deferred");
    const before = Deno.statSync(`${path}-inbox`).size;
    assert.ok(before > 2_000);
    busy.now = false;
    await until(() => journal.indexing.backlogBytes === 0, "the inbox is indexed");
    await until(() => Deno.statSync(`${path}-inbox`).size < before, "the inbox starts over");
    busy.now = true;
    for (let n = 21; n <= 25; n++) assert.equal(await journal.accept(record(n)), "deferred");
    assert.equal(journal.status().callbacks, 20);
  }
  await using again = openWithInbox(path, { now: false }, undefined, { restartBytes: 2_000 });
  await until(() => again.indexing.backlogBytes === 0, "the new inbox is indexed");
  assert.equal(again.status().callbacks, 25);
  assert.deepEqual(again.pending("b", 0, 100).map((p) => p.id), range(1, 25));
  // Callbacks indexed as they come (an idle listener) start the file over too.
  const size = Deno.statSync(`${path}-inbox`).size;
  for (let n = 26; n <= 45; n++) {
    assert.deepEqual(await again.accept(record(n)), { id: n, duplicate: false });
  }
  assert.ok(Deno.statSync(`${path}-inbox`).size < size + 2_000, "the inbox only grows");
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

Deno.test("journal: with an inbox and no busy option, a batch of 8 or more callbacks counts as a busy listener", async () => {
  await using tmp = await tempDir("journal_test_");
  const dir = tmp.path;
  await using journal = JournalWriter.open(`${dir}/journal.db`, { inbox: {} });
  // One at a time, as at a steady low rate: indexed before the answer.
  for (let n = 1; n <= 3; n++) {
    assert.deepEqual(await journal.accept(record(n)), { id: n, duplicate: false });
  }
  // Eight read in one turn, as under a flood: answered at once, indexed later.
  const flood = await Promise.all(range(4, 11).map((n) => journal.accept(record(n))));
  assert.deepEqual(flood, Array(8).fill("deferred"));
  // Within the next 20 ms a lone callback waits for its turn too (the backlog comes first).
  assert.equal(await journal.accept(record(12)), "deferred");
  await until(() => journal.indexing.backlogBytes === 0, "the inbox is indexed");
  assert.equal(journal.status().callbacks, 12);
  assert.deepEqual(journal.pending("a", 0, 100).map((p) => p.id), range(1, 12));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(await journal.accept(record(13)), { id: 13, duplicate: false });
});

Deno.test("journal: with an inbox, a database locked elsewhere keeps callbacks in the inbox; commits then give up within 50 ms, and indexing resumes when the lock goes", async () => {
  await using tmp = await tempDir("journal_test_");
  const dir = tmp.path;
  const path = `${dir}/journal.db`;
  const indexed = { records: [] as CallbackRecord[], results: [] as AppendResult[] };
  await using journal = openWithInbox(path, { now: false }, indexed);
  const holder = new DatabaseSync(path);
  holder.exec("BEGIN IMMEDIATE");
  try {
    // Waits the full busy timeout (1 s), fails, and stays stored in the inbox.
    assert.equal(await journal.accept(record(1)), "deferred");
    assert.match(journal.indexing.error ?? "", /locked/);
    assert.equal(await journal.accept(record(2)), "deferred");
    // Now a commit (here /readyz's probe) gives up after 50 ms, not 1 s.
    const started = performance.now();
    await assert.rejects(journal.probe(), /locked/);
    const waited = performance.now() - started;
    assert.ok(waited < 500, `the probe waited ${waited} ms for the lock`);
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
  await until(() => journal.indexing.backlogBytes === 0, "the inbox is indexed");
  assert.equal(journal.indexing.error, undefined);
  assert.deepEqual(indexed.results, [
    { id: 1, duplicate: false },
    { id: 2, duplicate: false },
  ]);
  await journal.probe();
  // Back to the full timeout, and to indexing before answering.
  assert.deepEqual(await journal.accept(record(3)), { id: 3, duplicate: false });
});
