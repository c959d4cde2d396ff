/**
 * A plugin's own thread (a Worker with the Deno permissions its config entry grants): loads
 * the one plugin, runs its `create`, answers the engine's `handle` requests through the port
 * the main thread wires to it and the main thread's `decide` requests, and proves it is alive
 * through a heartbeat in shared memory that the main thread reads (see `plugin_handle.ts`).
 * Whatever the plugin throws reaches the other threads as text, never as an object.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { setImmediate } from "node:timers";
import type { PluginInstance } from "../../plugin.ts";
import { describeError } from "../describe_error.ts";
import { logger, setupLogging } from "../ops/log.ts";
import { DeliveredEvent } from "./event.ts";
import { createPlugin, disposePlugin, type LoadedPlugin, loadPlugin } from "./loader.ts";
import { deferredLocate } from "./locations.ts";
import {
  Busy,
  type PortReply,
  type PortRequest,
  type ThreadCommand,
  type ThreadReport,
  ThreadState,
  type WireEvent,
  type WireFailure,
} from "./plugin_protocol.ts";
import { lowerPriority } from "./priority.ts";

/** How often the heartbeat counter moves while the thread's event loop turns. */
const BEAT_MS = 250;

type Decider = { decide(event: unknown, signal: AbortSignal): unknown };

const log = logger("daemon");
const lifetime = new AbortController();
let state = new Int32Array(new SharedArrayBuffer(ThreadState.BYTES));
let current = new Float64Array(state.buffer);
let loaded: LoadedPlugin | undefined;
let instance: PluginInstance | undefined;
let configFile = "";
let configDir = "";
/** Handlers running, by request id, to abort them when the engine gives up on one. */
const handling = new Map<number, AbortController>();
const deciding = new Map<number, AbortController>();
let results: PortReply["results"] = [];
let engine: MessagePort | undefined;
let flushing = false;

function report(message: ThreadReport): void {
  self.postMessage(message);
}

// Before any plugin code runs: `Deno.exit` in a Worker ends the thread silently, so it says
// so first. A plugin calling it still stops there, as it expects.
const exit = Deno.exit;
Object.defineProperty(Deno, "exit", {
  value: (code?: number): never => {
    report({ type: "fatal", reason: "exit", error: `the plugin called Deno.exit(${code ?? ""})` });
    return exit(code);
  },
});
self.addEventListener("error", (event) => {
  event.preventDefault();
  report({
    type: "fatal",
    reason: "uncaught_error",
    error: describeError(event.error ?? event.message),
  });
});
self.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  report({ type: "fatal", reason: "unhandled_rejection", error: describeError(event.reason) });
});

self.onmessage = (event: MessageEvent<ThreadCommand>) => {
  const command = event.data;
  switch (command.type) {
    case "load":
      load(command);
      return;
    case "create":
      create();
      return;
    case "port":
      engine = command.port;
      engine.onmessage = (message: MessageEvent<PortRequest>) => request(message.data);
      return;
    case "decide":
      decide(command.id, command.event);
      return;
    case "abort_decide":
      deciding.get(command.id)?.abort(rebuild(command.reason));
      return;
    case "stop":
      stop();
      return;
  }
};

async function load(command: Extract<ThreadCommand, { type: "load" }>): Promise<void> {
  setupLogging(command.log);
  configFile = command.configFile;
  configDir = command.configDir;
  state = new Int32Array(command.state);
  current = new Float64Array(command.state);
  // The first beat at once: from it on, the main thread counts a stall (see supervisor.ts).
  Atomics.add(state, ThreadState.BEATS, 1);
  setInterval(() => Atomics.add(state, ThreadState.BEATS, 1), BEAT_MS);
  if (command.lowerPriority) lowerPriority(log);
  for (const kind of command.revokeSys) await Deno.permissions.revoke({ name: "sys", kind });
  Atomics.store(state, ThreadState.BUSY, Busy.starting);
  try {
    loaded = await loadPlugin(command.entry, {
      configDir: command.configDir,
      locate: deferredLocate,
    });
    report({ type: "loaded" });
  } catch (error) {
    report({ type: "load_failed", problem: describeError(error, { name: false }) });
  } finally {
    Atomics.store(state, ThreadState.BUSY, Busy.idle);
  }
}

async function create(): Promise<void> {
  const plugin = loaded!;
  Atomics.store(state, ThreadState.BUSY, Busy.starting);
  try {
    instance = await createPlugin(plugin, {
      configDir,
      logger: logger("plugin", plugin.entry.name),
      signal: lifetime.signal,
    });
    const methods = instance as { handle?: unknown; decide?: unknown };
    report({
      type: "started",
      hasHandle: typeof methods.handle === "function",
      hasDecide: typeof methods.decide === "function",
    });
  } catch (error) {
    report({ type: "create_failed", error: describeError(error, { name: false }) });
  } finally {
    Atomics.store(state, ThreadState.BUSY, Busy.idle);
  }
}

function request(message: PortRequest): void {
  if (message.type === "abort") {
    handling.get(message.request)?.abort(rebuild(message.reason));
    return;
  }
  for (const wire of message.events) handle(wire);
}

