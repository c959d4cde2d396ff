/**
 * `imhookd show ID`: one journaled callback whole, with where each plugin is with it.
 *
 * @module
 */
import { matchesPattern } from "../core/config/patterns.ts";
import type { CallbackDetail } from "../core/journal/mod.ts";
import type { DecisionRecord } from "../plugin.ts";
import { type CliOptions, EXIT, type OptionName, UsageError } from "./_command.ts";
import { commandConfig } from "./_config.ts";
import { openReader } from "./_journal.ts";
import {
  formatAge,
  formatGroup,
  formatTable,
  formatTime,
  print,
  printError,
  printJson,
  wantsJson,
} from "./_output.ts";

/** The help of `show`. */
export const help = `Usage: imhookd show --config FILE ID [--json]

Prints the callback with journal id ID (as "imhookd dead" and the plugins' events name it):
its command, app, times and query fields, its delivery state for each plugin (delivered,
pending with its next attempt, dead, or not subscribed) with the last error, and its body.
A text on a terminal, JSON otherwise or with --json. Safe to run while serve runs.`;

/** The options of `show`. */
export const options: readonly OptionName[] = ["config", "json"];

/** Its argument. */
export const args: readonly string[] = ["ID"];

/** Where one plugin is with the callback. */
interface PluginState {
  plugin: string;
  state: "delivered" | "pending" | "dead" | "not subscribed";
  attempts?: number;
  /** A pending delivery's next attempt (ms since the epoch). */
  nextAt?: number;
  /** When a dead delivery died (ms since the epoch). */
  diedAt?: number;
  error?: string | null;
}

/** Prints one callback. */
export async function run(options: CliOptions, [text]: string[]): Promise<number> {
  if (!/^[1-9]\d{0,15}$/.test(text!)) {
    throw new UsageError(`ID "${text}" is not a journal id (a positive integer)`);
  }
  const id = Number(text);
  const config = await commandConfig(options.config!);
  using journal = openReader(config);
  const detail = journal.callback(id);
  if (detail === undefined) {
    printError(
      `There is no callback ${id} in ${config.journal.path} (pruned, or still in the inbox: serve indexes it)`,
    );
    return EXIT.failure;
  }
  const states = pluginStates(detail, config.plugins);
  if (wantsJson(options.json)) {
    const { body, deliveries: _, extra, ...fields } = detail;
    printJson({
      ...fields,
      receivedAt: new Date(detail.receivedAt).toISOString(),
      ...extra,
      deliveries: states.map((state) => ({
        ...state,
        ...(state.nextAt !== undefined ? { nextAt: new Date(state.nextAt).toISOString() } : {}),
        ...(state.diedAt !== undefined ? { diedAt: new Date(state.diedAt).toISOString() } : {}),
      })),
      body,
    });
    return EXIT.ok;
  }
  const now = Date.now();
  const lines = [
    `Callback ${detail.id}: ${detail.command}`,
    `  app        ${detail.sdkAppId}`,
    `  received   ${formatTime(detail.receivedAt, now)}`,
    `  group      ${formatGroup(detail.groupKey)}`,
    `  client ip  ${detail.clientIp ?? "-"}`,
    `  platform   ${detail.optPlatform ?? "-"}`,
    ...(detail.decision === null ? [] : describeDecision(detail.decision)),
    ...Object.entries(detail.extra).map(([key, value]) =>
      `  ${key.padEnd(9)}  ${typeof value === "string" ? value : JSON.stringify(value)}`
    ),
    "",
    formatTable(
      ["PLUGIN", "STATE", "ATTEMPTS", "LAST ERROR"],
      states.map((state) => [
        state.plugin,
        state.state === "pending" && state.nextAt !== undefined
          ? `pending, next ${state.nextAt <= now ? "now" : `in ${formatAge(state.nextAt - now)}`}`
          : state.state === "dead" && state.diedAt !== undefined
          ? `dead since ${formatAge(now - state.diedAt)} ago`
          : state.state,
        state.attempts === undefined ? "" : String(state.attempts),
        state.error ?? "",
      ]),
    ).replace(/^/gm, "  "),
    "",
    "Body:",
    pretty(detail.body),
  ];
  print(lines.join("\n"));
  return EXIT.ok;
}

/** A decision in two lines: what was answered and why, then how each decider fared. */
export function describeDecision(decision: DecisionRecord): string[] {
  const verdict = [
    decision.verdict,
    ...(decision.code !== undefined ? [String(decision.code)] : []),
    ...(decision.info !== undefined ? [JSON.stringify(decision.info)] : []),
  ].join(" ");
  const changes = [
    ...(decision.replaced ? [`replaced ${Object.keys(decision.replace ?? {}).join(", ")}`] : []),
    ...(decision.refuseMembers?.length ? [`refused ${decision.refuseMembers.join(", ")}`] : []),
    ...(decision.friendResults?.length
      ? [
        `friends ${
          decision.friendResults.map((r) => `${r.To_Account} ${r.ResultCode}`).join(", ")
        }`,
      ]
      : []),
  ];
  const deciders = decision.deciders.map((run) =>
    `${run.plugin} ${run.outcome} ${run.ms} ms${run.error === undefined ? "" : ` (${run.error})`}`
  );
  return [
    `  decision   ${verdict} by ${decision.by} in ${decision.ms} ms${
      changes.length > 0 ? `; ${changes.join("; ")}` : ""
    }${decision.reason === undefined ? "" : `; ${decision.reason}`}`,
    `  deciders   ${deciders.length > 0 ? deciders.join("; ") : "none"}`,
  ];
}

/**
 * Each configured plugin's state (and any other plugin's with a delivery row): a row says
 * pending or dead; without one, a subscribed plugin has it delivered (or was added after it).
 */
function pluginStates(
  detail: CallbackDetail,
  plugins: readonly { name: string; on: readonly string[] }[],
): PluginState[] {
  const states: PluginState[] = [];
  const rows = new Map(detail.deliveries.map((row) => [row.plugin, row]));
  for (const entry of plugins) {
    const row = rows.get(entry.name);
    rows.delete(entry.name);
    if (row !== undefined) {
      states.push({
        plugin: entry.name,
        state: row.state,
        attempts: row.attempts,
        ...when(row),
        error: row.error,
      });
    } else if (entry.on.some((pattern) => matchesPattern(pattern, detail.command))) {
      states.push({ plugin: entry.name, state: "delivered" });
    } else {
      states.push({ plugin: entry.name, state: "not subscribed" });
    }
  }
  for (const row of rows.values()) {
    states.push({
      plugin: `${row.plugin} (not configured)`,
      state: row.state,
      attempts: row.attempts,
      ...when(row),
      error: row.error,
    });
  }
  return states;
}

/** The body indented when it is JSON, else as it is. */
function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** A delivery row's time: a pending one's next attempt, a dead one's death (`next_at` both). */
function when(row: CallbackDetail["deliveries"][number]): Pick<PluginState, "nextAt" | "diedAt"> {
  return row.state === "pending" ? { nextAt: row.nextAt } : { diedAt: row.nextAt };
}
