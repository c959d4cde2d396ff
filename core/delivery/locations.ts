/**
 * Config locations across threads: the YAML document stays on the main thread, so a thread
 * that reports a problem writes a marker for the key path, which the main thread replaces
 * with the config's `file:line:column`.
 *
 * @module
 */
import type { Config } from "../config/config.ts";

const LOCATION = /\uE000([^\uE000]*)\uE000/g;

/** A `locate` for another thread: a marker that {@linkcode resolveLocations} replaces. */
export function deferredLocate(path: readonly (string | number)[]): string {
  return `\uE000${JSON.stringify(path)}\uE000`;
}

/** Replaces the location markers in `problems` with `config`'s file:line:column. */
export function resolveLocations(problems: string[], config: Pick<Config, "locate">): string[] {
  return problems.map((problem) =>
    problem.replace(LOCATION, (_, path: string) => config.locate(JSON.parse(path)))
  );
}
