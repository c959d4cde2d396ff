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
import { formatTable, print, printError } from "./_output.ts";

/** The help of `replay`. */
export const help = `Usage: imhookd replay --config FILE [--plugin NAME] [--command PATTERN]
                      [--since T] [--until T] [--dead] [--all] [--dry-run]

Marks journaled callbacks for delivery again; the running serve (or the next one) delivers them.
  --plugin NAME      only this plugin (default: every configured plugin whose "on" matches)
  --command PATTERN  only these commands: exact, "Group.*" or "*"
  --since T          received at or after T (ISO 8601 date-time, or a duration ago such as 2h)
  --until T          received at or before T
  --dead             turn dead letters back into pending deliveries instead
  --all              every journaled callback to every plugin: needed when no option above
                     narrows the selection
  --dry-run          print what would be selected (per plugin and command), change nothing`;

/** The options of `replay`. */
export const options: readonly OptionName[] = [
  "config",
  "plugin",
  "command",
  "since",
  "until",
  "dead",
  "all",
  "dry-run",
];

/** Selects the deliveries to make again and prints how many. */
export async function run(options: CliOptions): Promise<number> {
  const narrowed = ["plugin", "command", "since", "until", "dead"].some((option) =>
    options[option as OptionName] !== undefined
  );
  if (!narrowed && !options.all) {
    throw new UsageError(
      "Without --plugin, --command, --since, --until or --dead, replay delivers every journaled callback again to every plugin: add --all to mean it (try --dry-run first)",
    );
  }
  const config = await commandConfig(options.config!);
  const entries = config.plugins.filter((entry) =>
    options.plugin === undefined || entry.name === options.plugin
  );
  if (options.plugin !== undefined && entries.length === 0) {
    throw new UsageError(`There is no plugin "${options.plugin}" in ${config.file}`);
  }
  const pattern = options.command;
  const dryRun = options["dry-run"] === true;
  const byPlugin = new Map<string, number>();
  const byCommand = new Map<string, number>();
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
    dryRun,
    onProgress: ({ scanned, total, selected }) => {
      if (total > 5_000) {
        printError(`replay: ${scanned}/${total} callbacks scanned, ${selected} selected`);
      }
    },
    ...(dryRun
      ? {
        onSelected: (plugin: string, _id: number, command: string) => {
          byPlugin.set(plugin, (byPlugin.get(plugin) ?? 0) + 1);
          byCommand.set(command, (byCommand.get(command) ?? 0) + 1);
        },
      }
      : {}),
  });
  const what = options.dead ? "dead letter(s)" : "deliveries";
  if (!dryRun) {
    print(`Selected ${count} ${what} for delivery again.`);
    return EXIT.ok;
  }
  const lines = [`Dry run: would select ${count} ${what} for delivery again; nothing changed.`];
  for (const [title, counts] of [["PLUGIN", byPlugin], ["COMMAND", byCommand]] as const) {
    if (counts.size === 0) continue;
    lines.push(
      "",
      formatTable([title, "DELIVERIES"], [...counts].map(([name, n]) => [name, String(n)])),
    );
  }
  print(lines.join("\n"));
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
