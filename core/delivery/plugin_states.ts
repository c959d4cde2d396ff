/**
 * The plugins' states as the running `serve` sees them (running, restarting, how often and
 * why), in a small file beside the journal that `imhookd status` reads. Written when a state
 * changes and every {@linkcode REFRESH_MS} (so that a file left by a process that died is seen
 * as old), removed when `serve` stops.
 *
 * @module
 */

/** One plugin of the config and how it fares. */
export interface PluginStatus {
  name: string;
  state: "starting" | "running" | "restarting" | "stopped";
  /** Restarts since `serve` started. */
  restarts: number;
  /** Why it is not running, or why it last failed. */
  reason?: string;
}

/** What the file holds. */
export interface PluginStates {
  /** The process that wrote it. */
  pid: number;
  /** When, in ms since the epoch. */
  at: number;
  /** Plugin threads that could not be reclaimed. */
  stuck: number;
  plugins: PluginStatus[];
}

/** How often a running `serve` rewrites the file. */
export const REFRESH_MS = 10_000;

/** The plugin states file of the journal at `journalPath`. */
export function pluginStatesPath(journalPath: string): string {
  return `${journalPath}.plugins`;
}

/** Replaces the file at `path` with `states`, whole (written aside, then renamed). */
export function writePluginStates(path: string, states: PluginStates): void {
  Deno.writeTextFileSync(`${path}.tmp`, JSON.stringify(states));
  Deno.renameSync(`${path}.tmp`, path);
}

/** Removes the file at `path`, if there is one. */
export function removePluginStates(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * The states at `path`, or undefined when there is no file, it cannot be read, or it was not
 * refreshed lately (the process that wrote it ended without removing it). Not by looking the
 * process up: reading another process's `/proc` entry needs `--allow-all` in Deno.
 */
export function readPluginStates(path: string, now = Date.now()): PluginStates | undefined {
  let states: PluginStates;
  try {
    states = JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return undefined;
  }
  if (typeof states?.at !== "number" || !Array.isArray(states.plugins)) return undefined;
  return now - states.at <= 3 * REFRESH_MS ? states : undefined;
}
