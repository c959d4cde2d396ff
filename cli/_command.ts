/**
 * What every CLI command module shares: the exit codes, the usage error, the options the
 * command line may carry and the shape of a command module.
 *
 * @module
 */

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 78 } as const;

/** A command line that does not fit the command: exits 2 and prints the command's help. */
export class UsageError extends TypeError {
  override name = "UsageError";
}

/**
 * Every option of every command, for `parseArgs`. A command accepts those its module lists;
 * the others are a usage error naming the command (an option no command has is `parseArgs`'s).
 */
export const OPTIONS = {
  help: { type: "boolean", short: "h" },
  config: { type: "string", short: "c" },
  command: { type: "string" },
  body: { type: "string" },
  url: { type: "string" },
  plugin: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  dead: { type: "boolean" },
  set: { type: "string", multiple: true },
  json: { type: "boolean" },
  "dry-run": { type: "boolean" },
  all: { type: "boolean" },
} as const;

/** The name of an option of {@linkcode OPTIONS} (beside `--help`, which every command has). */
export type OptionName = Exclude<keyof typeof OPTIONS, "help">;

/** The options given on the command line. */
export type CliOptions = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "boolean" ? boolean
    : (typeof OPTIONS)[K] extends { multiple: true } ? string[]
    : string;
};

/** A command module of `cli/`: its help, the options it accepts and what it does. */
export interface CliCommand {
  /** Printed for `--help` and after a usage error. Starts `Usage: imhookd NAME`. */
  help: string;
  /** The options it accepts; with `config`, `--config FILE` is required. */
  options: readonly OptionName[];
  /** The names of the arguments it requires after its name (`ID`), none by default. */
  args?: readonly string[];
  /** Runs the command with its options and arguments; resolves with the exit code. */
  run(options: CliOptions, args: string[]): number | Promise<number>;
}
