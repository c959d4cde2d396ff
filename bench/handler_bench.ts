/**
 * CPU cost of the callback listener's accept path: drives `CallbackHandler.handle` directly
 * with real `Request` objects (signed `Group.CallbackAfterSendMsg` bodies like
 * `bench/wrk/send_msg.lua` sends) and a journal whose `accept` resolves at once, so only the
 * handler's own work is measured. Run with `deno run --allow-all bench/handler_bench.ts`.
 *
 * @module
 */
import type { JournalWriter } from "../core/journal/mod.ts";
import { Metrics } from "../core/ops/metrics.ts";
import { Router } from "../core/config/router.ts";
import { CallbackHandler } from "../core/listener/handler.ts";
import { APP, messageBody, signedQuery, TOKEN } from "./_callbacks.ts";
import type { BenchResult } from "./mod.ts";

/** Accepts every record at once, like a journal whose commit costs nothing. */
function instantJournal(): JournalWriter {
  let id = 0;
  const journal = {
    accept: () => Promise.resolve({ id: ++id, duplicate: false }),
    quarantine: () => Promise.resolve(++id),
  };
  return journal as unknown as JournalWriter;
}

function signedUrl(): string {
  return `http://127.0.0.1:18080/im/callback?${signedQuery()}`;
}

/** What Deno.serve passes along: its requests' bodies are framed by their Content-Length. */
const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
  completed: Promise.resolve(),
} as Deno.ServeHandlerInfo<Deno.NetAddr>;

function requests(url: string, from: number, count: number): Request[] {
  return Array.from({ length: count }, (_, i) => {
    const bytes = new TextEncoder().encode(messageBody(from + i));
    return new Request(url, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(bytes.length) },
      body: bytes,
    });
  });
}

/**
 * Sends `total` callbacks through the handler, `concurrency` at a time, in batches whose
 * `Request` objects are built before the clock starts; returns µs per request.
 */
async function measure(total: number, concurrency: number): Promise<number> {
  const handler = new CallbackHandler({
    path: "/im/callback",
    maxBodyBytes: 65_536,
    maxInFlight: 1024,
    journal: instantJournal(),
    metrics: new Metrics(),
    state: {
      apps: new Map([[APP, { sdkAppId: APP, token: TOKEN, maxSkewMs: 300_000 }]]),
      router: new Router([]),
    },
  });
  const url = signedUrl();
  const batch = 10_000;
  let elapsed = 0;
  for (let done = 0; done < total; done += batch) {
    const pending = requests(url, done, batch);
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < pending.length) {
        const response = await handler.handle(pending[next++]!, INFO);
        if (response.status !== 200) {
          throw new RangeError(`Handler answered ${response.status}: ${await response.text()}`);
        }
        await response.body?.cancel();
      }
    }));
    elapsed += performance.now() - started;
  }
  handler.close();
  return Math.round(elapsed / total * 1000 * 100) / 100;
}

/** Runs the handler benchmark. */
export async function run(): Promise<BenchResult[]> {
  await measure(30_000, 64); // warm up the JIT
  return [
    {
      name: "handler accept path, 64 concurrent, instant journal",
      value: await measure(200_000, 64),
      unit: "µs/request",
    },
    {
      name: "handler accept path, 1 at a time, instant journal",
      value: await measure(100_000, 1),
      unit: "µs/request",
    },
  ];
}

if (import.meta.main) {
  for (const result of await run()) {
    // deno-lint-ignore no-console
    console.log(`${result.name}: ${result.value} ${result.unit}`);
  }
}
