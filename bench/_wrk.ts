/**
 * Runs `wrk` against a URL and reads its totals: as fast as it can with
 * `bench/wrk/send_msg.lua`, or at a fixed rate with `bench/wrk/fixed_rate.lua`.
 *
 * @module
 */
import type { FixedRateResult } from "./_fixed_rate.ts";

const SCRIPT = new URL("./wrk/send_msg.lua", import.meta.url).pathname;
const FIXED_RATE_SCRIPT = new URL("./wrk/fixed_rate.lua", import.meta.url).pathname;

/** How many groups a flood's messages are spread over, unless told otherwise. */
export const FLOOD_GROUPS = 200;

/** What one wrk run measured; latencies in milliseconds. */
export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Non-2xx answers, socket errors and timeouts. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  minMs: number;
}

/** Options of {@linkcode runWrk}. */
export interface WrkOptions {
  /** The signed query string. */
  query: string;
  seconds: number;
  /** Default 64. */
  connections?: number;
  /** Default 2. */
  threads?: number;
  /** Added to every MsgSeq. Default 0. */
  offset?: number;
  /** Default {@linkcode FLOOD_GROUPS}. */
  groups?: number;
  /** The body's `CallbackCommand` (the query's must be the same). Default the After one. */
  command?: string;
}

/** True when `wrk` is on the PATH. */
export async function haveWrk(): Promise<boolean> {
  try {
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Runs wrk against `url` (the callback URL without query). */
export async function runWrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const threads = options.threads ?? 2;
  const raw = await wrk(url, SCRIPT, threads, options.connections ?? 64, options);
  const seconds = raw.duration_us / 1e6;
  return {
    requests: raw.requests,
    seconds,
    requestsPerSecond: raw.requests / seconds,
    errors: failures(raw),
    p50Ms: raw.p50_us / 1000,
    p99Ms: raw.p99_us / 1000,
    maxMs: raw.max_us / 1000,
    minMs: (raw.min_us ?? Number.NaN) / 1000,
  };
}

/** Options of {@linkcode runWrkFixedRate}. */
export interface WrkFixedRateOptions extends WrkOptions {
  /** Requests per second. */
  rate: number;
}

/**
 * Sends `rate` requests per second to `url` for `seconds`, one connection per wrk thread
 * (`threads`, default 40), latency counted from each request's scheduled time when it went
 * out late (see `bench/wrk/fixed_rate.lua`).
 */
export async function runWrkFixedRate(
  url: string,
  options: WrkFixedRateOptions,
): Promise<FixedRateResult> {
  const threads = options.threads ?? 40;
  const raw = await wrk(url, FIXED_RATE_SCRIPT, threads, threads, options, {
    BENCH_RATE: String(options.rate),
    BENCH_THREADS: String(threads),
  });
  return {
    sent: raw.answered ?? raw.requests,
    seconds: raw.duration_us / 1e6,
    errors: failures(raw),
    p50Ms: raw.p50_us / 1000,
    p99Ms: raw.p99_us / 1000,
    maxMs: raw.max_us / 1000,
    maxLagMs: (raw.max_lag_us ?? Number.NaN) / 1000,
  };
}

/** The `WRK_JSON` line the scripts' `done()` prints (times in µs). */
interface WrkJson {
  requests: number;
  duration_us: number;
  connect_errors: number;
  read_errors: number;
  write_errors: number;
  status_errors: number;
  timeouts: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  /** send_msg.lua only. */
  min_us?: number;
  /** fixed_rate.lua only. */
  answered?: number;
  /** fixed_rate.lua only. */
  max_lag_us?: number;
}

/** Non-2xx answers, socket errors and timeouts of a `WRK_JSON` line. */
function failures(raw: WrkJson): number {
  return raw.connect_errors + raw.read_errors + raw.write_errors + raw.status_errors +
    raw.timeouts;
}

/** Runs wrk with `script` and returns the numbers of its `WRK_JSON` line. */
async function wrk(
  url: string,
  script: string,
  threads: number,
  connections: number,
  options: WrkOptions,
  env: Record<string, string> = {},
): Promise<WrkJson> {
  const output = await new Deno.Command("wrk", {
    args: [
      `--threads=${threads}`,
      `--connections=${connections}`,
      `--duration=${options.seconds}s`,
      "--timeout=10s",
      `--script=${script}`,
      url,
    ],
    env: {
      BENCH_QUERY: options.query,
      BENCH_OFFSET: String(options.offset ?? 0),
      BENCH_GROUPS: String(options.groups ?? FLOOD_GROUPS),
      ...(options.command !== undefined ? { BENCH_COMMAND: options.command } : {}),
      ...env,
    },
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!output.success || line === undefined) {
    throw new TypeError(
      `wrk failed (exit ${output.code}): ${stdout}${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return JSON.parse(line.slice("WRK_JSON ".length));
}
