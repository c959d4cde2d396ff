/**
 * The journal and the plugins' outputs read beside a running `serve` (the journal is in WAL
 * mode): what is still pending, how fast a backlog drains, and whether every plugin has every
 * callback.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { inboxBacklog, inboxPath } from "../core/journal/inbox.ts";
import { readInboxMark } from "../core/journal/schema.ts";

/** How often the drain counts pending deliveries before it is seen to start. */
const COUNT_EVERY_MS = 100;

/** Counts in the journal, read beside the running serve (WAL). */
export class JournalCounts implements Disposable {
  #db: DatabaseSync;
  #pending;
  #any;
  #dead;
  #callbacks;

  #path: string;

  constructor(path: string) {
    this.#path = path;
    this.#db = new DatabaseSync(path, { readOnly: true });
    this.#pending = this.#db.prepare(
      "SELECT COUNT(DISTINCT callback_id) AS n FROM deliveries WHERE state = 'pending'",
    );
    this.#any = this.#db.prepare(
      "SELECT EXISTS (SELECT 1 FROM deliveries WHERE state = 'pending') AS n",
    );
    this.#dead = this.#db.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'dead'");
    this.#callbacks = this.#db.prepare("SELECT COUNT(*) AS n FROM callbacks");
  }

  /**
   * The callbacks in the journal's inbox after the offset its database records (not in
   * `deliveries`: they become deliveries in the commit that moves the offset past them).
   */
  #inbox(count: boolean): { bytes: number; records: number } {
    return inboxBacklog(inboxPath(this.#path), readInboxMark(this.#db), { count });
  }

  /**
   * Callbacks that some plugin has not handled yet: those with a pending delivery, and those
   * still in the inbox, both read in one snapshot of the database, so that a callback indexed
   * meanwhile is counted once. Scans the whole table.
   */
  pending(): number {
    this.#db.exec("BEGIN");
    try {
      const inbox = this.#inbox(true).records;
      return inbox + (this.#pending.get() as { n: number }).n;
    } finally {
      this.#db.exec("COMMIT");
    }
  }

  /**
   * Whether any callback is in the inbox or any delivery pending: stops at the first row,
   * unlike {@linkcode JournalCounts.pending}. The inbox first: its callbacks become deliveries
   * in the commit that indexes them.
   */
  anyPending(): boolean {
    if (this.#inbox(false).bytes > 0) return true;
    return (this.#any.get() as { n: number }).n === 1;
  }

  /** Deliveries dead-lettered. */
  dead(): number {
    return (this.#dead.get() as { n: number }).n;
  }

  /** Callbacks in the journal's callbacks table. */
  callbacks(): number {
    return (this.#callbacks.get() as { n: number }).n;
  }

  [Symbol.dispose](): void {
    this.#db.close();
  }
}

/**
 * Waits until no delivery is pending; returns the ms from `since` to then, the backlog (the
 * callbacks some plugin had not handled yet) and the rate at which that backlog was drained
 * (callbacks/s through every plugin). The plugins drain at their own pace, so a backlog is
 * not the same for each: it counts the callbacks, not the deliveries over the plugins.
 *
 * Counting the pending deliveries scans the table, longer as the backlog grows: counted every
 * few milliseconds, it took much of a core from the drain it measured (docs/performance.md).
 * So the count is read only until the drain is seen to start, and the end is watched with a
 * query that stops at the first pending row.
 */
export async function drain(
  reader: JournalCounts,
  since: number,
): Promise<{ ms: number; backlog: number; rate: number }> {
  const backlog = reader.pending();
  const deadline = performance.now() + 120_000;
  const late = (): void => {
    if (performance.now() > deadline) throw new RangeError("Deliveries still pending after 120 s");
  };
  let first: { at: number; pending: number } | undefined;
  while (first === undefined) {
    const at = performance.now();
    const pending = reader.pending();
    if (pending === 0) return { ms: at - since, backlog, rate: Number.NaN };
    if (pending < backlog) first = { at, pending };
    else {
      late();
      await sleep(COUNT_EVERY_MS);
    }
  }
  for (;;) {
    const at = performance.now();
    if (!reader.anyPending()) {
      const rate = first.pending / ((at - first.at) / 1000);
      return { ms: at - since, backlog, rate };
    }
    late();
    await sleep(5);
  }
}

/** Lines in the file at `path`, read in chunks: a flood's log is too large for one string. */
async function countLines(path: string): Promise<number> {
  using file = await Deno.open(path);
  const buffer = new Uint8Array(1 << 20);
  let n = 0;
  for (;;) {
    const read = await file.read(buffer);
    if (read === null) return n;
    for (let i = 0; i < read; i++) if (buffer[i] === 10) n++;
  }
}

/** Checks that every plugin has every callback; throws naming what is missing. */
export async function checkOutputs(dir: string, callbacks: number): Promise<void> {
  const lines = await countLines(`${dir}/callbacks.jsonl`);
  const db = new DatabaseSync(`${dir}/im.db`, { readOnly: true });
  let rows: number;
  try {
    rows = (db.prepare("SELECT COUNT(*) AS n FROM group_messages").get() as { n: number }).n;
  } finally {
    db.close();
  }
  if (lines < callbacks || rows !== callbacks) {
    throw new RangeError(
      `Plugins lag the journal: ${callbacks} callbacks, ${lines} log lines, ${rows} rows`,
    );
  }
}
