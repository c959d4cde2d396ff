import assert from "node:assert/strict";
import { Inbox, INBOX_HEADER_BYTES, inboxBacklog } from "./inbox.ts";
import type { CallbackRecord } from "./mod.ts";

function record(n: number, overrides: Partial<CallbackRecord> = {}): CallbackRecord {
  return {
    sdkAppId: "1400000000",
    command: "Group.CallbackAfterSendMsg",
    receivedAt: 1_700_000_000_000 + n,
    body: JSON.stringify({ MsgSeq: n, Text: `message ${n} – 你好 "quoted" \\ ok` }),
    dedupKey: JSON.stringify(["1400000000", "Group.CallbackAfterSendMsg", n]),
    groupKey: `g:${n % 3}`,
    plugins: ["a", "b"],
    ...overrides,
  };
}

/** What reading a record back gives: the record without its raw bytes, absent fields unset. */
function stored(record: CallbackRecord): CallbackRecord {
  const { bodyBytes: _, ...rest } = record;
  return { clientIp: undefined, optPlatform: undefined, groupKey: undefined, ...rest };
}

async function withInbox(fn: (path: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(`${dir}/journal.db-inbox`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("inbox: batches read back as stored, from any batch's offset", async () => {
  await withInbox((path) => {
    const { inbox, resume } = Inbox.open(path, "os", undefined);
    assert.equal(resume, INBOX_HEADER_BYTES);
    const first = [record(1), record(2, { clientIp: "10.0.0.1", optPlatform: "iOS" })];
    const body = JSON.stringify({ MsgSeq: 3, Text: "raw bytes é" });
    const second = [record(3, { body, bodyBytes: new TextEncoder().encode(body) })];
    const a = inbox.append(first);
    const b = inbox.append(second);
    assert.equal(a.start, INBOX_HEADER_BYTES);
    assert.equal(b.start, a.end);
    assert.equal(inbox.size, b.end);
    assert.deepEqual(inbox.read(a.start, 100), {
      records: [...first, ...second].map(stored),
      next: b.end,
    });
    // Whole batches only: a limit of 1 still reads the first batch's two records.
    assert.deepEqual(inbox.read(a.start, 1).records.length, 2);
    assert.deepEqual(inbox.read(b.start, 100).records, second.map(stored));
    assert.deepEqual(inbox.read(b.end, 100), { records: [], next: b.end });
    assert.deepEqual(inboxBacklog(path, { epoch: inbox.epoch, offset: a.end }), {
      bytes: b.end - a.end,
      records: 1,
    });
    inbox.close();
  });
});

Deno.test("inbox: reopening resumes where the journal recorded, in the same file only", async () => {
  await withInbox((path) => {
    const opened = Inbox.open(path, "fsync", undefined);
    const a = opened.inbox.append([record(1)]);
    opened.inbox.append([record(2)]);
    const epoch = opened.inbox.epoch;
    opened.inbox.close();

    const same = Inbox.open(path, "os", { epoch, offset: a.end });
    assert.equal(same.resume, a.end);
    assert.deepEqual(same.inbox.read(same.resume, 10).records, [record(2)].map(stored));
    // A record of another file (an older epoch): this one was started after it, all new.
    same.inbox.close();
    const other = Inbox.open(path, "os", { epoch: epoch + 1, offset: a.end });
    assert.equal(other.resume, INBOX_HEADER_BYTES);
    assert.equal(other.inbox.read(other.resume, 10).records.length, 2);
    other.inbox.close();
  });
});

Deno.test("inbox: a batch cut short or damaged at the end is cut off at open; the ones before stay", async () => {
  for (const damage of ["cut", "flip", "garbage"] as const) {
    await withInbox((path) => {
      const opened = Inbox.open(path, "os", undefined);
      const a = opened.inbox.append([record(1), record(2)]);
      const b = opened.inbox.append([record(3)]);
      const epoch = opened.inbox.epoch;
      opened.inbox.close();
      const bytes = Deno.readFileSync(path);
      if (damage === "cut") Deno.writeFileSync(path, bytes.subarray(0, b.end - 5));
      if (damage === "flip") {
        bytes[b.end - 3]! ^= 0x40;
        Deno.writeFileSync(path, bytes);
      }
      if (damage === "garbage") {
        Deno.writeFileSync(path, new Uint8Array(100).fill(7), { append: true });
      }
      const again = Inbox.open(path, "os", { epoch, offset: INBOX_HEADER_BYTES });
      const end = damage === "garbage" ? b.end : a.end;
      assert.equal(again.inbox.size, end, damage);
      assert.equal(Deno.statSync(path).size, end, damage);
      assert.equal(again.inbox.read(INBOX_HEADER_BYTES, 10).records.length, end === a.end ? 2 : 3);
      // New batches follow the last whole one.
      const c = again.inbox.append([record(4)]);
      assert.equal(c.start, end);
      assert.deepEqual(again.inbox.read(c.start, 10).records, [record(4)].map(stored));
      again.inbox.close();
    });
  }
});

Deno.test("inbox: restart starts a new file with a new epoch; a probe stores nothing", async () => {
  await withInbox((path) => {
    const { inbox } = Inbox.open(path, "os", undefined);
    inbox.append([record(1)]);
    const before = inbox.size;
    inbox.probe(65536);
    assert.equal(inbox.size, before);
    assert.equal(Deno.statSync(path).size, before);
    const epoch = inbox.epoch;
    inbox.restart();
    assert.notEqual(inbox.epoch, epoch);
    assert.equal(inbox.size, INBOX_HEADER_BYTES);
    assert.equal(Deno.statSync(path).size, INBOX_HEADER_BYTES);
    const a = inbox.append([record(2)]);
    inbox.close();
    // The journal still records the old file: it resumes at the new one's first batch.
    const again = Inbox.open(path, "os", { epoch, offset: before });
    assert.equal(again.resume, INBOX_HEADER_BYTES);
    assert.deepEqual(again.inbox.read(again.resume, 10), {
      records: [record(2)].map(stored),
      next: a.end,
    });
    again.inbox.close();
  });
});

Deno.test("inbox: a file that is not an inbox is refused, and a journal record past its end too", async () => {
  await withInbox((path) => {
    Deno.writeTextFileSync(path, "x".repeat(100));
    assert.throws(() => Inbox.open(path, "os", undefined), /is not an imhookd inbox/);
    Deno.removeSync(path);
    const { inbox } = Inbox.open(path, "os", undefined);
    const epoch = inbox.epoch;
    inbox.close();
    assert.throws(
      () => Inbox.open(path, "os", { epoch, offset: 10_000 }),
      /before the journal's record of it/,
    );
  });
});
