/**
 * `isolation: process`: a plugin in a child process of the same program (`plugin_host.ts`),
 * which the daemon can kill whatever the plugin does, with a memory limit. The child runs the
 * plugin on a thread with its permissions, exactly as the daemon would, and relays messages
 * over its stdin and stdout as JSON lines.
 *
 * @module
 */
import type { CallbackEvent } from "../../plugin.ts";
import type { PluginEntry } from "../config/config.ts";
import { describeError } from "../describe_error.ts";
import { created, PendingAnswers } from "./_answers.ts";
import { PendingDecisions } from "./_decisions.ts";
import { logger } from "../ops/log.ts";
import { PluginLoadError } from "./loader.ts";
import type { PluginRunner, Pulse, RunnerOptions } from "./plugin_handle.ts";
import { type HostFrame, PLUGIN_HOST_COMMAND, type ProcessFrame } from "./plugin_host.ts";

const log = logger("daemon");

/** Where the child's entry is when it runs from source (`deno run`). */
const HOST_URL = new URL("./plugin_host.ts", import.meta.url);

/** The prefix of the lines that carry frames (anything else a child prints is passed on). */
export const FRAME_PREFIX = "\u0001imhookd ";

const encoder = new TextEncoder();

/** A plugin in a child process; see the module's description. */
export class PluginProcess implements PluginRunner {
  readonly entry: PluginEntry;
  readonly killable = true;
  #options: RunnerOptions;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #answers = new PendingAnswers<ProcessFrame>();
  #decisions = new PendingDecisions();
  #pulse: Pulse = { beats: 0, deciding: false };
  #port: MessagePort | undefined;
  #ended: string | undefined;
  #outOfMemory: string | undefined;

  constructor(entry: PluginEntry, options: RunnerOptions) {
    this.entry = entry;
    this.#options = options;
    const limit = entry.memoryLimit;
    const env: Record<string, string> = {};
    // The V8 heap limit of the child's isolates (`deno run` reads it; a compiled binary keeps
    // the flags it was built with, so there the memory check below is the limit).
    if (limit !== undefined) {
      env.DENO_V8_FLAGS = `--max-old-space-size=${Math.floor(limit / 2 ** 20)}`;
    }
    try {
      this.#child = new Deno.Command(Deno.execPath(), {
        args: hostArgs(),
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new TypeError(
        `Cannot start plugin "${entry.name}" in a process of its own (isolation: process): ${
          error instanceof Deno.errors.NotCapable
            ? "imhookd needs the run permission (--allow-run) for that"
            : describeError(error)
        }`,
      );
    }
    this.#writer = this.#child.stdin.getWriter();
    this.#read();
    this.#passStderr();
    this.#child.status.then((status) => this.#exited(status));
  }

