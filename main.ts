// deno-lint-ignore-file no-console -- the CLI is the one place that prints.
/**
 * The imhookd command line: `serve`, `check`, `send`, `status`, `replay`, `version`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import denoJson from "./deno.json" with { type: "json" };
import { type Config, ConfigError, loadConfig, matchesPattern } from "./core/config/config.ts";
import { type Daemon, formatAddr, startDaemon } from "./core/daemon.ts";
import { Journal } from "./core/journal/journal.ts";
import { PluginLoadError } from "./core/delivery/loader.ts";
import { loadOnce } from "./core/delivery/supervisor.ts";
import { PLUGIN_HOST_COMMAND, runPluginHost } from "./core/delivery/plugin_host.ts";
import { logger, setupLogging } from "./core/ops/log.ts";
import { SystemdNotifier } from "./core/ops/notify.ts";
import { Router } from "./core/config/router.ts";
import { sampleBody } from "./core/protocol/samples.ts";
import { parseDuration } from "./core/config/units.ts";
import { computeSign } from "./core/listener/verify.ts";

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 78 } as const;

class UsageError extends TypeError {
  override name = "UsageError";
}

const HELP: Record<string, string> = {
  main: `imhookd ${denoJson.version} — Tencent Cloud IM callback daemon

Usage: imhookd <command> [options]

Commands:
  serve    --config FILE                    run the daemon
  check    --config FILE                    validate the config and plugins, print the routing table
  send     --config FILE --command CMD      send a signed callback to the server
  status   --config FILE                    journal size, pending and dead deliveries per plugin
  replay   --config FILE [filters]          deliver journaled callbacks again
  version                                   print versions

Run "imhookd <command> --help" for a command's options.
Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 configuration error.`,
  serve: `Usage: imhookd serve --config FILE

Runs the daemon: receives callbacks, journals them, delivers them to plugins.
SIGTERM or SIGINT stop it gracefully; SIGHUP reloads the config.
Under systemd (Type=notify) it reports READY/RELOADING/STOPPING and watchdog pings
to $NOTIFY_SOCKET.`,
  check: `Usage: imhookd check --config FILE

Validates the config, imports every plugin and checks its options (without starting it),
then prints the routing table. Exit 0 when valid, 78 with every error otherwise.`,
  send: `Usage: imhookd send --config FILE --command CMD [--body FILE] [--url URL]

Builds a callback signed with the config's first app and token and POSTs it.
  --command CMD   the CallbackCommand, e.g. Group.CallbackAfterSendMsg
  --body FILE     the JSON body to send as is (default: a built-in sample for CMD, EventTime now)
  --url URL       where to send it (default: the configured listener and path)
Exit 0 only when the answer's ActionStatus is OK.`,
  status: `Usage: imhookd status --config FILE

Prints the journal's size, and per plugin the pending and dead deliveries and the age of
the oldest pending one. Safe to run while serve runs.`,
  replay: `Usage: imhookd replay --config FILE [--plugin NAME] [--command PATTERN]
                      [--since T] [--until T] [--dead]

Marks journaled callbacks for delivery again; the running serve (or the next one) delivers them.
  --plugin NAME      only this plugin (default: every configured plugin whose "on" matches)
  --command PATTERN  only these commands: exact, "Group.*" or "*"
  --since T          received at or after T (ISO 8601 date-time, or a duration ago such as 2h)
  --until T          received at or before T
  --dead             turn dead letters back into pending deliveries instead`,
  version: `Usage: imhookd version

Prints the imhookd, Deno, V8 and TypeScript versions.`,
};

/** Runs the CLI with `args`; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  // A compiled binary runs itself this way for a plugin with `isolation: process`.
  if (command === PLUGIN_HOST_COMMAND) return await runPluginHost();
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    print(HELP.main!);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (!(command in HELP) || command === "main") {
    printError(`Unknown command "${command}".\n\n${HELP.main}`);
    return EXIT.usage;
  }
  try {
    const options = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        config: { type: "string", short: "c" },
        command: { type: "string" },
        body: { type: "string" },
        url: { type: "string" },
        plugin: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        dead: { type: "boolean" },
      },
    }).values;
    if (options.help) {
      print(HELP[command]!);
      return EXIT.ok;
    }
    checkAllowed(command, options);
    switch (command) {
      case "version":
        print(
          `imhookd ${denoJson.version}\ndeno ${Deno.version.deno}\nv8 ${Deno.version.v8}\ntypescript ${Deno.version.typescript}`,
        );
        return EXIT.ok;
      case "serve":
        return await serve(await config(options.config));
      case "check":
        return await check(await config(options.config));
      case "send":
        return await send(await config(options.config), options);
      case "status":
        return status(await config(options.config));
      case "replay":
        return replay(await config(options.config), options);
    }
    return EXIT.usage;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PluginLoadError) {
      printError(error.message);
      return EXIT.config;
    }
    if (error instanceof UsageError || isParseArgsError(error)) {
      printError(`${(error as Error).message}\n\n${HELP[command]}`);
      return EXIT.usage;
    }
    printError(`imhookd ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failure;
  }
}

const ALLOWED: Record<string, string[]> = {
  version: [],
  serve: ["config"],
  check: ["config"],
  send: ["config", "command", "body", "url"],
  status: ["config"],
  replay: ["config", "plugin", "command", "since", "until", "dead"],
};

function checkAllowed(command: string, options: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && name !== "help" && !ALLOWED[command]!.includes(name)) {
      throw new UsageError(`Option --${name} is not an option of "${command}"`);
    }
  }
  if (ALLOWED[command]!.includes("config") && options.config === undefined) {
    throw new UsageError(`"${command}" needs --config FILE`);
  }
}

function isParseArgsError(error: unknown): boolean {
  return error instanceof TypeError && "code" in error &&
    String((error as { code: unknown }).code).startsWith("ERR_PARSE_ARGS");
}

async function config(file: string | undefined): Promise<Config> {
  const loaded = await loadConfig(file!);
  setupLogging(loaded.log);
  return loaded;
}

async function serve(config: Config): Promise<number> {
  const log = logger("main");
  let notifier: SystemdNotifier | undefined;
  try {
    notifier = SystemdNotifier.fromEnv();
  } catch (error) {
    log.warn("Not notifying systemd: {error}", { error });
  }
  // Listeners go in before the daemon starts: a SIGTERM that arrives while it starts must
  // still stop it gracefully, never kill it.
  let daemon: Daemon | undefined;
  const stopped = Promise.withResolvers<void>();
  let stopping = false;
  let reloads = Promise.resolve();
  const onStop = (signal: Deno.Signal) => () => {
    if (stopping) {
      log.info("Received {signal}: already shutting down", { signal });
      return;
    }
    stopping = true;
    log.info("Received {signal}: shutting down", { signal });
    stopped.resolve();
  };
  const onHup = (): void => {
    if (stopping) return;
    if (daemon === undefined) {
      log.warn("Received SIGHUP while starting: the config being started is already the newest");
      return;
    }
    const running = daemon;
    log.info("Received SIGHUP: reloading the config");
    reloads = reloads.then(async () => {
      await notifier?.reloading();
      try {
        await running.reload();
      } catch (error) {
        log.error("Reload failed: {error}", { error });
      }
      if (!stopping) await notifier?.ready();
    });
  };
  const listeners: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStop("SIGTERM")],
    ["SIGINT", onStop("SIGINT")],
    ["SIGHUP", onHup],
  ];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  try {
    daemon = await startDaemon(config);
    if (!stopping) {
      await notifier?.ready();
      notifier?.startWatchdog();
    }
    const failure = await Promise.race([stopped.promise, daemon.failed]);
    stopping = true;
    await notifier?.stopping();
    await daemon.shutdown();
    await reloads;
    if (failure !== undefined) return EXIT.failure;
  } finally {
    await notifier?.close();
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
  return EXIT.ok;
}

async function check(config: Config): Promise<number> {
  // Each on a thread with its permissions, as serve loads them; every failure is reported.
  const loads = await Promise.allSettled(config.plugins.map((entry) => loadOnce(entry, config)));
  const problems = loads.flatMap((result) =>
    result.status === "rejected" && result.reason instanceof PluginLoadError
      ? result.reason.problems
      : []
  );
  if (problems.length > 0) throw new PluginLoadError(problems);
  const other = loads.find((result) => result.status === "rejected");
  if (other !== undefined) throw (other as PromiseRejectedResult).reason;
  const router = new Router(config.plugins.map((entry) => ({ name: entry.name, on: entry.on })));
  const lines = [
    `Config ${config.file} is valid.`,
    `Listener: ${config.server.tls ? "https" : "http"}://${
      formatAddr({ transport: "tcp", ...config.server.listen })
    }${config.server.path}`,
    `Apps: ${
      config.apps.map((app) => `${app.sdkAppId} (${app.token ? "Sign checked" : "no token"})`)
        .join(", ")
    }`,
    `Journal: ${config.journal.path} (durability ${config.journal.durability})`,
    "",
    "Routing table (command pattern -> plugins):",
  ];
  const table = router.table();
  if (table.length === 0) lines.push("  (no plugins: callbacks are journaled only)");
  const width = Math.max(0, ...table.map((row) => row.pattern.length));
  for (const row of table) {
    lines.push(`  ${row.pattern.padEnd(width)}  -> ${row.plugins.join(", ")}`);
  }
  print(lines.join("\n"));
  return EXIT.ok;
}

async function send(
  config: Config,
  options: { command?: string | undefined; body?: string | undefined; url?: string | undefined },
): Promise<number> {
  const command = options.command;
  if (command === undefined) throw new UsageError(`"send" needs --command CMD`);
  let body: string;
  if (options.body !== undefined) {
    body = await Deno.readTextFile(options.body);
  } else {
    const sample = sampleBody(command, Date.now());
    if (sample === undefined) {
      throw new UsageError(
        `There is no built-in sample for "${command}"; give one with --body FILE`,
      );
    }
    body = JSON.stringify(sample);
  }
  let url: URL;
  if (options.url !== undefined) {
    url = new URL(options.url);
  } else {
    const { hostname, port } = config.server.listen;
    if (port === 0) {
      throw new UsageError("The config listens on port 0: give the address with --url");
    }
    const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
    url = new URL(
      `${config.server.tls ? "https" : "http"}://${
        formatAddr({ transport: "tcp", hostname: host, port })
      }${config.server.path}`,
    );
  }
  const app = config.apps[0]!;
  url.searchParams.set("SdkAppid", app.sdkAppId);
  url.searchParams.set("CallbackCommand", command);
  url.searchParams.set("contenttype", "json");
  url.searchParams.set("ClientIP", "127.0.0.1");
  url.searchParams.set("OptPlatform", "RESTAPI");
  if (app.token) {
    const requestTime = String(Math.floor(Date.now() / 1000));
    url.searchParams.set("RequestTime", requestTime);
    url.searchParams.set("Sign", computeSign(app.token, requestTime));
  }
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  print(`${response.status} ${text}`);
  try {
    return JSON.parse(text).ActionStatus === "OK" ? EXIT.ok : EXIT.failure;
  } catch {
    return EXIT.failure;
  }
}

function status(config: Config): number {
  using journal = openExisting(config);
  const state = journal.status();
  const now = Date.now();
  const lines = [
    `Journal ${config.journal.path}: ${state.callbacks} callbacks, ${state.quarantined} quarantined, ${
      formatBytes(state.bytes)
    }`,
    ...(state.inbox.records > 0
      ? [
        `Inbox: ${state.inbox.records} callbacks answered and stored, not indexed yet (${
          formatBytes(state.inbox.bytes)
        }); \`serve\` indexes and delivers them`,
      ]
      : []),
    "",
    "plugin                 pending    dead  oldest pending",
  ];
  const names = new Set([
    ...config.plugins.map((entry) => entry.name),
    ...state.plugins.map((p) => p.plugin),
  ]);
  for (const name of names) {
    const counts = state.plugins.find((p) => p.plugin === name);
    const configured = config.plugins.some((entry) => entry.name === name);
    const age = counts?.oldestPendingAt != null ? formatAge(now - counts.oldestPendingAt) : "-";
    lines.push(
      `${(name + (configured ? "" : " (not configured)")).padEnd(22)} ${
        String(counts?.pending ?? 0).padStart(7)
      } ${String(counts?.dead ?? 0).padStart(7)}  ${age}`,
    );
  }
  print(lines.join("\n"));
  return EXIT.ok;
}

function replay(
  config: Config,
  options: {
    plugin?: string | undefined;
    command?: string | undefined;
    since?: string | undefined;
    until?: string | undefined;
    dead?: boolean | undefined;
  },
): number {
  const entries = config.plugins.filter((entry) =>
    options.plugin === undefined || entry.name === options.plugin
  );
  if (options.plugin !== undefined && entries.length === 0) {
    throw new UsageError(`There is no plugin "${options.plugin}" in ${config.file}`);
  }
  const pattern = options.command;
  using journal = openExisting(config);
  const count = journal.replay({
    plugins: entries.map((entry) => ({
      name: entry.name,
      matches: (command) => entry.on.some((on) => matchesPattern(on, command)),
    })),
    ...(pattern !== undefined ? { command: (c: string) => matchesPattern(pattern, c) } : {}),
    ...(options.since !== undefined ? { since: parseTime(options.since, "--since") } : {}),
    ...(options.until !== undefined ? { until: parseTime(options.until, "--until") } : {}),
    ...(options.dead ? { dead: true } : {}),
  }, {
    onProgress: ({ scanned, total, selected }) => {
      if (total > 5_000) {
        printError(`replay: ${scanned}/${total} callbacks scanned, ${selected} selected`);
      }
    },
  });
  print(
    `Selected ${count} ${options.dead ? "dead letter(s)" : "deliveries"} for delivery again.`,
  );
  return EXIT.ok;
}

function openExisting(config: Config): Journal & Disposable {
  try {
    Deno.statSync(config.journal.path);
  } catch {
    throw new RangeError(`There is no journal at ${config.journal.path} yet (serve creates it)`);
  }
  const journal = Journal.open(config.journal.path, { busyTimeoutMs: 10_000 });
  return Object.assign(journal, { [Symbol.dispose]: () => journal.close() });
}

function parseTime(text: string, option: string): number {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(text)) return Date.now() - parseDuration(text);
  const time = Date.parse(text);
  if (Number.isNaN(time)) {
    throw new UsageError(
      `${option} "${text}" is neither an ISO 8601 date-time nor a duration such as 2h`,
    );
  }
  return time;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 2
    ? `${(bytes / 1024 ** 2).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

function print(text: string): void {
  console.log(text);
}

function printError(text: string): void {
  console.error(text);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
