/**
 * Callbacks suspected of bringing the whole process down. A plugin thread that runs out of
 * memory aborts the process (V8 cannot end one isolate alone), and systemd would restart it
 * into the same callback again. So while a plugin's handler has run synchronously for a while,
 * the callback is written down here, and struck off when the handler returns; a start that
 * finds one left makes it a dead letter before delivering anything.
 *
 * @module
 */
import type { JournalWriter } from "../journal/mod.ts";

/** A callback whose handler was running synchronously, and for which plugin. */
export interface Suspect {
  plugin: string;
  callback: number;
}

/** The suspects file of the journal at `journalPath`. */
export function suspectsPath(journalPath: string): string {
  return `${journalPath}.suspects`;
}

/** The suspects file: written when the set changes (rarely), removed when it is empty. */
export class Suspects {
  #path: string;
  #current = new Map<string, number>();

  constructor(path: string) {
    this.#path = path;
  }

  /** Sets (or, with undefined, clears) the callback `plugin` is stuck on. */
  set(plugin: string, callback: number | undefined): void {
    if (this.#current.get(plugin) === callback) return;
    if (callback === undefined) this.#current.delete(plugin);
    else this.#current.set(plugin, callback);
    try {
      if (this.#current.size === 0) {
        Deno.removeSync(this.#path);
      } else {
        const list: Suspect[] = [...this.#current].map(([plugin, callback]) => ({
          plugin,
          callback,
        }));
        Deno.writeTextFileSync(this.#path, JSON.stringify(list));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

/**
 * Makes each callback of the suspects file left by the last run a dead letter of its plugin
 * (unless it is not pending any more), then removes the file. Returns what it did.
 */
export async function condemnSuspects(journal: JournalWriter, path: string): Promise<Suspect[]> {
  let list: Suspect[];
  try {
    list = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    list = [];
  }
  const condemned: Suspect[] = [];
  for (const { plugin, callback } of Array.isArray(list) ? list : []) {
    if (typeof plugin !== "string" || typeof callback !== "number") continue;
    const [row] = journal.pending(plugin, callback - 1, 1);
    if (row?.id !== callback) continue;
    await journal.markDead(plugin, callback, {
      attempts: row.attempts + 1,
      error:
        `imhookd stopped abruptly while plugin "${plugin}" handled this callback (out of memory, or a crash); it is not retried`,
    });
    condemned.push({ plugin, callback });
  }
  await Deno.remove(path).catch(() => {});
  return condemned;
}
