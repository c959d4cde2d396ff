/**
 * Applies {@linkcode GroupChange}s to the `builtin:sqlite_sync` database. Private to `plugins/`.
 *
 * Every change carries a version (`EventTime`, journal id). Each piece of state keeps the
 * version of the write that set it, and a change only wins over an older version, so the
 * tables end up the same whatever order the callbacks arrive in and however often each
 * arrives:
 * - `groups`: last writer wins per field; `destroyed` is sticky; `updated_at_ms` is the
 *   greatest `EventTime` applied.
 * - `group_custom_fields`: last writer wins per key.
 * - `group_attrs`: a "set" or "clear" at version R drops every key last written before R
 *   (the group's reset version); "modify" and "delete" older than R are ignored; otherwise
 *   last writer wins per key, with tombstones for deleted keys.
 * - `group_members`: the newest join and the newest exit of each member decide the row.
 * - `group_messages`: last writer wins per message (its `event_time_ms`, then the journal id
 *   kept in `_group_message_writers`); a recall is a sticky tombstone, so a message that
 *   arrives after its recall is stored as recalled.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import {
  type GroupChange,
  type GroupField,
  type MessageRow,
  versionTime,
} from "./_sqlite_sync_change.ts";

const GROUP_FIELDS: readonly GroupField[] = [
  "type",
  "name",
  "introduction",
  "notification",
  "face_url",
  "owner_account",
];

type Row = Record<string, SQLInputValue>;

/** Writes changes to an open sync database; the caller owns the connection. */
export class SyncStore {
  #db: DatabaseSync;
  #sql: ReturnType<typeof prepare>;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#sql = prepare(db);
  }

  /** Applies `changes` in one transaction: all of them or, on error, none. */
  applyAll(changes: readonly GroupChange[]): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      for (const change of changes) this.#apply(change);
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #apply(change: GroupChange): void {
    if (change.info) this.#applyInfo(change, change.info);
    if (change.customFields) this.#applyCustomFields(change, change.customFields);
    if (change.attrs) this.#applyAttrs(change, change.attrs);
    if (change.members) this.#applyMembers(change, change.members);
    if (change.message) this.#applyMessage(change, change.message);
    if (change.recall) this.#applyRecall(change, change.recall);
  }

  #applyInfo(change: GroupChange, info: NonNullable<GroupChange["info"]>): void {
    const { sdkAppId, groupId, version } = change;
    const row: Row = this.#sql.selectGroup.get(sdkAppId, groupId) ?? {
      sdk_app_id: sdkAppId,
      group_id: groupId,
      type: null,
      name: null,
      introduction: null,
      notification: null,
      face_url: null,
      owner_account: null,
      destroyed: 0,
      updated_at_ms: change.eventTimeMs,
    };
    const versions: Row = this.#sql.selectGroupVersions.get(sdkAppId, groupId) ?? {
      sdk_app_id: sdkAppId,
      group_id: groupId,
    };
    for (const field of GROUP_FIELDS) {
      const value = info.fields[field];
      const current = versions[field];
      if (value === undefined || (typeof current === "string" && current >= version)) continue;
      row[field] = value;
      versions[field] = version;
    }
    if (info.destroyed) row.destroyed = 1;
    row.updated_at_ms = Math.max(Number(row.updated_at_ms), change.eventTimeMs);
    this.#sql.upsertGroup.run(row);
    this.#sql.upsertGroupVersions.run({
      sdk_app_id: sdkAppId,
      group_id: groupId,
      ...Object.fromEntries(GROUP_FIELDS.map((field) => [field, versions[field] ?? null])),
    });
  }

  #applyCustomFields(change: GroupChange, entries: Array<[string, string]>): void {
    const { sdkAppId, groupId, version } = change;
    for (const [key, value] of entries) {
      const won = this.#sql.claimCustomField.run(sdkAppId, groupId, key, version).changes > 0;
      if (won) {
        this.#sql.upsertCustomField.run(sdkAppId, groupId, key, value, change.eventTimeMs);
      }
    }
  }

  #applyAttrs(change: GroupChange, attrs: NonNullable<GroupChange["attrs"]>): void {
    const { sdkAppId, groupId, version } = change;
    const reset = this.#sql.selectAttrReset.get(sdkAppId, groupId)?.version;
    if (typeof reset === "string" && version < reset) return; // dominated by a newer reset
    if ((attrs.option === "set" || attrs.option === "clear") && reset !== version) {
      this.#sql.upsertAttrReset.run(sdkAppId, groupId, version);
      this.#sql.deleteAttrsBefore.run(sdkAppId, groupId, version);
      this.#sql.deleteAttrVersionsBefore.run(sdkAppId, groupId, version);
    }
    if (attrs.option === "clear") return;
    const deleted = attrs.option === "delete";
    for (const [key, value] of attrs.entries) {
      const won = this.#sql.claimAttr.run(sdkAppId, groupId, key, version, deleted ? 1 : 0)
        .changes > 0;
      if (!won) continue;
      if (deleted) this.#sql.deleteAttr.run(sdkAppId, groupId, key);
      else this.#sql.upsertAttr.run(sdkAppId, groupId, key, value, change.eventTimeMs);
    }
  }

  #applyMembers(change: GroupChange, members: NonNullable<GroupChange["members"]>): void {
    const { sdkAppId, groupId, version } = change;
    const claim = members.joined ? this.#sql.claimJoin : this.#sql.claimExit;
    for (const account of members.accounts) {
      const claimed = claim.get(sdkAppId, groupId, account, version);
      if (claimed === undefined) continue;
      const join = claimed.join_version;
      const exit = claimed.exit_version;
      const joinedAt = typeof join === "string" ? versionTime(join) : null;
      const leftAt = typeof exit === "string" && (typeof join !== "string" || exit > join)
        ? versionTime(exit)
        : null;
      this.#sql.upsertMember.run(sdkAppId, groupId, account, joinedAt, leftAt);
    }
  }

  #applyMessage(change: GroupChange, message: MessageRow): void {
    const { sdkAppId, groupId, eventTimeMs, journalId } = change;
    const { topicId, msgSeq } = message;
    const sql = this.#sql;
    const columns: SQLInputValue[] = [
      message.fromAccount,
      message.operatorAccount,
      message.random,
      message.msgTime,
      message.onlineOnlyFlag,
      message.msgBody,
      message.text,
      message.cloudCustomData,
      eventTimeMs,
    ];
    if (sql.insertMessage.run(sdkAppId, groupId, topicId, msgSeq, ...columns).changes === 0) {
      // Stored already: the newer (EventTime, journal id) wins.
      const stored = sql.selectMessageWriter.get(sdkAppId, groupId, topicId, msgSeq)!;
      const time = stored.event_time_ms as number;
      // A writer row lost (a copy of some tables only) counts as older than any callback.
      const writer = (stored.journal_id ?? 0) as number;
      if (eventTimeMs < time || (eventTimeMs === time && journalId <= writer)) return;
      sql.updateMessage.run(...columns, sdkAppId, groupId, topicId, msgSeq);
      sql.deleteMessageWriter.run(time, sdkAppId, groupId, topicId, msgSeq);
    }
    sql.insertMessageWriter.run(eventTimeMs, sdkAppId, groupId, topicId, msgSeq, journalId);
  }

  #applyRecall(change: GroupChange, recall: NonNullable<GroupChange["recall"]>): void {
    const { sdkAppId, groupId } = change;
    for (const msgSeq of recall.msgSeqs) {
      this.#sql.insertRecall.run(sdkAppId, groupId, recall.topicId, msgSeq);
      this.#sql.recallMessage.run(sdkAppId, groupId, recall.topicId, msgSeq);
    }
  }
}

