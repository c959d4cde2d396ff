/**
 * A decider for `bench/decisions_bench.ts` that takes `options.sleep_ms` (3,000 by default)
 * to answer: longer than any deadline, so every decision falls back.
 *
 * @module
 */
import type { Plugin } from "../plugin.ts";

const sleepy: Plugin<number> = {
  name: "sleepy",
  parseOptions(raw) {
    const ms = (raw as { sleep_ms?: unknown } | null)?.sleep_ms ?? 3_000;
    if (typeof ms !== "number") throw new TypeError("options.sleep_ms: expected a number");
    return ms;
  },
  create(ms) {
    return {
      decide: () => new Promise((resolve) => setTimeout(() => resolve({ verdict: "allow" }), ms)),
    };
  },
};

export default sleepy;
