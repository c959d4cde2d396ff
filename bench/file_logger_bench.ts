/**
 * Throughput of `builtin:file_logger`: lines per second written to a real file in a temp dir.
 * Run with `deno run --allow-all bench/file_logger_bench.ts`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { CallbackEvent, Handler } from "../plugin.ts";
import fileLogger from "../plugins/file_logger.ts";
import type { BenchResult } from "./mod.ts";

function sampleEvent(id: number): CallbackEvent {
  const payload = {
    CallbackCommand: "Group.CallbackAfterSendMsg",
    GroupId: "@TGS#2J4SZEAEL",
    Type: "Public",
    From_Account: "leckie",
    Operator_Account: "admin",
    Random: 2010324,
    MsgSeq: id,
    MsgTime: 1567652931,
    OnlineOnlyFlag: 1,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message number ${id}` } }],
    CloudCustomData: "your cloud custom data",
    EventTime: "1670574414123",
  };
  return {
    id: String(id),
    command: payload.CallbackCommand,
    sdkAppId: "1400000000",
    receivedAt: Date.now(),
    clientIp: "203.0.113.7",
    optPlatform: "Android",
    attempt: 1,
    payload,
    rawBody: JSON.stringify(payload),
  };
}

/** Writes `lines` callbacks through `workers` concurrent callers; returns lines per second. */
async function measure(
  dir: string,
  raw: Record<string, unknown>,
  lines: number,
  workers: number,
): Promise<number> {
  const options = fileLogger.parseOptions(raw, { name: "bench", configDir: dir });
  const instance: Handler = await fileLogger.create(options, {
    name: "bench",
    configDir: dir,
    logger: getLogger(["imhookd", "bench"]),
    signal: new AbortController().signal,
  });
  const signal = new AbortController().signal;
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < lines) await instance.handle(sampleEvent(next++), signal);
  }));
  await instance[Symbol.asyncDispose]?.();
  const seconds = (performance.now() - started) / 1000;
  return Math.round(lines / seconds);
}

/** Runs the file_logger benchmarks. */
export async function run(): Promise<BenchResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "file_logger_bench_" });
  try {
    return [
      {
        name: "file_logger lines/s, 64 concurrent callers, no fsync",
        value: await measure(dir, { path: "a.jsonl" }, 300_000, 64),
        unit: "lines/s",
        target: ">= 100000",
      },
      {
        name: "file_logger lines/s, one caller, no fsync",
        value: await measure(dir, { path: "b.jsonl" }, 50_000, 1),
        unit: "lines/s",
      },
      {
        name: "file_logger lines/s, 64 concurrent callers, rotate 1MiB keep 3",
        value: await measure(
          dir,
          { path: "c.jsonl", rotate: { max_bytes: "1MiB", keep: 3 } },
          300_000,
          64,
        ),
        unit: "lines/s",
      },
      {
        name: "file_logger lines/s, 64 concurrent callers, fsync",
        value: await measure(dir, { path: "d.jsonl", fsync: true }, 20_000, 64),
        unit: "lines/s",
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
