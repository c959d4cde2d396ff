/**
 * `imhookd status`: the journal's size and, per plugin, its pending and dead deliveries.
 *
 * @module
 */
import { type CliOptions, EXIT, type OptionName } from "./_command.ts";
import { commandConfig } from "./_config.ts";
import { openExisting } from "./_journal.ts";
import { pluginStatesPath, readPluginStates } from "../core/delivery/plugin_states.ts";
import { formatAge, formatBytes, print } from "./_output.ts";

/** The help of `status`. */
export const help = `Usage: imhookd status --config FILE

Prints the journal's size, and per plugin the pending and dead deliveries and the age of
the oldest pending one; while serve runs, also each plugin's state and restarts. Safe to run
while serve runs.`;

/** The options of `status`. */
export const options: readonly OptionName[] = ["config"];

/** Prints the journal's counts. */
export async function run(options: CliOptions): Promise<number> {
  const config = await commandConfig(options.config!);
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
  const running = readPluginStates(pluginStatesPath(config.journal.path));
  if (running !== undefined) {
    lines.push(
      "",
      `serve (pid ${running.pid}):`,
      "plugin                 state       restarts  last failure",
    );
    for (const plugin of running.plugins) {
      lines.push(
        `${plugin.name.padEnd(22)} ${plugin.state.padEnd(11)} ${
          String(plugin.restarts).padStart(8)
        }  ${plugin.restarts > 0 ? plugin.reason ?? "-" : "-"}`,
      );
    }
    if (running.stuck > 0) {
      lines.push(
        `${running.stuck} plugin thread(s) stuck beyond reclaim: restart serve to free them`,
      );
    }
  }
  const dead = state.plugins.reduce((sum, p) => sum + p.dead, 0);
  const hints = [
    ...(dead > 0 ? [`"imhookd dead --config FILE" lists the ${dead} dead letter(s) and why`] : []),
    ...(state.quarantined > 0
      ? [`"imhookd quarantine --config FILE" lists the ${state.quarantined} quarantined request(s)`]
      : []),
  ];
  if (hints.length > 0) lines.push("", ...hints);
  print(lines.join("\n"));
  return EXIT.ok;
}
