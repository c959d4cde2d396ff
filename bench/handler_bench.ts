/**
 * CPU cost of the callback listener's accept path: drives `CallbackHandler.handle` directly
 * with real `Request` objects (signed `Group.CallbackAfterSendMsg` bodies like
 * `bench/wrk/send_msg.lua` sends) and a journal whose `append` resolves at once, so only the
 * handler's own work is measured. Run with `deno run --allow-all bench/handler_bench.ts`.
 *
 * @module
 */
import type { Journal } from "../core/journal.ts";
import { Metrics } from "../core/metrics.ts";
import { Router } from "../core/router.ts";
import { CallbackHandler } from "../core/server.ts";
import { computeSign } from "../core/verify.ts";
import type { BenchResult } from "./mod.ts";

const APP = "1400000000";
const TOKEN = "bench-token";
const COMMAND = "Group.CallbackAfterSendMsg";
const TEXTS = [
  "red packet",
  "see you at the meeting tomorrow, 10:00 in room 4",
  "好的，收到 👍",
  "https://example.com/some/shared/link?with=query",
];

/** Accepts every record at once, like a journal whose commit costs nothing. */
function instantJournal(): Journal {
  let id = 0;
  const journal = {
    append: () => Promise.resolve({ id: ++id, duplicate: false }),
    quarantine: () => Promise.resolve(++id),
  };
  return journal as unknown as Journal;
}

function signedUrl(): string {
  const requestTime = String(Math.floor(Date.now() / 1000));
  const query = new URLSearchParams({
    SdkAppid: APP,
    CallbackCommand: COMMAND,
    contenttype: "json",
    ClientIP: "203.0.113.7",
    OptPlatform: "Android",
    RequestTime: requestTime,
    Sign: computeSign(TOKEN, requestTime),
  });
  return `http://127.0.0.1:18080/im/callback?${query}`;
}

function body(n: number): string {
  const now = Math.floor(Date.now() / 1000);
  return JSON.stringify({
    CallbackCommand: COMMAND,
    GroupId: `@TGS#bench${n % 200}`,
    Type: "Public",
    From_Account: `user${n % 997}`,
    Operator_Account: "admin",
    Random: (n * 2654435761) % 4294967296,
    MsgSeq: n,
    MsgTime: now,
    OnlineOnlyFlag: 0,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `${TEXTS[n % TEXTS.length]} #${n}` } }],
    CloudCustomData: "",
    EventTime: String(now * 1000 + (n % 1000)),
  });
}

/** What Deno.serve passes along: its requests' bodies are framed by their Content-Length. */
const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
  completed: Promise.resolve(),
} as Deno.ServeHandlerInfo<Deno.NetAddr>;

function requests(url: string, from: number, count: number): Request[] {
  return Array.from({ length: count }, (_, i) => {
    const bytes = new TextEncoder().encode(body(from + i));
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