function prepare(db: DatabaseSync) {
  function statement(sql: string): StatementSync {
    return db.prepare(sql);
  }
  function query(sql: string): { get(...params: SQLInputValue[]): Row | undefined } {
    const prepared = db.prepare(sql);
    return {
      get(...params: SQLInputValue[]): Row | undefined {
        return prepared.get(...params) as Row | undefined;
      },
    };
  }
  const where = "sdk_app_id = ? AND group_id = ?";
  return {
    selectGroup: query(`SELECT * FROM groups WHERE ${where}`),
    selectGroupVersions: query(`SELECT * FROM _group_versions WHERE ${where}`),
    upsertGroup: statement(
      `INSERT OR REPLACE INTO groups (sdk_app_id, group_id, type, name, introduction,
         notification, face_url, owner_account, destroyed, updated_at_ms)
       VALUES (:sdk_app_id, :group_id, :type, :name, :introduction, :notification, :face_url,
         :owner_account, :destroyed, :updated_at_ms)`,
    ),
    upsertGroupVersions: statement(
      `INSERT OR REPLACE INTO _group_versions (sdk_app_id, group_id, type, name, introduction,
         notification, face_url, owner_account)
       VALUES (:sdk_app_id, :group_id, :type, :name, :introduction, :notification, :face_url,
         :owner_account)`,
    ),
    // The claim statements record a version only when it is newer; `changes` or a returned
    // row tells whether this change won.
    claimCustomField: statement(
      `INSERT INTO _group_custom_field_versions (sdk_app_id, group_id, key, version)
       VALUES (?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET version = excluded.version WHERE excluded.version > version`,
    ),
    upsertCustomField: statement(
      `INSERT OR REPLACE INTO group_custom_fields (sdk_app_id, group_id, key, value, updated_at_ms)
       VALUES (?, ?, ?, ?, ?)`,
    ),
    selectAttrReset: query(`SELECT version FROM _group_attr_resets WHERE ${where}`),
    upsertAttrReset: statement(
      `INSERT OR REPLACE INTO _group_attr_resets (sdk_app_id, group_id, version) VALUES (?, ?, ?)`,
    ),
    deleteAttrsBefore: statement(
      `DELETE FROM group_attrs WHERE sdk_app_id = ?1 AND group_id = ?2 AND key IN (
         SELECT key FROM _group_attr_versions
         WHERE sdk_app_id = ?1 AND group_id = ?2 AND version < ?3)`,
    ),
    deleteAttrVersionsBefore: statement(
      `DELETE FROM _group_attr_versions WHERE ${where} AND version < ?`,
    ),
    claimAttr: statement(
      `INSERT INTO _group_attr_versions (sdk_app_id, group_id, key, version, deleted)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET version = excluded.version, deleted = excluded.deleted
       WHERE excluded.version > version`,
    ),
    deleteAttr: statement(`DELETE FROM group_attrs WHERE ${where} AND key = ?`),
    upsertAttr: statement(
      `INSERT OR REPLACE INTO group_attrs (sdk_app_id, group_id, key, value, updated_at_ms)
       VALUES (?, ?, ?, ?, ?)`,
    ),
    claimJoin: query(
      `INSERT INTO _group_member_versions (sdk_app_id, group_id, member_account, join_version)
       VALUES (?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET join_version = excluded.join_version
       WHERE join_version IS NULL OR excluded.join_version > join_version
       RETURNING join_version, exit_version`,
    ),
    claimExit: query(
      `INSERT INTO _group_member_versions (sdk_app_id, group_id, member_account, exit_version)
       VALUES (?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET exit_version = excluded.exit_version
       WHERE exit_version IS NULL OR excluded.exit_version > exit_version
       RETURNING join_version, exit_version`,
    ),
    upsertMember: statement(
      `INSERT OR REPLACE INTO group_members (sdk_app_id, group_id, member_account, joined_at_ms,
         left_at_ms) VALUES (?, ?, ?, ?, ?)`,
    ),
    // A message stored for the first time is recalled if its recall came first.
    insertMessage: statement(
      `INSERT INTO group_messages (sdk_app_id, group_id, topic_id, msg_seq, from_account,
         operator_account, random, msg_time, online_only_flag, msg_body, text,
         cloud_custom_data, event_time_ms, recalled)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
         EXISTS (SELECT 1 FROM _group_message_recalls
           WHERE sdk_app_id = ?1 AND group_id = ?2 AND topic_id = ?3 AND msg_seq = ?4))
       ON CONFLICT DO NOTHING`,
    ),
    selectMessageWriter: query(
      `SELECT m.event_time_ms, w.journal_id FROM group_messages m
       LEFT JOIN _group_message_writers w ON w.event_time_ms = m.event_time_ms
         AND w.sdk_app_id = m.sdk_app_id AND w.group_id = m.group_id
         AND w.topic_id = m.topic_id AND w.msg_seq = m.msg_seq
       WHERE m.sdk_app_id = ? AND m.group_id = ? AND m.topic_id = ? AND m.msg_seq = ?`,
    ),
    // `recalled` is left alone: a recall is for good.
    updateMessage: statement(
      `UPDATE group_messages SET from_account = ?, operator_account = ?, random = ?,
         msg_time = ?, online_only_flag = ?, msg_body = ?, text = ?, cloud_custom_data = ?,
         event_time_ms = ?
       WHERE sdk_app_id = ? AND group_id = ? AND topic_id = ? AND msg_seq = ?`,
    ),
    insertMessageWriter: statement(
      `INSERT OR REPLACE INTO _group_message_writers (event_time_ms, sdk_app_id, group_id, topic_id,
         msg_seq, journal_id) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    deleteMessageWriter: statement(
      `DELETE FROM _group_message_writers WHERE event_time_ms = ? AND sdk_app_id = ?
         AND group_id = ? AND topic_id = ? AND msg_seq = ?`,
    ),
    insertRecall: statement(
      `INSERT OR IGNORE INTO _group_message_recalls (sdk_app_id, group_id, topic_id, msg_seq)
       VALUES (?, ?, ?, ?)`,
    ),
    recallMessage: statement(
      `UPDATE group_messages SET recalled = 1
       WHERE sdk_app_id = ? AND group_id = ? AND topic_id = ? AND msg_seq = ?`,
    ),
  };
}
