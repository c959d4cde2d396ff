-- Hands a builtin:sqlite_sync database at schema 3 back to a release that knows only 2.
-- Run with imhookd stopped: sqlite3 /var/lib/imhookd/im.db < sqlite_sync_3_to_2.sql
BEGIN IMMEDIATE;
CREATE TABLE _group_message_versions (
  sdk_app_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  topic_id TEXT NOT NULL,
  msg_seq INTEGER NOT NULL,
  version TEXT,
  recalled INTEGER NOT NULL,
  PRIMARY KEY (sdk_app_id, group_id, topic_id, msg_seq)
) WITHOUT ROWID;
INSERT INTO _group_message_versions
  SELECT sdk_app_id, group_id, topic_id, msg_seq,
    printf('%016d.%016d', event_time_ms, journal_id), 0
  FROM _group_message_writers;
INSERT INTO _group_message_versions
  SELECT sdk_app_id, group_id, topic_id, msg_seq, NULL, 1 FROM _group_message_recalls WHERE true
  ON CONFLICT DO UPDATE SET recalled = 1;
DROP TABLE _group_message_writers;
DROP TABLE _group_message_recalls;
PRAGMA user_version = 2;
COMMIT;
