/**
 * Runs `wrk` with `bench/wrk/send_msg.lua` against a URL and reads its totals.
 *
 * @module
 */

const SCRIPT = new URL("./wrk/send_msg.lua", import.meta.url).pathname;

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
  /** Default 200. */
  groups?: number;
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
  const output = await new Deno.Command("wrk", {
    args: [
      `--threads=${options.threads ?? 2}`,
      `--connections=${options.connections ?? 64}`,
      `--duration=${options.seconds}s`,
      "--timeout=10s",
      `--script=${SCRIPT}`,
      url,
    ],
    env: {
      BENCH_QUERY: options.query,
      BENCH_OFFSET: String(options.offset ?? 0),
      BENCH_GROUPS: String(options.groups ?? 200),
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
  const raw = JSON.parse(line.slice("WRK_JSON ".length));
  const seconds = raw.duration_us / 1e6;
  return {
    requests: raw.requests,
    seconds,
    requestsPerSecond: raw.requests / seconds,
    errors: raw.connect_errors + raw.read_errors + raw.write_errors + raw.status_errors +
      raw.timeouts,
    p50Ms: raw.p50_us / 1000,
    p99Ms: raw.p99_us / 1000,
    maxMs: raw.max_us / 1000,
  };
}
