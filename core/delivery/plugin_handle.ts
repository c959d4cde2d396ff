/**
 * The main thread's handle on one plugin's thread (`plugin_thread.ts`): starts the Worker with
 * the plugin's permissions, loads and creates the plugin, wires its port to the engine, asks
 * it for decisions, reads its heartbeat and ends it. `supervisor.ts` decides what to do when
 * it fails.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import type { PluginEntry } from "../config/config.ts";
import { describeError } from "../describe_error.ts";
import { created, PendingAnswers } from "./_answers.ts";
import { PendingDecisions } from "./_decisions.ts";
import type { LoggingOptions } from "../ops/log.ts";
import { PluginLoadError, PRIORITY_KINDS } from "./loader.ts";
import { matchesPattern } from "../config/patterns.ts";
import { isDecisionCommand } from "../decisions/rules.ts";
import { KNOWN_COMMANDS } from "../protocol/commands.ts";
import { BUILTIN_DECIDERS } from "./builtins.ts";
import { Busy, type ThreadCommand, type ThreadReport, ThreadState } from "./plugin_protocol.ts";

/** Where the plugin thread module is; `deno compile` must `--include` it. */
export const PLUGIN_THREAD_URL = new URL("./plugin_thread.ts", import.meta.url);

/** Why a plugin stopped running, as counted in `imhookd_plugin_restarts_total{reason}`. */
export type FailureReason =
  | "stall"
  | "exit"
  | "uncaught_error"
  | "unhandled_rejection"
  | "out_of_memory"
  | "start_failed"
  | "start_timeout";

/** What a plugin's thread reports when it fails on its own. */
export interface Fatal {
  reason: FailureReason;
  error: string;
}

/** What the main thread can see of a plugin's thread at any time, even a blocked one. */
export interface Pulse {
  /** Heartbeats so far. */
  beats: number;
  /** The callback whose `handle` runs synchronously now, if one does. */
  callback?: number;
  /** True while `decide` runs synchronously. */
  deciding: boolean;
}

/** Everything a plugin's runner needs besides the entry. */
export interface RunnerOptions {
  configDir: string;
  configFile: string;
  log: LoggingOptions;
  /** The Worker's permissions (see `pluginPermissions`). */
  permissions: "inherit" | Deno.PermissionOptionsObject;
  /** Called once when the plugin fails on its own (exits, throws, rejects, runs out of memory). */
  onFatal(fatal: Fatal): void;
}

/** One plugin running somewhere the daemon can watch and end: a thread or a child process. */
export interface PluginRunner {
  readonly entry: PluginEntry;
  /** Imports the module and checks its options; rejects with {@linkcode PluginLoadError}. */
  load(): Promise<void>;
  /** Runs `create`; rejects with a TypeError saying why it failed. */
  create(): Promise<{ hasHandle: boolean; hasDecide: boolean }>;
  /** A new port whose messages reach the plugin's `handle` (the engine's end). */
  connect(): MessagePort;
  /** The instance's `decide`; see `DeliveryHost.decide`. */
  decide(event: CallbackEvent, signal: AbortSignal): Promise<unknown>;
  pulse(): Pulse;
  /** Disposes the instance (waiting at most `limitMs`) and ends the runner. */
  stop(limitMs: number): Promise<void>;
  /**
   * Ends the runner at once. (A Worker whose JavaScript never yields keeps its thread spinning
   * whatever `terminate()` does: the supervisor counts those.)
   */
  kill(reason: string): void;
  /** True when a runner that stops beating can still be ended (a process can be killed). */
  readonly killable: boolean;
}

/** A plugin on a Worker thread of the daemon's process. */
export class PluginThread implements PluginRunner {
  readonly entry: PluginEntry;
  #worker: Worker;
  #options: RunnerOptions;
  #state = new SharedArrayBuffer(ThreadState.BYTES);
  #ints = new Int32Array(this.#state);
  #floats = new Float64Array(this.#state);
  #answers = new PendingAnswers<ThreadReport>();
  #decisions = new PendingDecisions();
  #ended: string | undefined;

