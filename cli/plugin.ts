/**
 * `imhookd plugin test`: runs one configured plugin's `decide` and `handle` on a sample or a
 * body, in this process, without the daemon, and prints what it decided or the error.
 *
 * @module
 */
import { matchesPattern } from "../core/config/patterns.ts";
import { startTrial } from "../core/delivery/runner.ts";
import { KNOWN_COMMANDS } from "../core/protocol/commands.ts";
import { isDecisionCommand } from "../core/decisions/rules.ts";
import { validatePayload } from "../core/protocol/validate.ts";
import { errorChain } from "../core/ops/error_chain.ts";
import { makeEvent } from "../testing.ts";
import { callbackBody } from "./_body.ts";
import { type CliOptions, EXIT, type OptionName, UsageError } from "./_command.ts";
import { commandConfig } from "./_config.ts";
import { print, printError } from "./_output.ts";

/** The help of `plugin`. */
export const help = `Usage: imhookd plugin test --config FILE --plugin NAME [--command CMD]
                         [--body FILE|-] [--set KEY=VALUE]...

Runs the configured plugin NAME on one callback, without the daemon: imports it, checks its
options, creates it, calls its decide (on a decision command) and its handle, prints what it
decided or how it failed, then disposes it. Its logs go to stderr. It runs as serve runs it: on a
thread (or in a process, with isolation: process) with the permissions its entry grants, and with
delivery.handler_timeout as its time limit.
  --plugin NAME     the plugin entry of the config
  --command CMD     the CallbackCommand (default: the body's, else the first known command the
                    plugin's "on" names, else the first one it matches)
  --body FILE       the JSON body; - reads stdin (default: a built-in sample, numbered afresh)
  --set KEY=VALUE   sets a field of the body (A.B.0.C for nested ones), as for "send"
Exit 0 when decide and handle succeed, 1 when one throws.`;

/** The options of `plugin`. */
export const options: readonly OptionName[] = ["config", "plugin", "command", "body", "set"];

/** Its argument: the subcommand, `test`. */
export const args: readonly string[] = ["test"];

/** Runs the plugin on one callback. */
export async function run(options: CliOptions, [subcommand]: string[]): Promise<number> {
  if (subcommand !== "test") throw new UsageError(`Unknown subcommand "plugin ${subcommand}"`);
  if (options.plugin === undefined) throw new UsageError(`"plugin test" needs --plugin NAME`);
  const config = await commandConfig(options.config!);
  const entry = config.plugins.find((plugin) => plugin.name === options.plugin);
  if (entry === undefined) {
    throw new UsageError(`There is no plugin "${options.plugin}" in ${config.file}`);
  }
  const subscribed = (command: string): boolean =>
    entry.on.some((pattern) => matchesPattern(pattern, command));
  const fallback = entry.on.find((pattern) => KNOWN_COMMANDS.includes(pattern)) ??
    KNOWN_COMMANDS.find(subscribed);
  const { command, text } = await callbackBody(options, fallback);
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(text);
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
      throw new SyntaxError("not an object");
    }
  } catch (error) {
    throw new UsageError(`The body is not a JSON object (${(error as Error).message})`);
  }
  if (!subscribed(command)) {
    printError(
      `Warning: serve would not deliver ${command} to ${entry.name} (on: ${entry.on.join(", ")})`,
    );
  }
  const valid = validatePayload(command, payload);
  if (!valid.ok) printError(`Warning: serve would quarantine this body: ${valid.error}`);

  const trial = await startTrial(entry, config);
  const app = config.apps[0]!;
  const event = makeEvent(command, payload, { sdkAppId: app.sdkAppId, rawBody: text });
  print(`Plugin ${entry.name} (${entry.use}), ${command} callback ${event.id}:`);
  const limitMs = config.delivery.handlerTimeoutMs;
  let failed = false;
  let stuck = false;
  let gone = false;
  let spinning = false;
  trial.failed.catch(() => gone = true);
  try {
    const steps: [string, (signal: AbortSignal) => Promise<unknown>][] = [];
    if (trial.hasDecide && isDecisionCommand(command)) {
      steps.push(["decide", (signal) => trial.decide({ ...event, id: "" }, signal)]);
    }
    if (trial.hasHandle) steps.push(["handle", (signal) => trial.handle(event, signal)]);
    if (steps.length === 0) print("  it has neither decide nor handle for this command");
    for (const [name, step] of steps) {
      const started = performance.now();
      const signal = AbortSignal.timeout(limitMs);
      // A call that ignores its signal, or a thread that never yields, ends the wait all the
      // same, a second after the signal; heartbeats that did not move over that second mean
      // the thread never yields.
      const late = Promise.withResolvers<never>();
      let beatsAtLimit = -1;
      const atLimit = setTimeout(() => beatsAtLimit = trial.beats(), limitMs);
      const timer = setTimeout(() => {
        stuck = true;
        spinning = trial.beats() === beatsAtLimit;
        late.reject(new Error(`did not finish within delivery.handler_timeout`));
      }, limitMs + 1_000);
      try {
        const result = await Promise.race([step(signal), trial.failed, late.promise]);
        const ms = Math.round(performance.now() - started);
        if (name === "handle") print(`  handle: ok (${ms} ms)`);
        else if (result === undefined) print(`  decide: no opinion (${ms} ms)`);
        else print(`  decide: ${JSON.stringify(result)} (${ms} ms)`);
      } catch (error) {
        failed = true;
        const ms = Math.round(performance.now() - started);
        const hint = gone
          ? "\n  (serve restarts the plugin and makes this callback its dead letter)"
          : spinning
          ? "\n  (its thread never yields: serve restarts the plugin after delivery.plugin_stall and makes this callback its dead letter)"
          : retryHint(error);
        print(`  ${name}: failed after ${ms} ms: ${errorChain(error)}${hint}`);
        if (gone || stuck) break;
      } finally {
        clearTimeout(atLimit);
        clearTimeout(timer);
      }
    }
  } finally {
    if (stuck) trial.kill("did not finish");
    else await trial.stop(config.delivery.shutdownGraceMs);
  }
  return failed ? EXIT.failure : EXIT.ok;
}

/** What serve would do with an error thrown from `handle`. */
function retryHint(error: unknown): string {
  const fields = (typeof error === "object" && error !== null ? error : {}) as {
    permanent?: unknown;
    retryAfterMs?: unknown;
  };
  if (fields.permanent === true) return "\n  (permanent: serve makes it a dead letter at once)";
  if (typeof fields.retryAfterMs === "number") {
    return `\n  (serve retries it after at least ${fields.retryAfterMs} ms)`;
  }
  return "\n  (serve retries it, up to delivery.max_attempts)";
}
