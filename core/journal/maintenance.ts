/**
 * The journal's upkeep and reports: `replay` (marking callbacks for delivery again), pruning
 * old callbacks and dedup keys, and the counts `status` and the metrics show. Functions of a
 * connection; the writer runs `pruneSome` inside its group commit.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { DedupKeys } from "./dedup.ts";
import { inboxBacklog, inboxPath } from "./inbox.ts";
import { readInboxMark } from "./schema.ts";
import type {
  InboxMark,
  JournalStatus,
  PluginStatus,
  ReplayProgress,
  ReplaySelection,
} from "./types.ts";

/** Options of {@linkcode replay}. */
export interface ReplayOptions {
  /** Callbacks per transaction. Default 5000. */
  chunk?: number;
  /** Called after each chunk is committed. */
  onProgress?: (progress: ReplayProgress) => void;
  /** Called for each delivery selected. */
  onSelected?: (plugin: string, id: number, command: string) => void;
  /** Selects as usual but rolls each chunk back: nothing changes (`replay --dry-run`). */
  dryRun?: boolean;
}

/**
 * Marks the callbacks `selection` selects for delivery again, on `db`, and returns how many
 * deliveries it made pending. Works beside a running `serve`, which notices the change (the
 * replay generation goes up with the last chunk): it commits in chunks of `chunk` callbacks
 * so that `serve`'s own commits never wait long, and calls `onProgress` after each chunk.
 */
export function replay(
  db: DatabaseSync,
  selection: ReplaySelection,
  options: ReplayOptions = {},
): number {
  const since = selection.since ?? 0;
  const until = selection.until ?? Number.MAX_SAFE_INTEGER;
  const accepts = selection.command ?? (() => true);
  const chunk = options.chunk ?? 5_000;
  const names = new Set(selection.plugins.map((plugin) => plugin.name));
  const total = (db.prepare(
    "SELECT COUNT(*) AS n FROM callbacks WHERE received_at BETWEEN ? AND ?",
  ).get(since, until) as { n: number }).n;
  const scan = db.prepare(
    `SELECT id, command FROM callbacks WHERE id > ? AND received_at BETWEEN ? AND ?
     ORDER BY id LIMIT ?`,
  );
  const deadOf = db.prepare(
    `SELECT plugin FROM deliveries
     WHERE plugin IN (SELECT value FROM json_each(?)) AND callback_id = ? AND state = 'dead'`,
  );
  const nameList = JSON.stringify([...names]);
  const revive = db.prepare(
    `UPDATE deliveries SET state = 'pending', attempts = 0, next_at = 0
     WHERE plugin = ? AND callback_id = ?`,
  );
  const upsert = db.prepare(
    `INSERT INTO deliveries (plugin, callback_id) VALUES (?, ?)
     ON CONFLICT (plugin, callback_id) DO UPDATE SET state = 'pending', attempts = 0, next_at = 0`,
  );
  let selected = 0;
  let scanned = 0;
  let afterId = 0;
  for (;;) {
    db.exec("BEGIN IMMEDIATE");
    let rows: { id: number; command: string }[];
    try {
      rows = scan.all(afterId, since, until, chunk) as { id: number; command: string }[];
      for (const row of rows) {
        if (!accepts(row.command)) continue;
        if (selection.dead) {
          for (const { plugin } of deadOf.all(nameList, row.id) as { plugin: string }[]) {
            if (!names.has(plugin)) continue;
            revive.run(plugin, row.id);
            selected++;
            options.onSelected?.(plugin, row.id, row.command);
          }
        } else {
          for (const plugin of selection.plugins) {
            if (!plugin.matches(row.command)) continue;
            upsert.run(plugin.name, row.id);
            selected++;
            options.onSelected?.(plugin.name, row.id, row.command);
          }
        }
      }
      if (rows.length < chunk) {
        db.exec("UPDATE meta SET value = value + 1 WHERE key = 'replay_generation'");
      }
      // A dry run makes the same changes, to count them as a replay would, and drops them.
      db.exec(options.dryRun ? "ROLLBACK" : "COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
    scanned += rows.length;
    afterId = rows.at(-1)?.id ?? afterId;
    options.onProgress?.({ scanned, total, selected });
    if (rows.length < chunk) return selected;
  }
}

/**
 * The counts of `status` and the metrics, for the journal at `path` opened as `db`.
 * `indexedTo` is how far the inbox is indexed when the caller indexes it (the writer with an
 * inbox knows); without it, what the database records.
 */
export function journalStatus(
  db: DatabaseSync,
  path: string,
  indexedTo?: InboxMark,
): JournalStatus {
  const one = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
  const plugins = db.prepare(
    `SELECT d.plugin,
            SUM(d.state = 'pending') AS pending,
            SUM(d.state = 'dead') AS dead,
            MIN(CASE WHEN d.state = 'pending' THEN c.received_at END) AS oldestPendingAt
     FROM deliveries d JOIN callbacks c ON c.id = d.callback_id
     GROUP BY d.plugin ORDER BY d.plugin`,
  ).all() as unknown as PluginStatus[];
  const mark = indexedTo ?? readInboxMark(db);
  return {
    callbacks: one("SELECT COUNT(*) AS n FROM callbacks"),
    inbox: path === ":memory:" ? { records: 0, bytes: 0 } : inboxBacklog(inboxPath(path), mark),
    quarantined: one("SELECT COUNT(*) AS n FROM quarantine"),
    bytes: one(
      "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
    ),
    plugins,
  };
}

/**
 * Deletes callbacks received before `callbacksBefore` that no plugin still waits for, and
 * dedup keys older than `dedupBefore`, up to `limit` of each, in the open write transaction.
 * Returns how many rows it removed.
 */
export function pruneSome(
  db: DatabaseSync,
  keys: DedupKeys,
  callbacksBefore: number,
  dedupBefore: number,
  limit: number,
): number {
  // Every plugin with a delivery, then one primary key look-up per plugin and callback: no
  // index on callback_id to keep up at each append.
  const plugins = JSON.stringify(deliveryPlugins(db));
  const callbacks = db.prepare(
    `DELETE FROM callbacks WHERE id IN (
         SELECT id FROM callbacks c WHERE c.received_at < ?
         AND NOT EXISTS (SELECT 1 FROM deliveries d
                         WHERE d.plugin IN (SELECT value FROM json_each(?)) AND d.callback_id = c.id)
         LIMIT ?)`,
  ).run(callbacksBefore, plugins, limit).changes;
  return Number(callbacks) + keys.prune(dedupBefore, limit);
}

/**
 * The plugins that have a pending or dead delivery, in name order: a skip scan of the
 * primary key (one look-up per plugin), not a scan of every delivery.
 */
export function deliveryPlugins(db: DatabaseSync): string[] {
  const row = db.prepare(
    `WITH RECURSIVE p (name) AS (
         SELECT MIN(plugin) FROM deliveries
         UNION ALL
         SELECT (SELECT MIN(plugin) FROM deliveries WHERE plugin > p.name) FROM p
         WHERE p.name IS NOT NULL)
       SELECT json_group_array(name) AS names FROM p WHERE name IS NOT NULL`,
  ).get() as { names: string };
  return JSON.parse(row.names);
}
