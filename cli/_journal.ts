/**
 * The journal as the CLI reads it: beside a running `serve` or not, never creating one.
 *
 * @module
 */
import type { Config } from "../core/config/config.ts";
import { JournalReader, JournalWriter } from "../core/journal/mod.ts";

/**
 * Opens the journal of `config` to write (`replay`), closed on dispose (`using`); a
 * RangeError when there is none yet.
 */
export function openExisting(config: Config): JournalWriter & Disposable {
  mustExist(config);
  const journal = JournalWriter.open(config.journal.path, { busyTimeoutMs: 10_000 });
  return Object.assign(journal, { [Symbol.dispose]: () => journal.close() });
}

/**
 * Opens the journal of `config` to read only (`dead`, `show`, `quarantine`), closed on dispose
 * (`using`); a RangeError when there is none yet.
 */
export function openReader(config: Config): JournalReader & Disposable {
  mustExist(config);
  const journal = JournalReader.open(config.journal.path, { busyTimeoutMs: 10_000 });
  return Object.assign(journal, { [Symbol.dispose]: () => journal.close() });
}

function mustExist(config: Config): void {
  try {
    Deno.statSync(config.journal.path);
  } catch {
    throw new RangeError(`There is no journal at ${config.journal.path} yet (serve creates it)`);
  }
}
