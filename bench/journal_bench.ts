/**
 * Cost of `JournalWriter.append`, commit included: µs per callback when each commit carries 1, 16
 * and 256 callbacks, against a journal that already holds ~200,000 callbacks (and their
 * dedup keys), so that the indexes are realistic, not tiny. Every callback is routed to two
 * plugins, as in the example config; the journal leaves its WAL to another connection, as the
 * daemon's does (the delivery thread checkpoints it), so no checkpoint runs inside a commit.
 * Also the inbox (`core/journal/inbox.ts`): µs per callback to store a batch of 64 there, the whole
 * cost of an answer's storage while the listener is saturated and indexing waits.
 * Run with `deno run --allow-all bench/journal_bench.ts`.
 *
 * @module
 */
import { Inbox } from "../core/journal/inbox.ts";
import { type CallbackRecord, JournalWriter } from "../core/journal/mod.ts";
import type { BenchResult } from "./mod.ts";

const PREFILLED = 200_000;
/** Callbacks appended per measured batch size. */
const MEASURED: Record<number, number> = { 1: 10_000, 16: 40_000, 256: 80_000 };

function record(n: number, plugins: readonly string[]): CallbackRecord {
  const group = `@TGS#bench${n % 200}`;
  return {
    sdkAppId: "1400000000",
    command: "Group.CallbackAfterSendMsg",
    receivedAt: Date.now(),
    clientIp: "203.0.113.7",
    optPlatform: "Android",
    body: JSON.stringify({
      CallbackCommand: "Group.CallbackAfterSendMsg",
      GroupId: group,
      Type: "Public",
      From_Account: `user${n % 997}`,
      Operator_Account: "admin",
      Random: (n * 2654435761) % 4294967296,
      MsgSeq: n,
      MsgTime: 1795417269,
      OnlineOnlyFlag: 0,
      MsgBody: [{
        MsgType: "TIMTextElem",
        MsgContent: { Text: `see you at the meeting tomorrow, 10:00 in room 4 #${n}` },
      }],
      CloudCustomData: "",
      EventTime: "1795417269123",
    }),
    // As core/listener/handler.ts builds it.
    dedupKey: JSON.stringify(["1400000000", "Group.CallbackAfterSendMsg", [group, n]]),
    groupKey: group,
    plugins,
  };
}

/** Appends `count` callbacks from number `first`, `perCommit` per commit; returns the ms. */
async function append(
  journal: JournalWriter,
  first: number,
  count: number,
  perCommit: number,
  plugins: readonly string[],
): Promise<number> {
  const started = performance.now();
  for (let n = first; n < first + count; n += perCommit) {
    const writes = [];
    for (let k = n; k < Math.min(first + count, n + perCommit); k++) {
      writes.push(journal.append(record(k, plugins)));
    }
    await Promise.all(writes);
  }
  return performance.now() - started;
}

/** µs per callback to store 64-callback batches in an inbox, as the listener does when busy. */
function inboxAppend(dir: string): BenchResult {
  const { inbox } = Inbox.open(`${dir}/bench-inbox`, "os", undefined);
  try {
    const encoder = new TextEncoder();
    const batches = Array.from({ length: 100 }, (_, b) =>
      Array.from({ length: 64 }, (_, k) => {
        const callback = record(b * 64 + k, ["audit", "state"]);
        // The listener hands over the body's bytes as received.
        return { ...callback, bodyBytes: encoder.encode(callback.body) };
      }));
    for (const batch of batches) inbox.append(batch);
    const rounds = 20;
    const started = performance.now();
    for (let r = 0; r < rounds; r++) for (const batch of batches) inbox.append(batch);
    const ms = performance.now() - started;
    return {
      name: "inbox append, 64 per batch, 2 plugins",
      value: Math.round(ms * 10_000 / (rounds * batches.length * 64)) / 10,
      unit: "µs/callback",
    };
  } finally {
    inbox.close();
  }
}

/** Runs the journal benchmarks. */
export async function run(): Promise<BenchResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "journal_bench_" });
  try {
    await using journal = JournalWriter.open(`${dir}/journal.db`, { checkpointedElsewhere: true });
    // Delivered long ago: the callbacks and their dedup keys stay, their deliveries are gone.
    await append(journal, 0, PREFILLED, 1_000, []);
    let next = PREFILLED;
    const results: BenchResult[] = [];
    for (const perCommit of [1, 16, 256]) {
      const count = MEASURED[perCommit]!;
      // Warm up the statements and the page cache at this batch size.
      await append(journal, next, Math.min(count / 10, 1_000), perCommit, ["audit", "state"]);
      next += Math.min(count / 10, 1_000);
      const ms = await append(journal, next, count, perCommit, ["audit", "state"]);
      next += count;
      results.push({
        name: `journal append, ${perCommit} per commit, 2 plugins, ${PREFILLED / 1000}k stored`,
        value: Math.round(ms * 10_000 / count) / 10,
        unit: "µs/callback",
      });
    }
    results.push(inboxAppend(dir));
    return results;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  // deno-lint-ignore no-console
  console.table(await run());
}
