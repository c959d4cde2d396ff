/**
 * The schema of the `builtin:sqlite_sync` database and its migrations, keyed by
 * `PRAGMA user_version`. Private to `plugins/`.
 *
 * Tables without a leading underscore are the public ones described in docs/plugins.md. The `_`
 * tables hold the versions and tombstones that make the result independent of the order in
 * which callbacks arrive. A version is the text `EVENTTIME.JOURNALID` with both numbers
 * zero-padded, so that comparing two versions as text compares them by `EventTime`, then by
 * journal order. Messages (schema 3) keep theirs in two parts instead: the row's own
 * `event_time_ms`, and the journal id in `_group_message_writers`.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { createPrivately } from "../core/file_mode.ts";

/** Each entry migrates the schema from version `index` to `index + 1`. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE groups (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    type TEXT,
    name TEXT,
    introduction TEXT,
    notification TEXT,
    face_url TEXT,
    owner_account TEXT,
    destroyed INTEGER NOT NULL DEFAULT 0,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id)
  );
  CREATE TABLE group_custom_fields (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, key)
  );
  CREATE TABLE group_attrs (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, key)
  );
  -- The primary key doubles as the "members of a group" index.
  CREATE TABLE group_members (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    member_account TEXT NOT NULL,
    joined_at_ms INTEGER,
    left_at_ms INTEGER,
    PRIMARY KEY (sdk_app_id, group_id, member_account)
  );
  CREATE TABLE group_messages (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic_id TEXT NOT NULL DEFAULT '',
    msg_seq INTEGER NOT NULL,
    from_account TEXT,
    operator_account TEXT,
    random INTEGER,
    msg_time INTEGER,
    online_only_flag INTEGER,
    msg_body TEXT NOT NULL,
    text TEXT NOT NULL,
    cloud_custom_data TEXT,
    event_time_ms INTEGER NOT NULL,
    recalled INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sdk_app_id, group_id, topic_id, msg_seq)
  );
  -- "Messages of a group by msg_seq", across topics (dropped by the next migration).
  CREATE INDEX group_messages_by_seq ON group_messages (sdk_app_id, group_id, msg_seq);

  -- Version of each field of a groups row (NULL: never set).
  CREATE TABLE _group_versions (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    type TEXT,
    name TEXT,
    introduction TEXT,
    notification TEXT,
    face_url TEXT,
    owner_account TEXT,
    PRIMARY KEY (sdk_app_id, group_id)
  ) WITHOUT ROWID;
  CREATE TABLE _group_custom_field_versions (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, key)
  ) WITHOUT ROWID;
  -- Version of the newest "set" or "clear" of a group's attributes.
  CREATE TABLE _group_attr_resets (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id)
  ) WITHOUT ROWID;
  -- Newest write of each attribute not older than the group's reset; deleted = tombstone.
  CREATE TABLE _group_attr_versions (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, key)
  ) WITHOUT ROWID;
  -- Newest join and newest exit of each member.
  CREATE TABLE _group_member_versions (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    member_account TEXT NOT NULL,
    join_version TEXT,
    exit_version TEXT,
    PRIMARY KEY (sdk_app_id, group_id, member_account)
  ) WITHOUT ROWID;
  -- Version of the stored message (NULL: not seen yet) and its recall tombstone.
  CREATE TABLE _group_message_versions (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    msg_seq INTEGER NOT NULL,
    version TEXT,
    recalled INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, topic_id, msg_seq)
  ) WITHOUT ROWID;
  `,
  // The primary key serves "the latest messages of a group" once the query names the topic
  // ('' in a group without topics), and msg_seq counts per topic, so an order across topics
  // means nothing. The index was a third B-tree written on every message: a transaction over
  // many groups rewrote one more leaf per group (docs/performance.md, sqlite_sync).
  `DROP INDEX IF EXISTS group_messages_by_seq;`,
  // Version 2 kept each message's version and recall in one more table keyed by group first:
  // a third B-tree written at a random place for every message, plus a look-up, the larger
  // part of sqlite_sync's time on a flood over many groups (docs/performance.md). The
  // version's EventTime is the row's event_time_ms; only the journal id, which breaks ties, is
  // kept apart, keyed by event_time_ms first so that new rows land at the table's end.
  // Recalls, few, keep their tombstones in a table of their own.
  `
  CREATE TABLE _group_message_recalls (
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    msg_seq INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, topic_id, msg_seq)
  ) WITHOUT ROWID;
  -- The journal id of the callback that wrote each group_messages row.
  CREATE TABLE _group_message_writers (
    event_time_ms INTEGER NOT NULL,
    sdk_app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    msg_seq INTEGER NOT NULL,
    journal_id INTEGER NOT NULL,
    PRIMARY KEY (event_time_ms, sdk_app_id, group_id, topic_id, msg_seq)
  ) WITHOUT ROWID;
  INSERT INTO _group_message_recalls
    SELECT sdk_app_id, group_id, topic_id, msg_seq FROM _group_message_versions
    WHERE recalled = 1;
  INSERT INTO _group_message_writers
    SELECT CAST(substr(version, 1, 16) AS INTEGER), sdk_app_id, group_id, topic_id, msg_seq,
      CAST(substr(version, 18) AS INTEGER)
    FROM _group_message_versions WHERE version IS NOT NULL;
  DROP TABLE _group_message_versions;
  `,
];

/** The schema version this code writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** WAL pages after which a commit checkpoints. */
const AUTOCHECKPOINT_PAGES = 10_000;

/**
 * Opens (creating if needed) the sync database at `path` in WAL mode with
 * `synchronous = NORMAL`, and migrates it to {@linkcode SCHEMA_VERSION}.
 */
export function openSyncDatabase(path: string, busyTimeoutMs: number): DatabaseSync {
  createPrivately(path);
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.round(busyTimeoutMs)}`);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    // Callbacks touch rows of many groups at random: a page cache that holds the hot part of
    // the tables saves a read per statement (SQLite grows it only as pages are used); the OS
    // caches the rest. SQLite's default 2 MiB: a transaction dirties one leaf per group (the
    // primary key's), the other tables growing at their ends, and larger caches bought little
    // drain in the daemon for more peak memory, which is what a small VM runs out of
    // (docs/performance.md, small page caches).
    db.exec("PRAGMA cache_size = -2048");
    // Each callback dirties a few pages scattered over the file. Checkpointing after 10,000
    // pages of WAL rather than SQLite's 1,000 copies once a page that many callbacks rewrote
    // meanwhile (docs/performance.md); the WAL file is cut back to 64 MiB afterwards.
    db.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    db.exec("PRAGMA journal_size_limit = 67108864");
    migrate(db, path);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function migrate(db: DatabaseSync, path: string): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    const row = db.prepare("PRAGMA user_version").get() as { user_version: number };
    const current = row.user_version;
    if (current > SCHEMA_VERSION) {
      throw new RangeError(
        `Cannot open "${path}": schema version ${current} is newer than ${SCHEMA_VERSION}, the newest this imhookd knows`,
      );
    }
    for (let version = current; version < SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version]!);
    }
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
