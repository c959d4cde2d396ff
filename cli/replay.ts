/**
 * `imhookd replay`: marks journaled callbacks (or dead letters) for delivery again.
 *
 * @module
 */
import { matchesPattern } from "../core/config/patterns.ts";
import { parseDuration } from "../core/config/units.ts";
import { type CliOptions, EXIT, type OptionName, UsageError } from "./_command.ts";
import { commandConfig } from "./_config.ts";
import { openExisting } from "./_journal.ts";
import { print, printError } from "./_output.ts";

/** The help of `replay`. */
export const help = `Usage: imhookd replay --config FILE [--plugin NAME] [--command PATTERN]
                      [--since T] [--until T] [--dead]

Marks journaled callbacks for delivery again; the running serve (or the next one) delivers them.
  --plugin NAME      only this plugin (default: every configured plugin whose "on" matches)
  --command PATTERN  only these commands: exact, "Group.*" or "*"
  --since T          received at or after T (ISO 8601 date-time, or a duration ago such as 2h)
  --until T          received at or before T
  --dead             turn dead letters back into pending deliveries instead`;

/** The options of `replay`. */
export const options: readonly OptionName[] = [
  "config",
  "plugin",
  "command",
  "since",
  "until",
  "dead",
];

/** Selects the deliveries to make again and prints how many. */
export async function run(options: CliOptions): Promise<number> {
  const config = await commandConfig(options.config!);
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