  async load(): Promise<void> {
    const reply = await this.#ask({
      type: "load",
      entry: this.entry,
      configDir: this.#options.configDir,
      configFile: this.#options.configFile,
      log: this.#options.log,
      permissions: this.#options.permissions,
    }, ["loaded", "load_failed"]);
    if (reply.type === "load_failed") throw new PluginLoadError([reply.problem]);
  }

  async create(): Promise<{ hasHandle: boolean; hasDecide: boolean }> {
    return created(await this.#ask({ type: "create" }, ["started", "create_failed"]));
  }

  connect(): MessagePort {
    const channel = new MessageChannel();
    this.#port = channel.port1;
    this.#port.onmessage = (event) => this.#send({ type: "port", message: event.data });
    this.#send({ type: "connect" });
    return channel.port2;
  }

  decide(event: CallbackEvent, signal: AbortSignal): Promise<unknown> {
    if (this.#ended !== undefined) {
      return Promise.reject(new TypeError(`plugin "${this.entry.name}" ${this.#ended}`));
    }
    return this.#decisions.ask(event, signal, (request) => this.#send(request));
  }

  pulse(): Pulse {
    return this.#pulse;
  }

  async stop(limitMs: number): Promise<void> {
    if (this.#ended === undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#ask({ type: "stop", limitMs }, ["stopped"]).catch(() => {}),
        new Promise<void>((resolve) => timer = setTimeout(resolve, limitMs + 1_000)),
      ]);
      clearTimeout(timer);
    }
    this.kill("is stopped");
    await this.#child.status;
  }

  kill(reason: string): void {
    this.#end(reason);
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  #send(frame: HostFrame): void {
    if (this.#ended !== undefined) return;
    // Writes queue in the stream, in order; a child that died makes them fail, and its exit
    // is handled where its status settles.
    this.#writer.write(encoder.encode(JSON.stringify(frame) + "\n")).catch(() => {});
  }

  #ask(frame: HostFrame, answers: ProcessFrame["type"][]): Promise<ProcessFrame> {
    if (this.#ended !== undefined) {
      return Promise.reject(new TypeError(`plugin "${this.entry.name}" ${this.#ended}`));
    }
    return this.#answers.ask(() => this.#send(frame), answers);
  }

  async #read(): Promise<void> {
    let buffer = "";
    try {
      for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.startsWith(FRAME_PREFIX)) {
            this.#receive(JSON.parse(line.slice(FRAME_PREFIX.length)));
          } else writeStderr(line);
        }
      }
    } catch (error) {
      log.warn("Cannot read from the process of plugin {name}: {error}", {
        name: this.entry.name,
        error: describeError(error),
      });
    }
  }

  async #passStderr(): Promise<void> {
    let buffer = "";
    for await (const chunk of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (/out of memory/i.test(line)) {
          const limit = this.entry.memoryLimit;
          this.#outOfMemory ??= limit === undefined
            ? "V8 reached its heap limit"
            : `its heap reached memory_limit (${Math.round(limit / 2 ** 20)} MiB)`;
        }
        writeStderr(line);
      }
    }
  }

  #receive(frame: ProcessFrame): void {
    switch (frame.type) {
      case "pulse":
        this.#pulse = frame.pulse;
        // The child says how much memory it uses (reading another process's /proc entry
        // needs --allow-all in Deno).
        if (this.entry.memoryLimit !== undefined) {
          this.#checkMemory(frame.rss, this.entry.memoryLimit);
        }
        return;
      case "port":
        this.#port?.postMessage(frame.message);
        return;
      case "fatal":
        this.#fatal(frame.reason, frame.error);
        return;
      case "decided": {
        this.#decisions.settle(frame);
        return;
      }
      default:
        this.#answers.settle(frame);
    }
  }

  #checkMemory(rss: number, limit: number): void {
    if (rss <= limit || this.#outOfMemory !== undefined) return;
    this.#outOfMemory = `its memory reached ${Math.round(rss / 2 ** 20)} MiB, over memory_limit (${
      Math.round(limit / 2 ** 20)
    } MiB)`;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  #exited(status: Deno.CommandStatus): void {
    this.#port?.close();
    if (this.#ended !== undefined) return;
    if (this.#outOfMemory !== undefined) {
      this.#fatal("out_of_memory", this.#outOfMemory);
      return;
    }
    this.#fatal(
      "exit",
      `its process ended with ${
        status.signal !== null ? `signal ${status.signal}` : `exit code ${status.code}`
      }`,
    );
  }

  #fatal(
    reason: "exit" | "uncaught_error" | "unhandled_rejection" | "out_of_memory",
    error: string,
  ): void {
    if (this.#ended !== undefined) return;
    this.#end(`failed: ${error}`);
    this.#options.onFatal({ reason, error });
  }

  #end(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    this.#writer.close().catch(() => {});
    const error = new TypeError(`plugin "${this.entry.name}" ${reason}`);
    this.#answers.rejectAll(error);
    this.#decisions.rejectAll(error);
  }
}

/**
 * How to run the plugin host: a compiled binary runs itself with the hidden command; from
 * source, `deno run` of the host module with the permissions this process has (a plugin's
 * thread gets fewer still), so the child never has more than the daemon.
 */
function hostArgs(): string[] {
  if (Deno.build.standalone) return [PLUGIN_HOST_COMMAND];
  const flags = ["--unstable-worker-options", "--no-prompt"];
  for (const name of ["read", "write", "net", "env", "sys", "run", "ffi"] as const) {
    if (Deno.permissions.querySync({ name }).state === "granted") flags.push(`--allow-${name}`);
  }
  // The project's config (its import map), wherever the daemon's working directory is.
  const config = new URL("../../deno.json", import.meta.url);
  if (config.protocol === "file:") flags.push("--config", config.pathname);
  return ["run", ...flags, HOST_URL.href, PLUGIN_HOST_COMMAND];
}

function writeStderr(line: string): void {
  let bytes = encoder.encode(line + "\n");
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
}
