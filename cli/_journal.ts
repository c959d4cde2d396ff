/**
 * The journal as the CLI reads it: beside a running `serve` or not, never creating one.
 *
 * @module
 */
import type { Config } from "../core/config/config.ts";
import { JournalWriter } from "../core/journal/mod.ts";

/**
 * Opens the journal of `config`, closed on dispose (`using`); a RangeError when there is
 * none yet.
 */
export function openExisting(config: Config): JournalWriter & Disposable {
  try {
    Deno.statSync(config.journal.path);
  } catch {
    throw new RangeError(`There is no journal at ${config.journal.path} yet (serve creates it)`);
  }
  const journal = JournalWriter.open(config.journal.path, { busyTimeoutMs: 10_000 });
  return Object.assign(journal, { [Symbol.dispose]: () => journal.close() });
}