/** Calls `handle`; the engine hears of the outcome in the next batch of results. */
function handle(wire: WireEvent): void {
  const [
    request,
    id,
    command,
    sdkAppId,
    receivedAt,
    clientIp,
    optPlatform,
    attempt,
    body,
    decision,
  ] = wire;
  if (instance === undefined) {
    settle(request, new TypeError("the plugin is not running"));
    return;
  }
  const event = new DeliveredEvent(
    { id, command, sdkAppId, receivedAt, clientIp, optPlatform, body, decision },
    attempt,
  );
  const controller = new AbortController();
  handling.set(request, controller);
  let result: unknown;
  let thenable: boolean;
  // The main thread reads these if the handler never returns: it names the callback.
  current[ThreadState.CALLBACK] = id;
  Atomics.store(state, ThreadState.BUSY, Busy.handle);
  try {
    result = instance.handle!(event, controller.signal);
    // Inside the try: reading `then` runs plugin code too, when it is a getter.
    thenable = isThenable(result);
  } catch (error) {
    settle(request, error);
    return;
  } finally {
    Atomics.store(state, ThreadState.BUSY, Busy.idle);
  }
  if (!thenable) {
    settle(request, undefined, false);
    return;
  }
  try {
    (result as PromiseLike<unknown>).then(
      () => settle(request, undefined, false),
      (error) => settle(request, error),
    );
  } catch (error) {
    settle(request, error);
  }
}

function settle(request: number, error: unknown, failed = true): void {
  handling.delete(request);
  results.push([request, failed ? failure(error) : null]);
  if (flushing) return;
  flushing = true;
  // One message per event-loop turn, whatever the number of handlers that finished in it.
  setImmediate(flush);
}

function flush(): void {
  flushing = false;
  const reply: PortReply = { type: "handled", results };
  results = [];
  engine?.postMessage(reply);
}

function decide(id: number, event: unknown): void {
  const decider = instance as Partial<Decider> | undefined;
  if (typeof decider?.decide !== "function") {
    report({ type: "decided", id, failure: { text: "the plugin has no decide()" } });
    return;
  }
  const controller = new AbortController();
  deciding.set(id, controller);
  let result: unknown;
  Atomics.store(state, ThreadState.BUSY, Busy.decide);
  try {
    result = decider.decide(event, controller.signal);
  } catch (error) {
    deciding.delete(id);
    report({ type: "decided", id, failure: failure(error) });
    return;
  } finally {
    Atomics.store(state, ThreadState.BUSY, Busy.idle);
  }
  Promise.resolve(result).then((value) => {
    deciding.delete(id);
    try {
      report({ type: "decided", id, value });
    } catch (error) {
      report({
        type: "decided",
        id,
        failure: {
          text: `decide() returned a value that cannot be copied: ${describeError(error)}`,
        },
      });
    }
  }, (error) => {
    deciding.delete(id);
    report({ type: "decided", id, failure: failure(error) });
  });
}

async function stop(): Promise<void> {
  // The engine has given up on what still runs (its aborts come through the port, which may
  // be behind this message): abort it here first, and let the handlers see it before dispose.
  const stopping = new DOMException("imhookd is shutting down", "AbortError");
  for (const controller of handling.values()) controller.abort(stopping);
  await new Promise((resolve) => setTimeout(resolve, 0));
  lifetime.abort(new DOMException("the plugin is stopping", "AbortError"));
  if (instance !== undefined) {
    await disposePlugin(loaded!.entry.name, instance, logger("plugin", loaded!.entry.name));
  }
  instance = undefined;
  report({ type: "stopped" });
}

/** `error` as text with the fields that steer its retry, read without trusting the object. */
function failure(error: unknown): WireFailure {
  try {
    const denied = notCapable(error);
    if (denied !== undefined) return { text: permissionProblem(denied), permanent: true };
  } catch {
    // A Proxy whose traps throw is no permission error.
  }
  const out: WireFailure = { text: describeError(error) };
  try {
    const fields = error as { permanent?: unknown; retryAfterMs?: unknown };
    if (typeof error === "object" && error !== null) {
      if (fields.permanent === true) out.permanent = true;
      const after = fields.retryAfterMs;
      if (typeof after === "number" && Number.isFinite(after)) out.retryAfterMs = after;
    }
  } catch {
    // A getter that throws steers nothing.
  }
  return out;
}

/** The `NotCapable` error (a denied permission) in `error` or its causes, if any. */
function notCapable(error: unknown): Error | undefined {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof Deno.errors.NotCapable) return current;
    current = current.cause;
  }
  return undefined;
}

/** A denied permission, said in terms of the config: which key grants it. */
function permissionProblem(error: Error): string {
  const entry = loaded?.entry;
  const match = /Requires (\w+) access to ("[^"]*"|\S+?),? run again/.exec(error.message);
  if (entry === undefined || match === null) return describeError(error);
  const [, kind, target] = match;
  return `NotCapable: plugin "${entry.name}" has no ${kind} access to ${target}: grant it in plugins[${entry.index}].permissions.${kind} of ${configFile} (or set permissions: all)`;
}

function rebuild(reason: WireFailure): DOMException {
  return new DOMException(reason.text, reason.name ?? "AbortError");
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}
