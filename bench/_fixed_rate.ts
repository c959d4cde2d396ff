/**
 * A fixed-rate load generator (what `wrk -R` / wrk2 does): sends `rate` requests per second,
 * on schedule whatever the answers' latency, over as many keep-alive connections as it
 * takes, and records each request's latency from the moment it was sent.
 *
 * @module
 */

/** What a fixed-rate run measured; latencies in milliseconds. */
export interface FixedRateResult {
  sent: number;
  seconds: number;
  /** Requests answered with anything but 200, or that failed. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The fastest answer (the Deno generator only). */
  minMs?: number;
  /** The longest the generator fell behind its schedule. */
  maxLagMs: number;
}

/** Options of {@linkcode fixedRate}. */
export interface FixedRateOptions {
  rate: number;
  seconds: number;
  /** The body of request `n` (0-based). */
  body(n: number): string;
  /**
   * Idle keep-alive connections kept for reuse. Default 256; at least the requests in flight
   * (rate x latency) for slow answers, or connections are closed and opened again all along.
   */
  idleConnections?: number;
}

/** The `p`-th percentile (0..100) of sorted `values`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

/** POSTs to `url` (query included) at a fixed rate. */
export async function fixedRate(url: string, options: FixedRateOptions): Promise<FixedRateResult> {
  const total = Math.round(options.rate * options.seconds);
  const latencies: number[] = [];
  const running = new Set<Promise<void>>();
  let errors = 0;
  let sent = 0;
  let maxLagMs = 0;
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: options.idleConnections ?? 256 });
  const send = async (n: number): Promise<void> => {
    const started = performance.now();
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: options.body(n),
        client,
      });
      await response.arrayBuffer();
      if (response.status !== 200) errors++;
    } catch {
      errors++;
    }
    latencies.push(performance.now() - started);
  };
  const start = performance.now();
  try {
    while (sent < total) {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) / 1000) * options.rate) + 1);
      if (due > sent) maxLagMs = Math.max(maxLagMs, now - (start + (sent * 1000) / options.rate));
      while (sent < due) {
        const request = send(sent++);
        running.add(request);
        request.finally(() => running.delete(request));
      }
      // The next request is due within a millisecond at these rates: a timer tick is the
      // schedule's clock, not a wait for something that could be awaited.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(running);
  } finally {
    client.close();
  }
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    sent,
    seconds,
    errors,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? Number.NaN,
    minMs: latencies[0] ?? Number.NaN,
    maxLagMs,
  };
}
