import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type CallbackRecord, JournalReader, JournalWriter, SCHEMA_VERSION } from "./mod.ts";
import { tempDir } from "../_testing.ts";

function record(n: number): CallbackRecord {
  return {
    sdkAppId: "1400000000",
    command: "Group.CallbackAfterSendMsg",
    receivedAt: 1_700_000_000_000 + n,
    body: JSON.stringify({ CallbackCommand: "Group.CallbackAfterSendMsg", MsgSeq: n }),
    dedupKey: `key-${n}`,
    groupKey: `g:${n % 3}`,
    plugins: ["a"],
  };
}

function userVersion(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  } finally {
    db.close();
  }
}

Deno.test("JournalReader: reads what the writer committed and leaves the schema to the writer", async () => {
  await using dir = await tempDir("journal_reader_");
  const path = `${dir.path}/journal.db`;
  {
    await using writer = JournalWriter.open(path);
    for (let n = 1; n <= 3; n++) await writer.append(record(n));
    await writer.markDead("a", 2, { attempts: 3, error: "gone" });
    writer.replay({ plugins: [], since: 0 });
  }
  // Marked as older than this code: a writer would migrate it on open, a reader must not.
  {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA user_version = 0");
    db.close();
  }
  {
    await using reader = JournalReader.open(path);
    assert.deepEqual(reader.pending("a", 0, 10).map((p) => p.id), [1, 3]);
    assert.equal(reader.replayGeneration(), 1);
    const status = reader.status();
    assert.equal(status.callbacks, 3);
    assert.deepEqual(status.inbox, { records: 0, bytes: 0 });
    assert.deepEqual(
      status.plugins.map((p) => [p.plugin, p.pending, p.dead]),
      [["a", 2, 1]],
    );
  }
  assert.equal(userVersion(path), 0, "the reader migrated the file");
  JournalWriter.open(path).close();
  assert.equal(userVersion(path), SCHEMA_VERSION);
});

Deno.test("JournalReader: closing twice is harmless, reading after it throws", async () => {
  await using dir = await tempDir("journal_reader_");
  const path = `${dir.path}/journal.db`;
  JournalWriter.open(path).close();
  const reader = JournalReader.open(path);
  reader.close();
  reader.close();
  assert.throws(() => reader.pending("a", 0, 1), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(error.message, /statement has been finalized/);
    return true;
  });
});
