/**
 * The journal's on-disk layout: the tables, the version in `PRAGMA user_version`, the
 * migration from older layouts, and the `meta` rows other modules read.
 *
 * Tables: `callbacks` (one row per stored callback), `deliveries` (one row per callback and
 * plugin still to deliver, or dead), `dedup_keys`, `dedup_index` and `dedup_merged` (the
 * dedup keys, see `dedup.ts`), `quarantine` (requests that failed their checks), `meta`
 * (`replay_generation`, and `inbox_epoch`/`inbox_offset`: how far the inbox is indexed) and
 * `probe` (the row `/readyz` rewrites). `deliveries.next_at` is when a pending delivery is due,
 * and when a dead one died (for letters that died before this was recorded, when their last
 * attempt was due).
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { BUCKETS } from "./dedup.ts";
import type { InboxMark } from "./types.ts";

/**
 * The layout this code writes, in `PRAGMA user_version`. 0 is a new file or one made before
 * versions (the text-keyed `dedup` table): {@linkcode migrate} brings it up to date.
 */
export const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS callbacks (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  sdk_app_id TEXT NOT NULL,
  command TEXT NOT NULL,
  group_key TEXT,
  client_ip TEXT,
  opt_platform TEXT,
  body TEXT NOT NULL,
  decision TEXT
);
CREATE INDEX IF NOT EXISTS callbacks_received_at ON callbacks (received_at);
CREATE TABLE IF NOT EXISTS dedup_keys (
  seq INTEGER PRIMARY KEY,
  hash INTEGER NOT NULL,
  key TEXT NOT NULL,
  callback_id INTEGER NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dedup_index (
  hash INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (hash, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dedup_merged (bucket INTEGER PRIMARY KEY, through INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
  plugin TEXT NOT NULL,
  callback_id INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  PRIMARY KEY (plugin, callback_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  sdk_app_id TEXT NOT NULL,
  command TEXT,
  query TEXT NOT NULL,
  reason TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('replay_generation', 0);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, filler BLOB NOT NULL);
`;

/**
 * Brings the journal at `db` to {@linkcode SCHEMA_VERSION}, in one transaction; `hash` is the
 * dedup keys' hash (`dedupHash`, or a test's), for keys moved out of a version 0 file.
 */
export function migrate(db: DatabaseSync, hash: (key: string) => number): void {
  const versionOf = (): number =>
    (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (versionOf() === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    // Read again under the write lock: another process may have just migrated it.
    const version = versionOf();
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `The journal's schema version ${version} is newer than this imhookd's (${SCHEMA_VERSION})`,
      );
    }
    if (version < SCHEMA_VERSION) {
      db.exec(SCHEMA);
      const old = db.prepare(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'dedup'",
      ).get();
      if (old !== undefined) {
        // Version 0: dedup keyed by the whole key text. Oldest first, as appends number them.
        const insert = db.prepare(
          "INSERT INTO dedup_keys (hash, key, callback_id, received_at) VALUES (?, ?, ?, ?)",
        );
        const rows = db.prepare(
          "SELECT key, callback_id, received_at FROM dedup ORDER BY received_at, callback_id",
        ).iterate() as Iterable<{ key: string; callback_id: number; received_at: number }>;
        for (const row of rows) {
          insert.run(hash(row.key), row.key, row.callback_id, row.received_at);
        }
        db.exec("DROP TABLE dedup");
        // All of them indexed at once, nothing staged.
        db.exec(
          "INSERT INTO dedup_index (hash, seq) SELECT hash, seq FROM dedup_keys ORDER BY 1, 2",
        );
        const through = db.prepare("SELECT MAX(seq) AS n FROM dedup_keys").get() as {
          n: number | null;
        };
        const mark = db.prepare("INSERT INTO dedup_merged (bucket, through) VALUES (?, ?)");
        for (let bucket = 0; bucket < BUCKETS; bucket++) mark.run(bucket, through.n ?? 0);
      }
      // Version 0 also indexed deliveries by callback alone: one more page per commit. The
      // queries by callback now go through the primary key, plugin by plugin.
      db.exec("DROP INDEX IF EXISTS deliveries_callback_id");
      // Version 3: how a decision callback was decided (NULL for the others).
      const columns = db.prepare("SELECT name FROM pragma_table_info('callbacks')").all() as {
        name: string;
      }[];
      if (!columns.some((column) => column.name === "decision")) {
        db.exec("ALTER TABLE callbacks ADD COLUMN decision TEXT");
      }
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    }
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * What the journal at `db` records of its inbox: the epoch of the file it indexes and how far
 * it has indexed it (undefined before the first inbox). For any connection, a read-only one
 * too: with `inboxBacklog` (`inbox.ts`), what is stored and not indexed yet.
 */
export function readInboxMark(db: DatabaseSync): InboxMark | undefined {
  const row = db.prepare(
    `SELECT (SELECT value FROM meta WHERE key = 'inbox_epoch') AS epoch,
            (SELECT value FROM meta WHERE key = 'inbox_offset') AS offset`,
  ).get() as { epoch: number | null; offset: number | null };
  return row.epoch === null || row.offset === null
    ? undefined
    : { epoch: row.epoch, offset: row.offset };
}
