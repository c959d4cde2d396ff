/**
 * `builtin:moderation` alone: the time to decide one typical message against 10,000 banned
 * words (one in 20 with a wildcard), in the plugin's own thread, without the daemon. Run with
 * `deno task bench moderation`.
 *
 * @module
 */
import type { CallbackEvent } from "../plugin.ts";
import moderation from "../plugins/moderation.ts";
import { messageBody } from "./_callbacks.ts";
import { bannedWords } from "./_words.ts";
import type { BenchResult } from "./mod.ts";

const WORDS = 10_000;
const MESSAGES = 50_000;

function event(seq: number): CallbackEvent {
  const payload = JSON.parse(messageBody(seq));
  payload.CallbackCommand = "Group.CallbackBeforeSendMsg";
  return {
    id: "",
    command: payload.CallbackCommand,
    sdkAppId: "1400000000",
    receivedAt: Date.now(),
    attempt: 1,
    payload,
    rawBody: "",
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Decision times per message, and the time to build the matcher. */
export async function run(): Promise<BenchResult[]> {
  const words = bannedWords(WORDS);
  const built = performance.now();
  const options = moderation.parseOptions(
    { rules: [{ words, action: "mask" }, { words: words.slice(0, 100), action: "reject" }] },
    { name: "bench", configDir: "/" },
  );
  const plugin = await moderation.create(options);
  const buildMs = performance.now() - built;
  const signal = new AbortController().signal;
  const events = Array.from({ length: 1_000 }, (_, seq) => event(seq));
  // Some messages carry a banned word, so the masking path runs too.
  for (let i = 0; i < events.length; i += 10) {
    const body = events[i]!.payload.MsgBody as { MsgContent: { Text: string } }[];
    body[0]!.MsgContent.Text += ` ${words[100 + i]!.replaceAll("*", "x")}`;
  }
  for (let i = 0; i < 5_000; i++) await plugin.decide!(events[i % events.length]!, signal);
  const times: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const started = performance.now();
    await plugin.decide!(events[i % events.length]!, signal);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const micro = (ms: number): number => Math.round(ms * 10_000) / 10;
  return [
    { name: "moderation: build 10,000 words", value: Math.round(buildMs), unit: "ms" },
    {
      name: "moderation: decide one message, 10,000 words, p50",
      value: micro(percentile(times, 0.5)),
      unit: "µs",
      target: "<= 1000 µs",
    },
    {
      name: "moderation: decide one message, 10,000 words, p99",
      value: micro(percentile(times, 0.99)),
      unit: "µs",
      target: "<= 1000 µs",
    },
  ];
}

if (import.meta.main) {
  // deno-lint-ignore no-console
  console.table(await run());
}
