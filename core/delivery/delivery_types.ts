/**
 * The types the delivery engine (`engine.ts`) and its lanes (`lane.ts`) share with the thread
 * that runs them (`worker.ts`) and the plugins' stand-ins (`remote_plugin.ts`).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { PluginInstance } from "../../plugin.ts";
import type { Clock } from "../clock.ts";
import type { EventSource } from "./event.ts";
import type { JournalWriter } from "../journal/mod.ts";
import type { MetricKey, MetricRecorder } from "../ops/metrics.ts";

/**
 * What the engine needs of the journal: reads, and the outcome of each delivery. A
 * {@linkcode JournalWriter} is one; the delivery worker's sends the outcomes to the thread that
 * owns the journal's writes.
 */
export type DeliveryJournal = Pick<
  JournalWriter,
  "onAppend" | "replayGeneration" | "pending" | "markDelivered" | "markRetry" | "markDead"
>;

/** Where the engine records metrics: `Metrics`, or in the worker a `MetricBatch`'s recorders. */
export type DeliveryMetrics = Readonly<Record<MetricKey, MetricRecorder>>;

/** Options of the engine (`Delivery`, engine.ts); durations in milliseconds. */
export interface DeliveryOptions {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  handlerTimeoutMs: number;
  ordering: "per_group" | "none";
  /** Default: the real clock. */
  clock?: Clock;
  /** A number in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
  metrics?: DeliveryMetrics;
  logger?: Logger;
  /** Most deliveries one plugin holds in memory. Default 512. */
  window?: number;
  /**
   * Most deliveries of one group held in memory (the rest wait in the journal), so that a
   * group stuck on a retry cannot fill the window and stall every other group.
   * Default `window / 8`.
   */
  groupWindow?: number;
  /** How often to look for deliveries that `replay` made pending. Default 1000. */
  replayPollMs?: number;
}

/**
 * A plugin that runs elsewhere (`RemotePlugin`): it takes the pending delivery as it is, with
 * no {@linkcode DeliveredEvent} made for it here (its own thread makes one).
 */
export interface RemoteInstance extends PluginInstance {
  send(item: EventSource, attempt: number, signal: AbortSignal): Promise<void>;
}

/** A started plugin to deliver to. */
export interface DeliveryTarget {
  name: string;
  /** The plugin, or its stand-in when it runs on another thread. */
  instance: PluginInstance;
  /** Set when the plugin runs elsewhere: deliveries go through it instead of `instance`. */
  remote?: RemoteInstance;
  /** Groups handled at once (callbacks, with `ordering: none`). */
  concurrency: number;
  /** This plugin's ordering; default {@linkcode DeliveryOptions.ordering}. */
  ordering?: "per_group" | "none";
}
