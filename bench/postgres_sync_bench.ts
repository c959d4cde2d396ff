/**
 * Apply rate of `builtin:postgres_sync` against a throwaway local PostgreSQL (fsync off, as
 * the tests run it), as a ratio to `sqlite_sync`'s rate on the same callbacks in the same run:
 * the load bench's flood of messages (200 groups) at 512 and 16 in flight, and mixed
 * group-state callbacks at 64 in flight. Each plugin runs three times, alternately, into a
 * fresh file or schema; the medians are reported. Target: at least half of `sqlite_sync`'s rate.
 *
 * Run: `deno run --allow-all bench/postgres_sync_bench.ts`
 *
 * @module
 */
import postgresSync from "../plugins/postgres_sync.ts";
import { startPostgres } from "../tests/_services.ts";
import type { BenchResult } from "./mod.ts";
import {
  alternating,
  floodMessages,
  handleRate,
  mixedGroupState,
  sqliteSyncRate,
} from "./_sync_workload.ts";

const COUNT = 20_000;

/** Measures both plugins on each workload; returns the rates and ratios. */
export async function run(): Promise<BenchResult[]> {
  await using pg = await startPostgres();
  const results: BenchResult[] = [];
  const workloads = [
    { name: `AfterSendMsg x${COUNT} over 200 groups`, events: floodMessages(COUNT), inFlight: 512 },
    { name: `AfterSendMsg x${COUNT} over 200 groups`, events: floodMessages(COUNT), inFlight: 16 },
    { name: `mixed group state x${COUNT}`, events: mixedGroupState(COUNT), inFlight: 64 },
  ];
  for (const [i, { name, events, inFlight }] of workloads.entries()) {
    let round = 0;
    const [sqlite, postgres] = await alternating(
      () => sqliteSyncRate(events, inFlight),
      async () => {
        // A fresh schema each time, created before the clock starts (sqlite_sync's fresh file
        // costs next to nothing; a migration here, ~0.1 s, would weigh on a 0.5 s run).
        const options = { url: pg.url, schema: `bench${i}_${round++}` };
        await handleRate(postgresSync, options, floodMessages(1, 10_000_000), 1);
        return await handleRate(postgresSync, options, events, inFlight);
      },
    );
    results.push(
      {
        name: `sqlite_sync ${name}, ${inFlight} in flight`,
        value: sqlite,
        unit: "callbacks/s",
      },
      {
        name: `postgres_sync ${name}, ${inFlight} in flight`,
        value: postgres,
        unit: "callbacks/s",
      },
      {
        name: `postgres_sync / sqlite_sync, ${name}, ${inFlight} in flight`,
        value: Math.round((postgres / sqlite) * 100) / 100,
        unit: "ratio",
        target: ">= 0.5",
      },
    );
  }
  return results;
}

if (import.meta.main) {
  // deno-lint-ignore no-console
  console.table(await run());
}
