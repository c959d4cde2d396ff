/**
 * Publish rate of `builtin:nats_forwarder` to a throwaway local `nats-server -js` (file store),
 * each publish waiting for the stream's ack, as a ratio to `sqlite_sync`'s rate on the same
 * callbacks (the load bench's flood of messages) in the same run, at 64 and 512 in flight; each
 * runs three times, alternately, and the medians are reported.
 *
 * Run: `deno run --allow-all bench/nats_forwarder_bench.ts`
 *
 * @module
 */
import natsForwarder from "../plugins/nats_forwarder.ts";
import { startNats } from "../tests/_services.ts";
import type { BenchResult } from "./mod.ts";
import { alternating, floodMessages, handleRate, sqliteSyncRate } from "./_sync_workload.ts";

const COUNT = 20_000;

/** Measures both plugins at each concurrency; returns the rates and ratios. */
export async function run(): Promise<BenchResult[]> {
  await using nats = await startNats();
  const events = floodMessages(COUNT);
  const results: BenchResult[] = [];
  for (const [i, inFlight] of [64, 512].entries()) {
    let round = 0;
    const [sqlite, published] = await alternating(
      () => sqliteSyncRate(events, inFlight),
      () => {
        const options = {
          servers: [nats.server],
          stream: `BENCH${i}_${round}`,
          subject: `bench${i}_${round++}.{command}`,
          create_stream: true,
        };
        return handleRate(natsForwarder, options, events, inFlight);
      },
    );
    const name = `AfterSendMsg x${COUNT}, ${inFlight} in flight`;
    results.push(
      { name: `sqlite_sync ${name}`, value: sqlite, unit: "callbacks/s" },
      { name: `nats_forwarder ${name}, acked`, value: published, unit: "publishes/s" },
      {
        name: `nats_forwarder / sqlite_sync, ${name}`,
        value: Math.round((published / sqlite) * 100) / 100,
        unit: "ratio",
      },
    );
  }
  return results;
}

if (import.meta.main) {
  // deno-lint-ignore no-console
  console.table(await run());
}
