/**
 * Child processes for the load benchmark: the real `main.ts serve` and the bare ceiling
 * server, each on 127.0.0.1 port 0, with their peak memory read from `/proc`.
 *
 * @module
 */

import { RUNTIME_ENV, RUNTIME_FLAGS, RUNTIME_PERMISSIONS } from "../scripts/runtime.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** A running child process serving HTTP. */
export interface BenchServer extends AsyncDisposable {
  /** The callback URL (path included, no query). */
  url: string;
  /** The admin listener's base URL, when there is one. */
  adminUrl?: string;
  pid: number;
  /** `performance.now()` just before the process was spawned. */
  spawnedAt: number;
  /** Every line the process printed so far. */
  logs: string[];
  /** The peak resident set size so far (VmHWM), in bytes. */
  peakRss(): Promise<number>;
  /**
   * The largest anonymous (heaps, buffers) and file-backed (the runtime's code, mapped files)
   * resident sizes seen so far, in bytes, sampled every 100 ms: what the peak is made of.
   */
  peakParts(): { anon: number; file: number };
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
}

/** Reads `VmHWM` (peak resident set size) of process `pid`, in bytes. */
export async function peakRss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new TypeError(`Cannot read VmHWM of process ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * Spawns `args` (after `deno run` and the permissions) and resolves once `ready` has matched
 * the lines printed on `stream`, with the matches' URLs.
 */
async function spawn(
  args: string[],
  stream: "stdout" | "stderr",
  ready: (logs: string[]) => { url: string; adminUrl?: string } | undefined,
  env: Readonly<Record<string, string>> = {},
): Promise<BenchServer> {
  const spawnedAt = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUNTIME_PERMISSIONS, ...args],
    env,
    stdin: "null",
    stdout: stream === "stdout" ? "piped" : "null",
    stderr: stream === "stderr" ? "piped" : "null",
  }).spawn();
  const logs: string[] = [];
  const found = Promise.withResolvers<{ url: string; adminUrl?: string }>();
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child[stream]!.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        logs.push(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        const urls = ready(logs);
        if (urls) found.resolve(urls);
      }
    }
    found.reject(new TypeError(`Process ${args.join(" ")} exited early:\n${logs.join("\n")}`));
  })();
  let urls: { url: string; adminUrl?: string };
  try {
    urls = await found.promise;
  } catch (error) {
    await child.status;
    await reading;
    throw error;
  }
  const parts = { anon: 0, file: 0 };
  const sampler = setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const kib = (key: string) =>
        Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0);
      parts.anon = Math.max(parts.anon, kib("RssAnon") * 1024);
      parts.file = Math.max(parts.file, kib("RssFile") * 1024);
    } catch {
      // Exited: the last samples stand.
    }
  }, 100);
  let exited: Promise<number> | undefined;
  const end = (signal: Deno.Signal): Promise<number> => {
    exited ??= (async () => {
      clearInterval(sampler);
      child.kill(signal);
      const { code } = await child.status;
      await reading;
      return code;
    })();
    return exited;
  };
  return {
    ...urls,
    pid: child.pid,
    spawnedAt,
    logs,
    peakRss: () => peakRss(child.pid),
    peakParts: () => ({ ...parts }),
    stop: () => end("SIGTERM"),
    [Symbol.asyncDispose]: async () => {
      await end("SIGKILL");
    },
  };
}

/**
 * Starts `main.ts serve --config FILE` with the runtime settings of `deno task start`
 * (scripts/runtime.ts); resolves once both listeners are logged.
 */
export function startImhookd(config: string): Promise<BenchServer> {
  let url: string | undefined;
  let adminUrl: string | undefined;
  return spawn(
    [...RUNTIME_FLAGS, `${ROOT}main.ts`, "serve", "--config", config],
    "stderr",
    (logs) => {
      const line = logs.at(-1)!;
      url ??= /Listening for callbacks on (https?:\/\/[^\s"]+)/.exec(line)?.[1];
      adminUrl ??= /Admin listener on (http:\/\/[^\s"]+)/.exec(line)?.[1];
      return url !== undefined && adminUrl !== undefined ? { url, adminUrl } : undefined;
    },
    RUNTIME_ENV,
  );
}

/** Starts the bare `Deno.serve` ceiling server; with `delayMs`, each answer waits that long. */
export function startCeiling(delayMs = 0): Promise<BenchServer> {
  const args = delayMs > 0 ? [String(delayMs)] : [];
  return spawn([`${ROOT}bench/_ceiling_server.ts`, ...args], "stdout", (logs) => {
    const url = /Listening on (http:\/\/\S+)/.exec(logs.at(-1)!)?.[1];
    return url === undefined ? undefined : { url };
  });
}
