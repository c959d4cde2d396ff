/**
 * Crash safety, end to end: the real `serve` process is killed with SIGKILL at seeded random
 * moments while a stream of signed callbacks is in flight, then started again on the same
 * config. Every callback answered 200 must reach every plugin; nothing that was never
 * journaled may reach one. Set IMHOOKD_CRASH_SEED to replay a run; failures print the seed.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { JournalReader, type JournalStatus } from "../core/journal/mod.ts";
import {
  eventually,
  recordConfigPath,
  recorded,
  recorderConfig,
  serve,
  signedQuery,
  workspace,
} from "./_helpers.ts";

const COMMAND = "Group.CallbackAfterSendMsg";
const GROUPS = 10;
const SENDERS = 8;
/** Kills a test makes, at most, to get the state it tests (see each test). */
const MAX_KILLS = 5;

/** A small seeded PRNG (mulberry32): numbers in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(): number {
  const given = Deno.env.get("IMHOOKD_CRASH_SEED");
  return given !== undefined ? Number(given) : Math.floor(Math.random() * 2 ** 31);
}

/** A run's random numbers, and the words that say how to replay it. */
function seeded(): { rand: () => number; why: string } {
  const seed = seedOf();
  return { rand: random(seed), why: `(seed ${seed}; rerun with IMHOOKD_CRASH_SEED=${seed})` };
}

function body(seq: number): string {
  return JSON.stringify({
    CallbackCommand: COMMAND,
    GroupId: `@TGS#crash${seq % GROUPS}`,
    Type: "Public",
    From_Account: `user${seq % 7}`,
    Random: seq * 7919,
    MsgSeq: seq,
    MsgTime: 1490686222,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message ${seq}` } }],
    EventTime: Date.now(),
  });
}

/** The answers a stream got: MsgSeq → HTTP status (0 when no answer came). */
type Answers = Map<number, number>;

/**
 * Sends callbacks with increasing MsgSeq from `senders` concurrent senders until `until`
 * settles; records every answer in `answers`.
 */
async function stream(
  url: string,
  next: { seq: number },
  answers: Answers,
  until: Promise<unknown>,
  senders = SENDERS,
): Promise<void> {
  let stopped = false;
  until.finally(() => stopped = true);
  await Promise.all(Array.from({ length: senders }, async () => {
    while (!stopped) {
      const seq = next.seq++;
      try {
        const response = await fetch(`${url}?${signedQuery(COMMAND)}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: body(seq),
          signal: AbortSignal.timeout(30_000),
        });
        await response.body?.cancel();
        answers.set(seq, response.status);
      } catch {
        // The process died with the request in flight: no answer.
        answers.set(seq, 0);
        return;
      }
    }
  }));
}

/** When {@linkcode streamAndKill} kills. */
interface KillOptions {
  /** Answers this round must have got first, so that each kill comes mid-stream. Default 1. */
  minAnswers?: number;
  /** Then this long (the seeded, random part). */
  delayMs: number;
  /** Then, until this holds (polled, for at most {@linkcode KILL_WHEN_MS}). */
  killWhen?: () => boolean;
  senders?: number;
}

/** How long a kill waits for its `killWhen`; after that it kills anyway (the caller retries). */
const KILL_WHEN_MS = 15_000;

/** Streams callbacks into a fresh `serve`, SIGKILLs it as `options` say, returns once dead. */
async function streamAndKill(
  config: string,
  next: { seq: number },
  answers: Answers,
  options: KillOptions,
): Promise<void> {
  const served = await serve(config);
  const before = answers.size;
  const minAnswers = options.minAnswers ?? 1;
  const killed = (async () => {
    try {
      await eventually(
        () => answers.size - before >= minAnswers,
        `${minAnswers} answers before the kill`,
        60_000,
      );
      await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      const { killWhen } = options;
      if (killWhen !== undefined) {
        await eventually(killWhen, "the kill's condition", KILL_WHEN_MS).catch(() => {});
      }
    } finally {
      await served.kill();
    }
  })();
  await stream(served.url, next, answers, killed, options.senders);
  await killed;
}

/**
 * Starts `serve` again and waits until every acknowledged callback is recorded and nothing is
 * left to deliver (a kill also leaves callbacks stored but never answered: delivered too, at
 * least once), then stops it. Checks that the recorder got exactly what the journal holds.
 */
