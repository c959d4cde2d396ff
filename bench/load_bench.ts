/**
 * Load benchmark: the real `main.ts serve` (`durability: os`, `file_logger` and `sqlite_sync`
 * enabled, a token, so every request is signed) against its ceiling, a bare `Deno.serve` in a
 * child process that reads the body and answers the same OK JSON. Both are driven by the same
 * generator: `wrk` with `bench/wrk/send_msg.lua` (every request a distinct signed
 * `Group.CallbackAfterSendMsg`), and at a fixed rate of 2,000 callbacks/s for latency, with
 * `bench/wrk/fixed_rate.lua` (latency counted from the schedule, as wrk2 does).
 * Also measures start-up time to `/readyz` 200, peak RSS, and how fast the plugins drain.
 *
 * Needs `wrk` (Debian: `apt-get install wrk`); without it the throughput runs are skipped with
 * a note, and the fixed-rate runs use the Deno generator of `bench/_fixed_rate.ts`.
 * Run: `deno run --allow-all bench/load_bench.ts`
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { APP, messageBody, signedQuery, TOKEN } from "./_callbacks.ts";
import { fixedRate, type FixedRateResult } from "./_fixed_rate.ts";
import { checkOutputs, drain, JournalCounts } from "./_journal_counts.ts";
import { type BenchServer, startCeiling, startImhookd } from "./_process.ts";
import { haveWrk, runWrk, runWrkFixedRate, type WrkResult } from "./_wrk.ts";
import type { BenchResult } from "./mod.ts";

const MIB = 1024 * 1024;

/** Seconds of each phase; `BENCH_QUICK=1` shortens them for a smoke run. */
const QUICK = Deno.env.get("BENCH_QUICK") === "1";
const WARMUP_S = QUICK ? 1 : 3;
const WRK_S = QUICK ? 3 : 15;
const RATE = 2_000;
const FIXED_S = QUICK ? 5 : 30;
const CEILING_FIXED_S = QUICK ? 3 : 10;
const STARTS = 5;
const CONNECTIONS = 64;

const CONFIG = `
server:
  listen: 127.0.0.1:0
  path: /im/callback
admin:
  listen: 127.0.0.1:0
apps:
  - sdk_app_id: ${APP}
    token: ${TOKEN}
journal:
  path: ./journal.db
  durability: os
log:
  level: info
  format: json
plugins:
  - name: audit
    use: builtin:file_logger
    concurrency: 64
    options: { path: ./callbacks.jsonl }
  - name: state
    use: builtin:sqlite_sync
    ordering: none
    concurrency: 512
    options: { path: ./im.db }
`;

/** A temporary folder with the benchmark's config; removed on dispose. */
async function benchDir(): Promise<{ dir: string; config: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "imhookd_load_bench_" });
  await Deno.writeTextFile(`${dir}/config.yaml`, CONFIG);
  return {
    dir,
    config: `${dir}/config.yaml`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Polls `/readyz` every 2 ms; resolves with the ms from spawn to its first 200. */
async function readyAfter(server: BenchServer): Promise<number> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const response = await fetch(`${server.adminUrl}/readyz`);
    await response.body?.cancel();
    if (response.status === 200) return performance.now() - server.spawnedAt;
    if (performance.now() > deadline) throw new RangeError("/readyz never answered 200");
    await sleep(2);
  }
}

function wrkRows(label: string, result: WrkResult, rss: number): BenchResult[] {
  const rows: BenchResult[] = [
    {
      name: `${label}: throughput (wrk, ${CONNECTIONS} connections)`,
      value: Math.round(result.requestsPerSecond),
      unit: "requests/s",
    },
    { name: `${label}: ack latency p50 under full load`, value: round(result.p50Ms), unit: "ms" },
    { name: `${label}: ack latency p99 under full load`, value: round(result.p99Ms), unit: "ms" },
    { name: `${label}: ack latency max under full load`, value: round(result.maxMs), unit: "ms" },
    { name: `${label}: peak RSS under full load`, value: round(rss / MIB), unit: "MiB" },
  ];
  if (result.errors > 0) {
    rows.push({
      name: `${label}: failed requests (non-200 or socket errors)`,
      value: result.errors,
      unit: "requests",
      target: "0",
    });
  }
  return rows;
}

