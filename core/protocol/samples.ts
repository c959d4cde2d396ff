/**
 * Realistic sample callback bodies, one per known command, for `imhookd send`: the example of
 * each command's own Tencent page (`samples.json`, the bodies of
 * `tests/fixtures/tencent/<command>.json`, repaired where the page's JSON is broken).
 *
 * @module
 */
import SAMPLES from "./samples.json" with { type: "json" };
import { commandSpec } from "./commands.ts";

const BODIES: ReadonlyMap<string, Record<string, unknown>> = new Map(Object.entries(SAMPLES));

/**
 * A realistic sample body for a known command (for `imhookd send`), with the time of the
 * event now, where the body carries its command: at the top, `CallbackCommand` set and
 * `EventTime` = `nowMs` (a number); in each event of a `Push.*` body, the same with
 * `EventTime` in seconds; a body that names no command (`ContentCallback.ResultNotify`) as
 * the page shows it. A fresh object on each call. Unknown command: undefined.
 */
export function sampleBody(command: string, nowMs: number): Record<string, unknown> | undefined {
  const spec = commandSpec(command);
  const sample = BODIES.get(command);
  if (spec === undefined || sample === undefined) return undefined;
  const body = structuredClone(sample);
  switch (spec.body) {
    case "top":
      return { ...body, CallbackCommand: command, EventTime: nowMs };
    case "events": {
      const events = body.Events as Record<string, unknown>[];
      const seconds = Math.floor(nowMs / 1000);
      return {
        ...body,
        Events: events.map((event) => ({ ...event, CallbackCommand: command, EventTime: seconds })),
      };
    }
    case "none":
      return body;
  }
}

/**
 * {@linkcode sampleBody} numbered afresh, as `imhookd send` sends it: so that two sends are two
 * callbacks, never a duplicate, the message fields get `seq` (`MsgSeq`, `Random`, `MsgRandom`)
 * and the times now (`MsgTime` and `LastReadTime` in seconds), and `MsgKey` is made of them.
 */
export function freshSample(
  command: string,
  nowMs: number,
  seq: number,
): Record<string, unknown> | undefined {
  const body = sampleBody(command, nowMs);
  if (body === undefined) return undefined;
  const seconds = Math.floor(nowMs / 1000);
  for (const field of ["MsgSeq", "Random", "MsgRandom"]) if (field in body) body[field] = seq;
  for (const field of ["MsgTime", "LastReadTime"]) if (field in body) body[field] = seconds;
  if ("MsgKey" in body) body.MsgKey = `${seq}_${body.MsgRandom ?? seq}_${body.MsgTime ?? seconds}`;
  return body;
}
