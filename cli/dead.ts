/**
 * `imhookd dead`: the dead letters, each with its plugin, command, group, attempts and last
 * error (with its causes).
 *
 * @module
 */
import { type CliOptions, EXIT, type OptionName, UsageError } from "./_command.ts";
import { commandConfig } from "./_config.ts";
import { openReader } from "./_journal.ts";
import { formatGroup, formatTable, formatTime, print, printJson, wantsJson } from "./_output.ts";

/** The help of `dead`. */
export const help = `Usage: imhookd dead --config FILE [--plugin NAME] [--json]

Lists the dead letters, newest first: the callback's id, the plugin that gave up on it, its
command and group, the attempts made, when it was received and when it died, and the last error
with its causes.
A table on a terminal, JSON otherwise or with --json. "imhookd show ID" prints one callback whole;
"imhookd replay --dead" delivers them again. Safe to run while serve runs.
  --plugin NAME   only this plugin's`;

/** The options of `dead`. */
export const options: readonly OptionName[] = ["config", "plugin", "json"];

/** Prints the dead letters. */
export async function run(options: CliOptions): Promise<number> {
  const config = await commandConfig(options.config!);
  using journal = openReader(config);
  const letters = journal.deadLetters({ plugin: options.plugin });
  if (
    options.plugin !== undefined && letters.length === 0 &&
    !config.plugins.some((entry) => entry.name === options.plugin)
  ) {
    throw new UsageError(`There is no plugin "${options.plugin}" in ${config.file}`);
  }
  if (wantsJson(options.json)) {
    printJson(letters.map((letter) => ({
      ...letter,
      receivedAt: new Date(letter.receivedAt).toISOString(),
      diedAt: new Date(letter.diedAt).toISOString(),
    })));
    return EXIT.ok;
  }
  if (letters.length === 0) {
    print(`No dead letters${options.plugin ? ` for ${options.plugin}` : ""}.`);
    return EXIT.ok;
  }
  const now = Date.now();
  print(formatTable(
    ["ID", "PLUGIN", "COMMAND", "GROUP", "ATTEMPTS", "RECEIVED", "DIED", "LAST ERROR"],
    letters.map((letter) => [
      String(letter.id),
      letter.plugin,
      letter.command,
      formatGroup(letter.groupKey),
      String(letter.attempts),
      formatTime(letter.receivedAt, now),
      formatTime(letter.diedAt, now),
      letter.error ?? "-",
    ]),
  ));
  print(`\n${letters.length} dead letter(s). "imhookd show ID" prints one whole.`);
  return EXIT.ok;
}