function fixedRows(label: string, result: FixedRateResult, target?: string): BenchResult[] {
  const name = `${label}: ack latency at ${RATE}/s for ${Math.round(result.seconds)} s`;
  const p99: BenchResult = { name: `${name}, p99`, value: round(result.p99Ms), unit: "ms" };
  if (target) p99.target = target;
  const rows: BenchResult[] = [
    { name: `${name}, p50`, value: round(result.p50Ms), unit: "ms" },
    p99,
    { name: `${name}, max`, value: round(result.maxMs), unit: "ms" },
    {
      name: `${label}: generator's worst lag behind schedule`,
      value: round(result.maxLagMs),
      unit: "ms",
    },
  ];
  if (result.errors > 0) {
    rows.push({
      name: `${label}: failed requests at ${RATE}/s`,
      value: result.errors,
      unit: "requests",
      target: "0",
    });
  }
  return rows;
}

/** Gives the row named `name` its target; throws if no row has that name. */
function setTarget(rows: BenchResult[], name: string, target: string): void {
  const row = rows.find((r) => r.name === name);
  if (row === undefined) throw new RangeError(`No bench row named "${name}" to give "${target}"`);
  row.target = target;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Start-up: spawn to the first `/readyz` 200, median and worst of several starts. */
async function startUp(): Promise<BenchResult[]> {
  const times: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    await using ws = await benchDir();
    await using server = await startImhookd(ws.config);
    times.push(await readyAfter(server));
    await server.stop();
  }
  times.sort((a, b) => a - b);
  return [
    {
      name: `start-up to /readyz 200, median of ${STARTS}`,
      value: round(times[Math.floor(STARTS / 2)]!),
      unit: "ms",
      target: "<= 300",
    },
    {
      name: `start-up to /readyz 200, worst of ${STARTS}`,
      value: round(times.at(-1)!),
      unit: "ms",
    },
  ];
}

async function ceilingThroughput(): Promise<{ rows: BenchResult[]; rps: number }> {
  await using server = await startCeiling();
  await runWrk(server.url, { query: signedQuery(), seconds: WARMUP_S, connections: CONNECTIONS });
  const result = await runWrk(server.url, {
    query: signedQuery(),
    seconds: WRK_S,
    connections: CONNECTIONS,
    offset: 1e9,
  });
  return {
    rows: wrkRows("ceiling (bare Deno.serve)", result, await server.peakRss()),
    rps: result.requestsPerSecond,
  };
}

async function imhookdThroughput(): Promise<{ rows: BenchResult[]; rps: number }> {
  await using ws = await benchDir();
  await using server = await startImhookd(ws.config);
  await readyAfter(server);
  await runWrk(server.url, { query: signedQuery(), seconds: WARMUP_S, connections: CONNECTIONS });
  const result = await runWrk(server.url, {
    query: signedQuery(),
    seconds: WRK_S,
    connections: CONNECTIONS,
    offset: 1e9,
  });
  const lastAck = performance.now();
  using reader = new JournalCounts(`${ws.dir}/journal.db`);
  const tail = await drain(reader, lastAck);
  const rss = await server.peakRss();
  const parts = server.peakParts();
  const callbacks = reader.callbacks();
  await checkOutputs(ws.dir, callbacks);
  const dead = reader.dead();
  const code = await server.stop();
  if (code !== 0) throw new RangeError(`serve exited with ${code}`);

  const cold = await coldBacklog();
  const rows = wrkRows("imhookd", result, rss);
  rows.push(
    {
      // What the daemon allocates: V8 heaps (one per thread), SQLite caches, buffers.
      name: "imhookd: of which anonymous memory (heaps, buffers), largest seen",
      value: round(parts.anon / MIB),
      unit: "MiB",
    },
    {
      // Clean pages of the deno executable and mapped files, which the kernel can drop.
      name: "imhookd: of which file-backed (the runtime's code), largest seen",
      value: round(parts.file / MIB),
      unit: "MiB",
    },
    {
      name: "imhookd: callbacks journaled in the run (warm-up included)",
      value: callbacks,
      unit: "callbacks",
    },
    {
      name: "imhookd: callbacks not yet in every plugin at the last 200",
      value: tail.backlog,
      unit: "callbacks",
    },
    {
      name: "imhookd: drain after the last 200 (every plugin has every callback)",
      value: round(tail.ms),
      unit: "ms",
    },
    {
      // 1.0: delivery finishes with the flood. The flood's own duration over the time from its
      // start until every plugin has every callback (the warm-up's leftovers included).
      name: "imhookd: keep-pace ratio (flood's duration / until every plugin has all of it)",
      value: round(result.seconds / (result.seconds + tail.ms / 1000)),
      unit: "ratio",
    },
    // With no backlog left at the last 200 there is no drain to time; the cold backlog below is.
    ...(tail.backlog > 0
      ? [{
        name: "imhookd: delivery rate while draining that backlog",
        value: Math.round(tail.rate),
        unit: "callbacks/s",
        target: ">= 20000",
      }]
      : []),
    {
      name: `imhookd: drain at start of a backlog of ${cold.backlog} callbacks left by a stop`,
      value: Math.round(cold.rate),
      unit: "callbacks/s",
      target: ">= 20000",
    },
    {
      name: "imhookd: peak RSS while draining that backlog",
      value: round(cold.rss / MIB),
      unit: "MiB",
    },
  );
  if (dead > 0) {
    rows.push({ name: "imhookd: dead letters", value: dead, unit: "deliveries", target: "0" });
  }
  setTarget(rows, "imhookd: peak RSS under full load", "<= 150");
  return { rows, rps: result.requestsPerSecond };
}

