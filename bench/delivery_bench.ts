/**
 * Drain rate of the delivery engine: journals N callbacks spread over ~1,000 groups into a
 * temporary journal, then measures how fast a no-op plugin drains them through `Delivery`
 * (every delivery recorded in the journal), with `ordering: per_group` and `none`.
 * Run with `deno run --allow-all bench/delivery_bench.ts`.
 *
 * @module
 */
import type { PluginInstance } from "../plugin.ts";
import { Delivery } from "../core/delivery/engine.ts";
import { JournalWriter } from "../core/journal/mod.ts";
import { Metrics } from "../core/ops/metrics.ts";
import type { BenchResult } from "./mod.ts";

const CALLBACKS = 100_000;
const GROUPS = 1_000;

function body(n: number, group: string): string {
  return JSON.stringify({
    CallbackCommand: "Group.CallbackAfterSendMsg",
    GroupId: group,
    Type: "Public",
    From_Account: `user${n % 97}`,
    Operator_Account: "admin",
    Random: 2010324 + n,
    MsgSeq: n,
    MsgTime: 1567652931,
    OnlineOnlyFlag: 0,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message number ${n}` } }],
    CloudCustomData: "your cloud custom data",
    EventTime: "1670574414123",
  });
}

/** Journals `count` callbacks for plugin `sink`; returns the seconds it took. */
async function fill(journal: JournalWriter, count: number): Promise<number> {
  const started = performance.now();
  const batch = 5_000;
  for (let first = 0; first < count; first += batch) {
    const writes = [];
    for (let n = first; n < Math.min(count, first + batch); n++) {
      const group = `@TGS#${n % GROUPS}`;
      writes.push(journal.append({
        sdkAppId: "1400000000",
        command: "Group.CallbackAfterSendMsg",
        receivedAt: Date.now(),
        clientIp: "203.0.113.7",
        optPlatform: "Android",
        body: body(n, group),
        dedupKey: `1400000000|Group.CallbackAfterSendMsg|${group}|${n}`,
        groupKey: `g:${group}`,
        plugins: ["sink"],
      }));
    }
    await Promise.all(writes);
  }
  return (performance.now() - started) / 1000;
}

/** Drains a freshly filled journal with a no-op plugin; returns callbacks per second. */
async function drain(
  dir: string,
  ordering: "per_group" | "none",
  asynchronous = false,
): Promise<{ journaled: number; drained: number }> {
  const path = `${dir}/journal-${ordering}-${asynchronous}.db`;
  await using journal = JournalWriter.open(path);
  const fillSeconds = await fill(journal, CALLBACKS);
  let handled = 0;
  const done = Promise.withResolvers<void>();
  const count = (): void => {
    if (++handled === CALLBACKS) done.resolve();
  };
  const sink: PluginInstance = asynchronous
    ? {
      async handle() {
        await Promise.resolve();
        count();
      },
    }
    : { handle: count };
  const started = performance.now();
  const delivery = new Delivery(journal, {
    maxAttempts: 12,
    initialBackoffMs: 1000,
    maxBackoffMs: 600_000,
    handlerTimeoutMs: 30_000,
    ordering,
    metrics: new Metrics(),
  });
  delivery.add({ name: "sink", instance: sink, concurrency: 8 });
  await done.promise;
  // Every delivery recorded: the journal's write queue commits in order.
  await journal.probe();
  const seconds = (performance.now() - started) / 1000;
  await delivery.close(1000);
  const left = journal.status().plugins.find((p) => p.plugin === "sink");
  if (left !== undefined) {
    throw new RangeError(`Drain left "${left.pending}" pending and "${left.dead}" dead deliveries`);
  }
  return {
    journaled: Math.round(CALLBACKS / fillSeconds),
    drained: Math.round(CALLBACKS / seconds),
  };
}

/** Runs the delivery benchmarks. */
export async function run(): Promise<BenchResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "delivery_bench_" });
  try {
    const perGroup = await drain(dir, "per_group");
    const none = await drain(dir, "none");
    const asynchronous = await drain(dir, "per_group", true);
    return [
      {
        name: `journal append, ${CALLBACKS} callbacks in batches of 5000`,
        value: perGroup.journaled,
        unit: "callbacks/s",
      },
      {
        name: `delivery drain, no-op plugin, ordering per_group (${GROUPS} groups, concurrency 8)`,
        value: perGroup.drained,
        unit: "callbacks/s",
        target: ">= 50000",
      },
      {
        name: "delivery drain, no-op plugin, ordering none (concurrency 8)",
        value: none.drained,
        unit: "callbacks/s",
        target: ">= 50000",
      },
      {
        name: "delivery drain, async no-op plugin, ordering per_group",
        value: asynchronous.drained,
        unit: "callbacks/s",
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  // deno-lint-ignore no-console
  console.table(await run());
}
