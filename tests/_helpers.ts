/**
 * Helpers for the end-to-end tests: write a config, start the real `main.ts serve` as a
 * child process on 127.0.0.1 port 0, run CLI commands, sign requests.
 *
 * @module
 */
import { computeSign } from "../core/listener/verify.ts";
import { RUNTIME_ARGS, RUNTIME_ENV } from "../scripts/runtime.ts";

/** The project's root folder. */
export const ROOT = new URL("../", import.meta.url).pathname;
export const APP = "1400000000";
export const TOKEN = "e2e-secret-token";

/** A temporary folder holding a config; removed on dispose. */
export interface Workspace extends AsyncDisposable {
  dir: string;
  config: string;
}

/** Writes `yaml` as `config.yaml` in a new temporary folder. */
export async function workspace(yaml: string): Promise<Workspace> {
  const dir = await Deno.makeTempDir({ prefix: "imhookd-e2e-" });
  const config = `${dir}/config.yaml`;
  await Deno.writeTextFile(config, yaml);
  return {
    dir,
    config,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/**
 * The config the end-to-end tests start from: port 0, the test app signed with `TOKEN`, the
 * journal in `./journal.db`; `rest` adds the other sections (delivery, log, plugins).
 */
export function baseConfig(rest: string): string {
  return `
server:
  listen: 127.0.0.1:0
  path: /im/callback
apps:
  - sdk_app_id: ${APP}
    token: ${TOKEN}
journal:
  path: ./journal.db
${rest}`;
}

/** A config listening on port 0 with the recorder plugin writing `events.jsonl`. */
export function recorderConfig(extra = ""): string {
  return baseConfig(`log:
  level: debug
  format: json
plugins:
  - name: recorder
    use: ${ROOT}tests/fixtures/recorder.ts
    permissions: { read: [.], write: [.] }
    options:
      path: ./events.jsonl
${extra}`);
}

/** A running `serve` child process. */
export interface Served extends AsyncDisposable {
  url: string;
  adminUrl?: string;
  child: Deno.ChildProcess;
  /** Every log line printed so far. */
  logs: string[];
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number>;
  /** Sends SIGKILL and waits for the process to end. */
  kill(): Promise<void>;
}

/** The arguments of `deno` that run `main.ts ARGS` as the `start` and `cli` tasks do. */
export function mainArgs(args: readonly string[]): string[] {
  return ["run", ...RUNTIME_ARGS, `${ROOT}main.ts`, ...args];
}

/** The same as one line for `sh -c` (each word single-quoted), `deno` included. */
export function mainShellCommand(args: readonly string[]): string {
  const quote = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;
  return [Deno.execPath(), ...mainArgs(args)].map(quote).join(" ");
}

/**
 * Starts `main.ts serve --config FILE` with the runtime flags, permissions and environment of
 * `deno task start` (scripts/runtime.ts), and waits until it logs its listening address.
 */
export function serve(config: string, env: Record<string, string> = {}): Promise<Served> {
  return serveCommand(
    Deno.execPath(),
    mainArgs(["serve", "--config", config]),
    { ...RUNTIME_ENV, ...env },
  );
}

/**
 * Runs `main.ts ARGS...` as `deno task cli` does (with `stdin` as its input) and returns its
 * exit code and output.
 */
/**
 * Runs `main.ts ARGS` with its output on a pseudo-terminal (util-linux `script`), as a person
 * at a terminal reads it: tables rather than JSON. Resolves with the exit code and the output,
 * line ends as `\n`.
 */
export async function cliOnTerminal(args: string[]): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command("script", {
    args: ["--quiet", "--return", "--command", mainShellCommand(args), "/dev/null"],
    env: { ...RUNTIME_ENV, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const output = decoder.decode(result.stdout) + decoder.decode(result.stderr);
  return { code: result.code, output: output.replaceAll("\r\n", "\n") };
}

export async function cli(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: mainArgs(args),
    env: { ...RUNTIME_ENV, ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The query string Tencent would send, signed with `TOKEN` at `now`. */
export function signedQuery(
  command: string,
  overrides: Record<string, string> = {},
  nowMs = Date.now(),
): string {
  const requestTime = String(Math.floor(nowMs / 1000));
  return new URLSearchParams({
    SdkAppid: APP,
    CallbackCommand: command,
    contenttype: "json",
    ClientIP: "203.0.113.7",
    OptPlatform: "Android",
    RequestTime: requestTime,
    Sign: computeSign(TOKEN, requestTime),
    ...overrides,
  }).toString();
}

/**
 * Reads the recorder's JSON lines (none when the file does not exist yet). A last line without
 * its newline is being written: it is left for the next read.
 */
export async function recorded(path: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const lines = text.split("\n");
  lines.pop();
  return lines.filter((line) => line !== "").map((line) => JSON.parse(line));
}

/**
 * Polls `probe` until it returns true; fails after `timeoutMs`, generous by default: the
 * machine may be busy with other work, and a limit is there to end a test that would hang.
 */
export async function eventually(
  probe: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
  /** What the state was when it timed out, added to the error. */
  explain?: () => string | Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      const state = explain === undefined ? "" : `\n${await explain()}`;
      throw new Error(`Timed out waiting until ${what}${state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The seed examples in tests/fixtures/seeds: file name, command and exact text. */
export async function seeds(): Promise<{ file: string; command: string; text: string }[]> {
  const dir = `${ROOT}tests/fixtures/seeds`;
  const list = [];
  for await (const entry of Deno.readDir(dir)) {
    const text = await Deno.readTextFile(`${dir}/${entry.name}`);
    list.push({ file: `${dir}/${entry.name}`, command: JSON.parse(text).CallbackCommand, text });
  }
  return list.sort((a, b) => a.file.localeCompare(b.file));
}

/** Where the recorder plugin of {@linkcode recorderConfig} writes, in a workspace folder. */
export function recordConfigPath(dir: string): string {
  return `${dir}/events.jsonl`;
}

/** Runs `send --config CONFIG --command COMMAND --body FILE --url URL`. */
export function sendFile(
  config: string,
  command: string,
  file: string,
  url: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return cli(["send", "--config", config, "--command", command, "--body", file, "--url", url]);
}

/**
 * Like {@linkcode serve}, for any way of running imhookd: `command` and its `args` (e.g.
 * `deno run ... main.ts serve --config FILE`, or a compiled `dist/imhookd serve
 * --config FILE`). Waits until it logs its listening address.
 */
export async function serveCommand(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Served> {
  const child = new Deno.Command(command, {
    args,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const listening = Promise.withResolvers<{ url: string; adminUrl?: string }>();
  let adminUrl: string | undefined;
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        logs.push(line);
        const admin = /Admin listener on (http:\/\/[^\s"]+)/.exec(line);
        if (admin) adminUrl = admin[1];
        const match = /Listening for callbacks on (https?:\/\/[^\s"]+)/.exec(line);
        if (match) listening.resolve({ url: match[1]!, ...(adminUrl ? { adminUrl } : {}) });
      }
    }
    if (buffer !== "") logs.push(buffer);
    listening.reject(new Error(`serve exited before listening:\n${logs.join("\n")}`));
  })();
  const status = child.status;
  let address: { url: string; adminUrl?: string };
  try {
    address = await listening.promise;
  } catch (error) {
    await status;
    await reading;
    throw error;
  }
  let ended = false;
  const end = async (): Promise<number> => {
    const { code } = await status;
    await reading;
    ended = true;
    return code;
  };
  return {
    ...address,
    child,
    logs,
    async stop() {
      if (!ended) signal(child, "SIGTERM");
      return await end();
    },
    async kill() {
      if (!ended) signal(child, "SIGKILL");
      await end();
    },
    async [Symbol.asyncDispose]() {
      if (!ended) {
        signal(child, "SIGKILL");
        await end();
      }
    },
  };
}

/** Sends `name` to `child` unless it has exited on its own already. */
function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
}

/** Whether `name --version` runs: a tool a test needs is installed. */
export function hasTool(name: string): boolean {
  try {
    new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

/**
 * A port on 127.0.0.1 whose connections are refused, for a receiver that is down. Not a port
 * bound and closed again: that one is in the ephemeral range, where another test's server on
 * port 0 may take it meanwhile, and a request to it then waits for that server instead of
 * failing at once. These ports are below that range (where `port: 0` never lands) and not on
 * fetch's list of blocked ports (9, 13, ... fail with "Requests to port 9 are blocked"); the
 * first refused one wins.
 */
export async function refusedPort(): Promise<number> {
  for (const port of [1000, 999, 998, 997, 996]) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) return port;
    }
  }
  throw new Error("No well-known port on 127.0.0.1 refuses connections");
}

/**
 * The delivery, log and plugins sections of a daemon with a plugin that records everything
 * (`audit`, to ./audit.jsonl) and one whose receiver is down (`notify`, Group.* only, posting to
 * a {@linkcode refusedPort} with `query`): each Group callback ends as notify's dead letter
 * after two quick attempts.
 */
export async function auditAndDownNotify(query = ""): Promise<string> {
  return `delivery:
  max_attempts: 2
  initial_backoff: 10ms
  max_backoff: 20ms
log:
  format: json
plugins:
  - name: audit
    use: ${ROOT}tests/fixtures/recorder.ts
    permissions: { read: [.], write: [.] }
    options: { path: ./audit.jsonl }
  - name: notify
    use: ${ROOT}tests/fixtures/unreachable.ts
    permissions: { net: ["127.0.0.1"] }
    on: ["Group.*"]
    options: { url: "http://127.0.0.1:${await refusedPort()}/hook${query}" }
`;
}
