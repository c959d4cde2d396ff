/**
 * The messages between a plugin's thread (`plugin_thread.ts`), the main thread that supervises
 * it (`plugin_handle.ts`) and the delivery engine's thread that hands it callbacks
 * (`remote_plugin.ts`), and the shared memory through which the main thread watches it.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import type { PluginEntry } from "../config/config.ts";
import { describeError } from "../describe_error.ts";
import type { LoggingOptions } from "../ops/log.ts";

/** What the main thread sends to a plugin thread. */
export type ThreadCommand =
  | {
    type: "load";
    entry: PluginEntry;
    configDir: string;
    configFile: string;
    log: LoggingOptions;
    /** See {@linkcode ThreadState}. */
    state: SharedArrayBuffer;
    /**
     * Whether the thread lowers its priority (see `priority.ts`); a plugin that may decide
     * keeps the listener's, since Tencent waits for its answer.
     */
    lowerPriority: boolean;
    /** Sys permissions granted only to lower the thread's priority, revoked after that. */
    revokeSys: ("getPriority" | "setPriority")[];
  }
  | { type: "create" }
  /** The engine's end is wired to this port: `handle` requests come through it. */
  | { type: "port"; port: MessagePort }
  | { type: "decide"; id: number; event: CallbackEvent }
  | { type: "abort_decide"; id: number; reason: WireFailure }
  | { type: "stop" };

/** What a plugin thread sends to the main thread. */
export type ThreadReport =
  | { type: "loaded" }
  | { type: "load_failed"; problem: string }
  | { type: "started"; hasHandle: boolean; hasDecide: boolean }
  | { type: "create_failed"; error: string }
  | { type: "decided"; id: number; value: unknown }
  | { type: "decided"; id: number; failure: WireFailure }
  /** The plugin called `Deno.exit`, threw outside a handler or left a rejection unhandled. */
  | { type: "fatal"; reason: "exit" | "uncaught_error" | "unhandled_rejection"; error: string }
  | { type: "stopped" };

/**
 * A callback to handle, as a tuple (one array per callback, not an object with keys):
 * request id, callback id, command, SdkAppid, received at, client IP, platform, attempt, body,
 * and a decision callback's decision (JSON).
 */
export type WireEvent = [
  number,
  number,
  string,
  string,
  number,
  string | null,
  string | null,
  number,
  string,
  string | null,
];

/** A failure as it crosses threads: its description and the retry fields it carried. */
export interface WireFailure {
  /** The error's name, to rebuild a `DOMException` of the same kind on abort. */
  name?: string;
  text: string;
  permanent?: true;
  retryAfterMs?: number;
}

/** What the engine sends to a plugin thread through its port. */
export type PortRequest =
  | { type: "handle"; events: WireEvent[] }
  | { type: "abort"; request: number; reason: WireFailure };

/** What a plugin thread answers through its port: `[request id, failure or null]`. */
export interface PortReply {
  type: "handled";
  results: [number, WireFailure | null][];
}

/**
 * Layout of the `SharedArrayBuffer` a plugin thread writes and the main thread reads, even
 * while the plugin blocks the thread: a heartbeat counter the thread's timer increments, what
 * the thread is doing right now, and the callback whose `handle` runs synchronously.
 */
export const ThreadState = {
  /** Bytes to allocate. */
  BYTES: 16,
  /** Int32 index: heartbeats so far. */
  BEATS: 0,
  /** Int32 index: a {@linkcode Busy} value. */
  BUSY: 1,
  /** Float64 index: the callback id whose `handle` runs now, when BUSY is `handle`. */
  CALLBACK: 1,
} as const;

/** What a plugin thread's JavaScript is in the middle of, as stored at `ThreadState.BUSY`. */
export const Busy = { idle: 0, handle: 1, decide: 2, starting: 3 } as const;

/** A failure or abort reason as it crosses to another thread. */
export function wire(reason: unknown): WireFailure {
  const name = reason instanceof DOMException ? reason.name : undefined;
  return { ...(name !== undefined ? { name } : {}), text: describeError(reason) };
}
