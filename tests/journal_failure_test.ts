/**
 * The journal cannot be written: callbacks get 503 — never a 200 for something not stored —
 * `/readyz` answers 503 with the reason, and the real `serve` recovers by itself once writing
 * works again. Two real causes: a full disk (a 2 MiB tmpfs; skipped where mounting is not
 * permitted), and another connection holding the database's write lock, where callbacks
 * are still stored, in the journal's inbox, and answered 200.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  eventually,
  recordConfigPath,
  recorded,
  recorderConfig,
  serve,
  type Served,
  signedQuery,
  workspace,
} from "./_helpers.ts";

const COMMAND = "Group.CallbackAfterSendMsg";
const ADMIN = "admin:\n  listen: 127.0.0.1:0\n";

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function body(seq: number): string {
  return JSON.stringify({
    CallbackCommand: COMMAND,
    GroupId: "@TGS#journal-failure",
    From_Account: "alice",
    MsgSeq: seq,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message ${seq}` } }],
    EventTime: String(Date.now()),
  });
}

async function send(served: Served, seq: number): Promise<Answer> {
  const response = await fetch(`${served.url}?${signedQuery(COMMAND)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body(seq),
  });
  return { status: response.status, body: await response.json() };
}

async function adminUrl(served: Served): Promise<string> {
  let url: string | undefined;
  await eventually(() => {
    url = served.logs.map((line) => /Admin listener on (http:\/\/[^\s"]+)/.exec(line)?.[1])
      .find((found) => found !== undefined);
    return url !== undefined;
  }, "the admin listener is logged");
  return url!;
}

async function readyz(admin: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${admin}/readyz`);
  return { status: response.status, text: await response.text() };
}

/** The MsgSeqs the recorder plugin has received. */
async function delivered(dir: string): Promise<number[]> {
  return (await recorded(recordConfigPath(dir))).map((event) =>
    (event.payload as { MsgSeq: number }).MsgSeq
  );
}

