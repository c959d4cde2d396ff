/**
 * The imhookd command line: finds the command, parses its options, runs it and maps what
 * went wrong to an exit code. Each command is a module of this folder, imported only when
 * it runs, so that `version` and `--help` load neither the daemon nor the config parser.
 *
 * To add a command: its module (exporting `help`, `options` and `run`, see `CliCommand`)
 * and one line in {@linkcode COMMANDS}.
 *
 * @module
 */
import { parseArgs } from "node:util";
import denoJson from "../deno.json" with { type: "json" };
import { type CliCommand, EXIT, OPTIONS, UsageError } from "./_command.ts";
import { print, printError } from "./_output.ts";

export { EXIT };

/** A command as the help index shows it, and where its module is. */
interface CommandEntry {
  /** Its required options, as the index shows them. */
  synopsis: string;
  /** What it does, in a few words. */
  summary: string;
  load(): Promise<CliCommand>;
}

/** Every command, in the order of the help index. */
const COMMANDS: ReadonlyMap<string, CommandEntry> = new Map([
  ["serve", {
    synopsis: "--config FILE",
    summary: "run the daemon",
    load: () => import("./serve.ts"),
  }],
  ["check", {
    synopsis: "--config FILE",
    summary: "validate the config and plugins, print the routing table",
    load: () => import("./check.ts"),
  }],
  ["send", {
    synopsis: "--config FILE [--command CMD]",
    summary: "send a signed callback to the server",
    load: () => import("./send.ts"),
  }],
  ["status", {
    synopsis: "--config FILE",
    summary: "journal size, pending and dead deliveries per plugin",
    load: () => import("./status.ts"),
  }],
  ["dead", {
    synopsis: "--config FILE [--plugin NAME]",
    summary: "list the dead letters with their errors",
    load: () => import("./dead.ts"),
  }],
  ["show", {
    synopsis: "--config FILE ID",
    summary: "print one callback whole, with its state per plugin",
    load: () => import("./show.ts"),
  }],
  ["quarantine", {
    synopsis: "--config FILE",
    summary: "list the quarantined requests and why",
    load: () => import("./quarantine.ts"),
  }],
  ["replay", {
    synopsis: "--config FILE [filters]",
    summary: "deliver journaled callbacks again",
    load: () => import("./replay.ts"),
  }],
  ["plugin", {
    synopsis: "test --config FILE --plugin NAME",
    summary: "run one plugin on a sample or a body, without the daemon",
    load: () => import("./plugin.ts"),
  }],
  ["version", { synopsis: "", summary: "print versions", load: () => import("./version.ts") }],
]);

const INDEX = `imhookd ${denoJson.version} — Tencent Cloud IM callback daemon

Usage: imhookd <command> [options]

Commands:
${
  [...COMMANDS].map(([name, entry]) =>
    `  ${name.padEnd(11)}${entry.synopsis.padEnd(34)}${entry.summary}`
  ).join("\n")
}

Run "imhookd <command> --help" for a command's options.
Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 configuration error.`;

/** Runs the CLI with `args`; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    print(INDEX);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = COMMANDS.get(name);
  if (entry === undefined) {
    printError(`Unknown command "${name}".\n\n${INDEX}`);
    return EXIT.usage;
  }
  const command = await entry.load();
  try {
    const { values: options, positionals } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: OPTIONS,
    });
    if (options.help) {
      print(command.help);
      return EXIT.ok;
    }
    const args = command.args ?? [];
    if (positionals.length > args.length) {
      throw new UsageError(`Unexpected argument "${positionals[args.length]}"`);
    }
    if (positionals.length < args.length) {
      throw new UsageError(`"${name}" needs ${args.slice(positionals.length).join(" ")}`);
    }
    for (const [option, value] of Object.entries(options)) {
      if (value !== undefined && option !== "help" && !isAllowed(command, option)) {
        throw new UsageError(`Option --${option} is not an option of "${name}"`);
      }
    }
    if (isAllowed(command, "config") && options.config === undefined) {
      throw new UsageError(`"${name}" needs --config FILE`);
    }
    return await command.run(options, positionals);
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      printError(`${(error as Error).message}\n\n${command.help}`);
      return EXIT.usage;
    }
    if (await isConfigError(error)) {
      printError((error as Error).message);
      return EXIT.config;
    }
    printError(`imhookd ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failure;
  }
}

function isAllowed(command: CliCommand, option: string): boolean {
  return (command.options as readonly string[]).includes(option);
}

/**
 * A bad config or a plugin that cannot load (exit 78). Their modules are imported here,
 * not above, so that `version` does not load them; a command that threw one loaded them.
 */
async function isConfigError(error: unknown): Promise<boolean> {
  if (!(error instanceof Error)) return false;
  const [{ ConfigError }, { PluginLoadError }] = await Promise.all([
    import("../core/config/config.ts"),
    import("../core/delivery/loader.ts"),
  ]);
  return error instanceof ConfigError || error instanceof PluginLoadError;
}

function isParseArgsError(error: unknown): boolean {
  return error instanceof TypeError && "code" in error &&
    String((error as { code: unknown }).code).startsWith("ERR_PARSE_ARGS");
}