async function redeliver(config: string, dir: string, acked: number[], why: string) {
  await using again = await serve(config);
  const events = recordConfigPath(dir);
  let got = new Set<number>();
  await eventually(
    async () => {
      got = new Set((await recorded(events)).map((e) => (e.payload as { MsgSeq: number }).MsgSeq));
      return missing(acked, got).length === 0 && undelivered(`${dir}/journal.db`) === 0;
    },
    `every acknowledged callback is recorded ${why}`,
    60_000,
  );
  assert.equal(await again.stop(), 0);
  // Nothing reached the plugin that the journal does not hold.
  const stored = journaled(`${dir}/journal.db`);
  assert.deepEqual(missing(got, stored), [], `delivered but never journaled ${why}`);
  assert.deepEqual(missing(stored, got), [], `journaled but never delivered ${why}`);
}

/** The journal's own counts (what `status` prints), read beside a running `serve` or not. */
function journalStatus(journal: string): JournalStatus {
  const reader = JournalReader.open(journal);
  try {
    return reader.status();
  } finally {
    reader.close();
  }
}

/** Callbacks stored and not delivered yet: pending deliveries, and the inbox not indexed. */
function undelivered(journal: string): number {
  const status = journalStatus(journal);
  return status.inbox.records + status.plugins.reduce((sum, p) => sum + p.pending, 0);
}

/** Callbacks answered and stored in the journal's inbox, but not indexed. */
function inInbox(journal: string): number {
  return journalStatus(journal).inbox.records;
}

/** Whether a request got no answer: the kill caught it in flight. */
function caughtInFlight(answers: Answers): boolean {
  return [...answers.values()].some((status) => status === 0);
}

function acknowledged(answers: Answers): number[] {
  return [...answers].filter(([, status]) => status === 200).map(([seq]) => seq);
}

/** MsgSeq of every callback in the journal's callbacks table. */
function journaled(path: string): Set<number> {
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare("SELECT body FROM callbacks").all() as { body: string }[];
    return new Set(rows.map((row) => JSON.parse(row.body).MsgSeq as number));
  } finally {
    db.close();
  }
}

function missing(expected: Iterable<number>, got: Set<number>): number[] {
  return [...expected].filter((seq) => !got.has(seq)).sort((a, b) => a - b);
}

Deno.test("crash: after SIGKILL mid-stream and a restart every acknowledged callback is delivered, each group in journal order", async () => {
  const { rand, why } = seeded();
  await using ws = await workspace(recorderConfig());
  const answers: Answers = new Map();
  const next = { seq: 1 };
  // A kill can land just after every request in flight was answered (a batch is answered
  // after one write); then nothing was caught mid-request, so the test kills again.
  let kills = 0;
  do {
    const delayMs = Math.floor(rand() * 400);
    await streamAndKill(ws.config, next, answers, { minAnswers: 60, delayMs });
    kills++;
  } while (!caughtInFlight(answers) && kills < MAX_KILLS);
  const acked = acknowledged(answers);
  assert.ok(acked.length > 50, `too few callbacks acknowledged before the kill ${why}`);
  assert.ok(caughtInFlight(answers), `none of ${kills} kills caught a request in flight ${why}`);

  await redeliver(ws.config, ws.dir, acked, why);

  const lines = await recorded(recordConfigPath(ws.dir));
  // JournalWriter order per group: the first delivery of each callback comes in id order.
  const firstSeen = new Set<string>();
  const lastId = new Map<string, number>();
  for (const event of lines) {
    const id = Number(event.id);
    if (firstSeen.has(String(id))) continue;
    firstSeen.add(String(id));
    const group = String((event.payload as { GroupId: string }).GroupId);
    assert.ok(
      id > (lastId.get(group) ?? 0),
      `callback ${id} of ${group} came before ${lastId.get(group)} was first delivered ${why}`,
    );
    lastId.set(group, id);
  }
});

Deno.test("crash: SIGKILL while the listener is saturated (indexing deferred) loses no acknowledged callback from the inbox", async () => {
  const { rand, why } = seeded();
  await using ws = await workspace(recorderConfig());
  const answers: Answers = new Map();
  const next = { seq: 1 };
  // Enough senders that the listener counts as busy and leaves its inbox to index later; the
  // kill waits until the inbox holds callbacks not indexed yet. They may be indexed between
  // that look and the kill: then the test kills again (a restart indexes what the last left).
  const journal = `${ws.dir}/journal.db`;
  let kills = 0;
  let left = 0;
  do {
    await streamAndKill(ws.config, next, answers, {
      minAnswers: 100,
      delayMs: Math.floor(rand() * 300),
      killWhen: () => inInbox(journal) > 0,
      senders: 48,
    });
    kills++;
    left = inInbox(journal);
  } while (left === 0 && kills < MAX_KILLS);
  const acked = acknowledged(answers);
  assert.ok(left > 0, `none of ${kills} kills left anything in the inbox ${why}`);

  await redeliver(ws.config, ws.dir, acked, `(${left} were in the inbox) ${why}`);
  assert.equal(inInbox(`${ws.dir}/journal.db`), 0);
});

