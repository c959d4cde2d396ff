/**
 * The child process of a plugin with `isolation: process` (see `plugin_process.ts`): runs the
 * plugin on a thread with its permissions, as the daemon would, and relays between that
 * thread and the daemon over stdin and stdout, one JSON frame a line. It ends when the daemon
 * closes its stdin, and the daemon kills it when the plugin misbehaves.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import type { PluginEntry } from "../config/config.ts";
import { describeError } from "../describe_error.ts";
import type { LoggingOptions } from "../ops/log.ts";
import { setupLogging } from "../ops/log.ts";
import { PluginThread, type Pulse, type RunnerOptions } from "./plugin_handle.ts";
import { type PortReply, type PortRequest, wire, type WireFailure } from "./plugin_protocol.ts";

/** The hidden command that runs a binary as a plugin host. */
export const PLUGIN_HOST_COMMAND = "__plugin-host";

/** What the daemon sends to a plugin host. */
export type HostFrame =
  | {
    type: "load";
    entry: PluginEntry;
    configDir: string;
    configFile: string;
    log: LoggingOptions;
    permissions: RunnerOptions["permissions"];
  }
  | { type: "create" }
  | { type: "connect" }
  | { type: "port"; message: PortRequest }
  | { type: "decide"; id: number; event: CallbackEvent }
  | { type: "abort_decide"; id: number; reason: WireFailure }
  | { type: "stop"; limitMs: number };

/** What a plugin host sends to the daemon. */
export type ProcessFrame =
  | { type: "loaded" }
  | { type: "load_failed"; problem: string }
  | { type: "started"; hasHandle: boolean; hasDecide: boolean }
  | { type: "create_failed"; error: string }
  | { type: "port"; message: PortReply }
  | { type: "decided"; id: number; value: unknown }
  | { type: "decided"; id: number; failure: WireFailure }
  /** The plugin thread's heartbeat, and the process's resident size in bytes. */
  | { type: "pulse"; pulse: Pulse; rss: number }
  | { type: "fatal"; reason: "exit" | "uncaught_error" | "unhandled_rejection"; error: string }
  | { type: "stopped" };

/** How often the plugin thread's heartbeat and the memory in use are passed to the daemon. */
const PULSE_MS = 100;

/** Same as `FRAME_PREFIX` in `plugin_process.ts`. */
const PREFIX = "\u0001imhookd ";

const encoder = new TextEncoder();

function send(frame: ProcessFrame): void {
  let bytes = encoder.encode(PREFIX + JSON.stringify(frame) + "\n");
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
}

/** Runs the plugin host until the daemon closes stdin; resolves with the exit code. */
export async function runPluginHost(): Promise<number> {
  let thread: PluginThread | undefined;
  let port: MessagePort | undefined;
  const decisions = new Map<number, AbortController>();
  const pulses = setInterval(() => {
    if (thread !== undefined) {
      send({ type: "pulse", pulse: thread.pulse(), rss: Deno.memoryUsage().rss });
    }
  }, PULSE_MS);

  const handle = async (frame: HostFrame): Promise<void> => {
    switch (frame.type) {
      case "load":
        setupLogging(frame.log);
        thread = new PluginThread(frame.entry, {
          configDir: frame.configDir,
          configFile: frame.configFile,
          log: frame.log,
          permissions: frame.permissions,
          onFatal: (fatal) => {
            send({
              type: "fatal",
              reason: fatal.reason === "exit" || fatal.reason === "unhandled_rejection"
                ? fatal.reason
                : "uncaught_error",
              error: fatal.error,
            });
          },
        });
        try {
          await thread.load();
          send({ type: "loaded" });
        } catch (error) {
          send({ type: "load_failed", problem: describeError(error, { name: false }) });
        }
        return;
      case "create":
        try {
          send({ type: "started", ...await thread!.create() });
        } catch (error) {
          send({ type: "create_failed", error: describeError(error, { name: false }) });
        }
        return;
      case "connect":
        port = thread!.connect();
        port.onmessage = (event: MessageEvent<PortReply>) =>
          send({ type: "port", message: event.data });
        return;
      case "port":
        port?.postMessage(frame.message);
        return;
      case "decide": {
        const controller = new AbortController();
        decisions.set(frame.id, controller);
        try {
          send({
            type: "decided",
            id: frame.id,
            value: await thread!.decide(frame.event, controller.signal),
          });
        } catch (error) {
          // The thread's failures are TypeErrors whose message is the plugin's error already.
          send({
            type: "decided",
            id: frame.id,
            failure: error instanceof DOMException || !(error instanceof TypeError)
              ? wire(error)
              : { text: error.message },
          });
        } finally {
          decisions.delete(frame.id);
        }
        return;
      }
      case "abort_decide":
        decisions.get(frame.id)?.abort(new DOMException(frame.reason.text, frame.reason.name));
        return;
      case "stop":
        await thread?.stop(frame.limitMs);
        send({ type: "stopped" });
        return;
    }
  };

  let buffer = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      handle(JSON.parse(line)).catch((error) => {
        send({ type: "fatal", reason: "uncaught_error", error: describeError(error) });
      });
    }
  }
  clearInterval(pulses);
  thread?.kill("is stopped");
  return 0;
}

if (import.meta.main) {
  Deno.exit(await runPluginHost());
}