function countCallbacks(journal: string): number {
  const db = new DatabaseSync(journal, { readOnly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM callbacks").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function assertUnavailable(answer: Answer): void {
  assert.equal(answer.status, 503);
  assert.deepEqual(answer.body, {
    ActionStatus: "FAIL",
    ErrorCode: 503,
    ErrorInfo: "The journal cannot be written",
  });
}

/**
 * What every scenario checks once writing works again: the daemon is ready without a restart,
 * new callbacks get 200, the callbacks refused with 503 were not stored (sent again, they are
 * new, not duplicates), and each callback acknowledged with 200 reaches the plugin once.
 */
async function assertRecovered(
  served: Served,
  admin: string,
  dir: string,
  journal: string,
  acked: number[],
  refused: number[],
  next: number,
): Promise<void> {
  await eventually(async () => (await readyz(admin)).status === 200, "/readyz is 200 again");
  const after = await send(served, next);
  assert.equal(after.status, 200, JSON.stringify(after.body));
  // Callbacks kept in the inbox while the database could not be written are indexed now.
  await eventually(
    () => countCallbacks(journal) >= acked.length + 1,
    "every acknowledged callback is indexed",
  );
  assert.equal(countCallbacks(journal), acked.length + 1, "a refused callback was stored");
  for (const seq of refused) assert.equal((await send(served, seq)).status, 200);
  const expected = [...acked, next, ...refused].sort((a, b) => a - b);
  await eventually(
    async () => (await delivered(dir)).length >= expected.length,
    `${expected.length} callbacks delivered`,
  );
  assert.deepEqual((await delivered(dir)).sort((a, b) => a - b), expected);
  const logs = served.logs.join("\n");
  assert.match(logs, /Answering 503/);
  assert.doesNotMatch(logs, /Request failed/);
}

Deno.test("journal_failure: a held write lock keeps callbacks in the inbox (200) with a not-ready /readyz; once released they are indexed and delivered once", async () => {
  await using ws = await workspace(recorderConfig(ADMIN));
  await using served = await serve(ws.config);
  const admin = await adminUrl(served);
  const journal = `${ws.dir}/journal.db`;
  assert.equal((await send(served, 1)).status, 200);
  await eventually(async () => (await readyz(admin)).status === 200, "ready once the plugin runs");

  // Another process's transaction (a stuck `sqlite3` shell, a backup tool) holds the lock
  // longer than the journal's busy timeout: the database cannot be written, the inbox can.
  const holder = new DatabaseSync(journal);
  holder.exec("BEGIN IMMEDIATE");
  try {
    for (const seq of [2, 3, 4]) {
      const answer = await send(served, seq);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
    const notReady = await readyz(admin);
    assert.equal(notReady.status, 503);
    assert.match(notReady.text, /journal/i);
    assert.match(notReady.text, /locked/);
    // Read while the lock is held: once released, indexing may resume at any moment.
    assert.equal(countCallbacks(journal), 1, "indexed while the database was locked");
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
  await eventually(async () => (await readyz(admin)).status === 200, "/readyz is 200 again");
  assert.equal((await send(served, 5)).status, 200);
  await eventually(
    async () => (await delivered(ws.dir)).length >= 5,
    "the callbacks kept in the inbox are delivered",
  );
  assert.deepEqual((await delivered(ws.dir)).sort((a, b) => a - b), [1, 2, 3, 4, 5]);
  assert.equal(countCallbacks(journal), 5);
  assert.equal(await served.stop(), 0);
});

/** True when this process may mount a tmpfs (root in a permissive container, CI as root). */
async function canMount(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  const dir = await Deno.makeTempDir({ prefix: "imhookd-mount-probe-" });
  try {
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => undefined);
    if (!mount?.success) return false;
    await new Deno.Command("umount", { args: [dir] }).output();
    return true;
  } finally {
    await Deno.remove(dir);
  }
}

Deno.test({
  name: "journal_failure: a full disk gets 503 and a not-ready /readyz; freeing space recovers",
  ignore: !(await canMount()),
  async fn() {
    await using ws = await workspace(
      recorderConfig(ADMIN).replace("path: ./journal.db", "path: ./disk/journal.db"),
    );
    const disk = `${ws.dir}/disk`;
    await Deno.mkdir(disk);
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", disk],
    }).output();
    assert.ok(mounted.success, new TextDecoder().decode(mounted.stderr));
    try {
      await using served = await serve(ws.config);
      const admin = await adminUrl(served);
      const acked: number[] = [];
      let seq = 0;
      assert.equal((await send(served, ++seq)).status, 200);
      acked.push(seq);

      // Fill the disk to the last byte.
      const filler = await Deno.open(`${disk}/filler`, { create: true, write: true });
      const block = new Uint8Array(64 * 1024);
      try {
        for (;;) await filler.write(block);
      } catch (error) {
        if (!(error instanceof Error) || !/No space left/.test(error.message)) throw error;
      } finally {
        filler.close();
      }

      // Commits may still fit in pages SQLite already owns; soon one does not, and from then
      // on the answer is 503. Every 200 must be a stored callback (checked after recovery).
      const refused: number[] = [];
      for (let i = 0; i < 400 && refused.length < 3; i++) {
        const answer = await send(served, ++seq);
        if (answer.status === 200) acked.push(seq);
        else {
          assertUnavailable(answer);
          refused.push(seq);
        }
      }
      assert.ok(refused.length >= 3, `no 503 on a full disk after ${seq} callbacks`);
      const notReady = await readyz(admin);
      assert.equal(notReady.status, 503);
      assert.match(notReady.text, /journal/i);
      assert.match(notReady.text, /full|No space left/);

      await Deno.remove(`${disk}/filler`);
      await assertRecovered(served, admin, ws.dir, `${disk}/journal.db`, acked, refused, ++seq);
      assert.equal(await served.stop(), 0);
    } finally {
      const unmounted = await new Deno.Command("umount", { args: ["-l", disk] }).output();
      assert.ok(unmounted.success, new TextDecoder().decode(unmounted.stderr));
    }
  },
});