Deno.test("crash: drill of 5 SIGKILLs leaves every acknowledged callback in file_logger and sqlite_sync, and nothing unjournaled", async () => {
  const { rand, why } = seeded();
  await using ws = await workspace(recorderConfig(`
  - name: audit
    use: builtin:file_logger
    options:
      path: ./callbacks.jsonl
  - name: state
    use: builtin:sqlite_sync
    options:
      path: ./im.db
`));
  const answers: Answers = new Map();
  const next = { seq: 1 };
  for (let kill = 0; kill < 5; kill++) {
    await streamAndKill(ws.config, next, answers, {
      minAnswers: 25,
      delayMs: Math.floor(rand() * 300),
    });
  }
  const acked = acknowledged(answers);
  assert.ok(acked.length > 100, `too few callbacks acknowledged ${why}`);

  await using last = await serve(ws.config);
  // While serve runs, the last line may be half written, or be the torn line of the last kill
  // that file_logger cuts when it starts (its thread starts apart from the listener): only
  // lines that end are read. Once stopped, the file must hold whole lines only.
  const logged = async (running = true): Promise<Set<number>> => {
    const text = await Deno.readTextFile(`${ws.dir}/callbacks.jsonl`).catch(() => "");
    if (!running) assert.ok(text === "" || text.endsWith("\n"), `a torn last line is left ${why}`);
    const seqs = new Set<number>();
    for (const line of text.slice(0, text.lastIndexOf("\n") + 1).split("\n")) {
      if (line === "") continue;
      seqs.add((JSON.parse(line) as { payload: { MsgSeq: number } }).payload.MsgSeq);
    }
    return seqs;
  };
  await eventually(
    async () => missing(acked, await logged()).length === 0,
    `every acknowledged callback is in the file logger's lines ${why}`,
    60_000,
  );
  const synced = (): Set<number> => {
    const db = new DatabaseSync(`${ws.dir}/im.db`);
    try {
      const rows = db.prepare("SELECT msg_seq FROM group_messages").all() as {
        msg_seq: number;
      }[];
      return new Set(rows.map((row) => Number(row.msg_seq)));
    } finally {
      db.close();
    }
  };
  await eventually(
    () => missing(acked, synced()).length === 0,
    `every acknowledged callback is in group_messages ${why}`,
    60_000,
  );
  // Each plugin runs on a thread of its own, at its own pace: wait for the recorder too
  // before stopping, or a slow one is cut off with deliveries still pending.
  const recorderSeqs = async (): Promise<Set<number>> =>
    new Set(
      (await recorded(recordConfigPath(ws.dir))).map((e) =>
        (e.payload as { MsgSeq: number }).MsgSeq
      ),
    );
  await eventually(
    async () => missing(acked, await recorderSeqs()).length === 0,
    `every acknowledged callback reached the recorder ${why}`,
    60_000,
  );
  assert.equal(await last.stop(), 0);

  const stored = journaled(`${ws.dir}/journal.db`);
  assert.deepEqual(missing(acked, stored), [], `acknowledged but not journaled ${why}`);
  const lines = await logged(false);
  const rows = synced();
  const recorder = await recorderSeqs();
  // Unacknowledged callbacks may have been journaled (the answer was lost); any other one
  // must not have reached a plugin, and every journaled one must have reached all three.
  for (
    const [name, got] of [["file_logger", lines], ["sqlite_sync", rows], [
      "recorder",
      recorder,
    ]] as const
  ) {
    assert.deepEqual(missing(got, stored), [], `${name} holds callbacks never journaled ${why}`);
    assert.deepEqual(missing(stored, got), [], `${name} lacks journaled callbacks ${why}`);
  }
  const db = new DatabaseSync(`${ws.dir}/journal.db`);
  try {
    const left = db.prepare("SELECT COUNT(*) AS n FROM deliveries").get() as { n: number };
    assert.equal(left.n, 0, `deliveries left pending or dead ${why}`);
  } finally {
    db.close();
  }
});
