/**
 * `imhookd check`: validates the config and its plugins' options, prints the routing table.
 *
 * @module
 */
import { formatAddr } from "../core/daemon.ts";
import { PluginLoadError } from "../core/delivery/loader.ts";
import { loadOnce } from "../core/delivery/runner.ts";
import { Router } from "../core/config/router.ts";
import { configWarnings } from "../core/config/config.ts";
import { type CliOptions, EXIT, type OptionName } from "./_command.ts";
import { commandConfig } from "./_config.ts";
import { print, printError } from "./_output.ts";

/** The help of `check`. */
export const help = `Usage: imhookd check --config FILE

Validates the config, imports every plugin and checks its options (without starting it),
then prints the routing table. Exit 78 with every error (the config's and every plugin's, each
with its file, line and column), else 0; warnings (an "on" pattern that matches no known
command, with the nearest one) go to stderr and do not fail it.`;

/** The options of `check`. */
export const options: readonly OptionName[] = ["config"];

/** Checks the config and prints what it routes where. */
export async function run(options: CliOptions): Promise<number> {
  const config = await commandConfig(options.config!, { withPlugins: true });
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
  for (const warning of configWarnings(config)) printError(`Warning: ${warning}`);
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