  constructor(entry: PluginEntry, options: RunnerOptions) {
    this.entry = entry;
    this.#options = options;
    try {
      this.#worker = new Worker(PLUGIN_THREAD_URL, {
        type: "module",
        name: `plugin ${entry.name}`,
        deno: { permissions: options.permissions },
      });
    } catch (error) {
      if (/--unstable-worker-options/.test(describeError(error))) {
        throw new TypeError(
          `Cannot start plugin "${entry.name}": imhookd must run with --unstable-worker-options (the flag that lets each plugin thread have its own permissions)`,
        );
      }
      throw new TypeError(
        `Cannot start plugin "${entry.name}" with its permissions: ${describeError(error)}`,
      );
    }
    this.#worker.onmessage = (event: MessageEvent<ThreadReport>) => this.#receive(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fatal({ reason: "uncaught_error", error: describeError(event.error ?? event.message) });
    };
    this.#worker.onmessageerror = () => {
      this.#fatal({ reason: "uncaught_error", error: "a message from the plugin cannot be read" });
    };
  }

  async load(): Promise<void> {
    // The priority kinds were added for the thread itself: revoke those the entry lacks.
    const entry = this.entry.permissions;
    const sys = entry === "all" ? true : entry !== undefined ? entry.sys : undefined;
    const kept: readonly string[] = sys === true ? PRIORITY_KINDS : Array.isArray(sys) ? sys : [];
    const reply = await this.#ask({
      type: "load",
      entry: this.entry,
      configDir: this.#options.configDir,
      configFile: this.#options.configFile,
      log: this.#options.log,
      state: this.#state,
      lowerPriority: !mayDecide(this.entry),
      revokeSys: PRIORITY_KINDS.filter((kind) => !kept.includes(kind)),
    }, ["loaded", "load_failed"]);
    if (reply.type === "load_failed") throw new PluginLoadError([reply.problem]);
  }

  async create(): Promise<{ hasHandle: boolean; hasDecide: boolean }> {
    return created(await this.#ask({ type: "create" }, ["started", "create_failed"]));
  }

  connect(): MessagePort {
    const channel = new MessageChannel();
    this.#post({ type: "port", port: channel.port1 }, [channel.port1]);
    return channel.port2;
  }

  decide(event: CallbackEvent, signal: AbortSignal): Promise<unknown> {
    if (this.#ended !== undefined) {
      return Promise.reject(new TypeError(`plugin "${this.entry.name}" ${this.#ended}`));
    }
    return this.#decisions.ask(event, signal, (request) => this.#post(request));
  }

  pulse(): Pulse {
    const busy = Atomics.load(this.#ints, ThreadState.BUSY);
    return {
      beats: Atomics.load(this.#ints, ThreadState.BEATS),
      ...(busy === Busy.handle ? { callback: this.#floats[ThreadState.CALLBACK]! } : {}),
      deciding: busy === Busy.decide,
    };
  }

  async stop(limitMs: number): Promise<void> {
    if (this.#ended === undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#ask({ type: "stop" }, ["stopped"]).catch(() => {}),
        new Promise<void>((resolve) => timer = setTimeout(resolve, limitMs)),
      ]);
      clearTimeout(timer);
    }
    this.kill("is stopped");
  }

  readonly killable = false;

  kill(reason: string): void {
    this.#end(reason);
    this.#worker.terminate();
  }

  #post(message: ThreadCommand, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  #ask(message: ThreadCommand, answers: ThreadReport["type"][]): Promise<ThreadReport> {
    if (this.#ended !== undefined) {
      return Promise.reject(new TypeError(`plugin "${this.entry.name}" ${this.#ended}`));
    }
    return this.#answers.ask(() => this.#post(message), answers);
  }

  #receive(report: ThreadReport): void {
    if (report.type === "fatal") {
      this.#fatal({ reason: report.reason, error: report.error });
      return;
    }
    if (report.type === "decided") {
      this.#decisions.settle(report);
      return;
    }
    this.#answers.settle(report);
  }

  #fatal(fatal: Fatal): void {
    if (this.#ended !== undefined) return;
    this.#end(`failed: ${fatal.error}`);
    this.#options.onFatal(fatal);
  }

  /** Fails every request still waiting for the thread. */
  #end(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    const error = new TypeError(`plugin "${this.entry.name}" ${reason}`);
    this.#answers.rejectAll(error);
    this.#decisions.rejectAll(error);
  }
}

const DECISION_COMMANDS = KNOWN_COMMANDS.filter(isDecisionCommand);

/**
 * Whether the plugin may answer decisions, known before its code runs: its `on` matches a
 * decision command and it is not a built-in that only handles. Its thread then keeps the
 * listener's scheduling priority: a decider's answer is part of Tencent's 2 s, while a plain
 * delivery can wait in the journal when the CPU is short.
 */
export function mayDecide(entry: Pick<PluginEntry, "use" | "on">): boolean {
  if (entry.use.startsWith("builtin:") && !BUILTIN_DECIDERS.has(entry.use.slice(8))) {
    return false;
  }
  return DECISION_COMMANDS.some((command) =>
    entry.on.some((pattern) => matchesPattern(pattern, command))
  );
}