/**
 * A backlog of callbacks no plugin has seen: a serve on a fresh journal runs at full load,
 * is stopped (SIGTERM) at the end, and a new serve delivers what was left with nothing else
 * to do, as after an outage. Returns the drain from the new serve's spawn, and its peak RSS.
 */
async function coldBacklog(): Promise<{ backlog: number; rate: number; rss: number }> {
  await using ws = await benchDir();
  {
    await using loaded = await startImhookd(ws.config);
    await readyAfter(loaded);
    await runWrk(loaded.url, {
      query: signedQuery(),
      seconds: WRK_S,
      connections: CONNECTIONS,
      offset: 3e9,
    });
    const code = await loaded.stop();
    if (code !== 0) throw new RangeError(`serve exited with ${code}`);
  }
  using reader = new JournalCounts(`${ws.dir}/journal.db`);
  await using again = await startImhookd(ws.config);
  const cold = await drain(reader, again.spawnedAt);
  const rss = await again.peakRss();
  await checkOutputs(ws.dir, reader.callbacks());
  const code = await again.stop();
  if (code !== 0) throw new RangeError(`serve exited with ${code}`);
  return { backlog: cold.backlog, rate: cold.rate, rss };
}

/**
 * `seconds` at {@linkcode RATE}/s: with wrk (`bench/wrk/fixed_rate.lua`) when installed, else
 * with the Deno generator, whose own event loop adds milliseconds to what it measures.
 */
function atFixedRate(
  url: string,
  seconds: number,
  offset: number,
  wrk: boolean,
): Promise<FixedRateResult> {
  if (wrk) return runWrkFixedRate(url, { query: signedQuery(), rate: RATE, seconds, offset });
  return fixedRate(`${url}?${signedQuery()}`, {
    rate: RATE,
    seconds,
    body: (n) => messageBody(offset + n),
  });
}

async function fixedRateRuns(wrk: boolean): Promise<BenchResult[]> {
  const rows: BenchResult[] = [{
    name: `fixed-rate generator: ${
      wrk ? "wrk, bench/wrk/fixed_rate.lua" : "Deno, bench/_fixed_rate.ts"
    }`,
    value: wrk ? 40 : 0,
    unit: wrk ? "connections" : "",
  }];
  {
    await using ws = await benchDir();
    await using server = await startImhookd(ws.config);
    await readyAfter(server);
    // Warm up the JIT and the connections before the measured run.
    await atFixedRate(server.url, 3, 2e9, wrk);
    const result = await atFixedRate(server.url, FIXED_S, 0, wrk);
    rows.push(...fixedRows("imhookd", result, "<= 5"));
    rows.push({
      name: `imhookd: peak RSS at ${RATE}/s`,
      value: round(await server.peakRss() / MIB),
      unit: "MiB",
      target: "<= 150",
    });
  }
  {
    await using server = await startCeiling();
    await atFixedRate(server.url, 3, 2e9, wrk);
    rows.push(
      ...fixedRows(
        "ceiling (bare Deno.serve)",
        await atFixedRate(server.url, CEILING_FIXED_S, 0, wrk),
      ),
    );
  }
  return rows;
}

/** Runs the load benchmark; about 3.5 minutes (`BENCH_QUICK=1`: about a minute). */
export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  results.push(...await startUp());
  const wrk = await haveWrk();
  if (wrk) {
    const ceiling = await ceilingThroughput();
    const imhookd = await imhookdThroughput();
    results.push(...ceiling.rows, ...imhookd.rows, {
      name: "imhookd / ceiling throughput",
      value: round((100 * imhookd.rps) / ceiling.rps),
      unit: "%",
      target: ">= 50",
    });
  } else {
    results.push({
      name: "throughput runs skipped: wrk is not installed (apt-get install wrk)",
      value: 0,
      unit: "",
    });
  }
  results.push(...await fixedRateRuns(wrk));
  return results;
}

if (import.meta.main) {
  // deno-lint-ignore no-console
  console.table(await run());
}
