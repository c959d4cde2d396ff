/**
 * `deno task plugin-types`: writes `plugin_types/command_payloads.ts`, the plugin kit's map of
 * every known command to its payload type, from imhookd's command table
 * (`core/protocol/commands.ts`), so a command is declared once. The payload types themselves
 * live in `plugin_types/` and `core/protocol/payloads.ts` re-exports them. `--check` prints what
 * is out of date and exits 1 instead; `plugin_test.ts` runs the same check in every test run.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
/** The generated file, relative to the repository. */
export const MAP_FILE = "plugin_types/command_payloads.ts";

/** `[command, payload type]` of every entry of the command table, in its order. */
export function commandTypes(commandsSource: string): [string, string][] {
  const entries = [
    ...commandsSource.matchAll(/^\s*"([A-Za-z0-9_.]+)": (?:before|after)<\s*P\.(\w+)\s*>\(/gm),
  ];
  return entries.map((match) => [match[1]!, match[2]!]);
}

/** The text of {@linkcode MAP_FILE} for the command table `commandsSource`. */
export function mapFile(commandsSource: string): string {
  const commands = commandTypes(commandsSource);
  return [
    "/**\n",
    " * The payload type of each known command, for plugins (`CommandEvent<C>`). Written from\n",
    " * imhookd's command table by `deno task plugin-types`: do not edit by hand.\n",
    " *\n",
    " * @module\n",
    " */\n",
    'import type * as P from "./payloads.ts";\n',
    "\n",
    "/** The payload type of each known command. */\n",
    "export interface CommandPayloads {\n",
    ...commands.map(([command, type]) => `  ${JSON.stringify(command)}: P.${type};\n`),
    "}\n",
  ].join("");
}

/** {@linkcode MAP_FILE} as the command table says it should be now. */
export async function generated(): Promise<string> {
  return mapFile(await Deno.readTextFile(new URL("core/protocol/commands.ts", ROOT)));
}

if (import.meta.main) {
  const file = new URL(MAP_FILE, ROOT);
  const current = await Deno.readTextFile(file).catch(() => "");
  const next = await generated();
  if (Deno.args.includes("--check")) {
    if (next !== current) {
      // deno-lint-ignore no-console -- a command-line check reports on stderr.
      console.error(`${MAP_FILE} is out of date: run \`deno task plugin-types\``);
      Deno.exit(1);
    }
  } else if (next !== current) {
    await Deno.writeTextFile(file, next);
  }
}
