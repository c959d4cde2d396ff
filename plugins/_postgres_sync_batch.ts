/**
 * What `builtin:postgres_sync` sends for a batch: each change's version, and the parameters of
 * one call of the database's `_imhookd_apply` (`_postgres_sync_sql.ts`). Private to `plugins/`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { CallbackEvent } from "../plugin.ts";
import type { GroupChange, MessageRow } from "./_sqlite_sync_change.ts";

/** Digits of the `EventTime` part of a version, as in `sqlite_sync`. */
const VERSION_DIGITS = 16;

/**
 * The version of `change`, parsed from `event`: its `EventTime` zero-padded like
 * `sqlite_sync`'s, then a tie-break that every instance computes alike, instead of the
 * instance's journal id: for a message the {@linkcode messageDigest} of what it stores (so
 * that the stored row carries its own version), for the rest a hash of the callback.
 */
export function changeVersion(event: CallbackEvent, change: GroupChange): string {
  const tie = change.message ? messageDigest(change.message) : createHash("sha256")
    .update(`${event.sdkAppId}\n${event.command}\n${event.rawBody}`)
    .digest("hex")
    .slice(0, 32);
  return `${String(change.eventTimeMs).padStart(VERSION_DIGITS, "0")}.${tie}`;
}

/**
 * The MD5 (hex) of a message's stored columns, as the database's `_imhookd_message_digest`
 * computes it from a row: the values as text, NULL as U+001E, joined by U+001F.
 */
export function messageDigest(message: MessageRow): string {
  const text = (value: string | number | null): string => value === null ? "\x1e" : String(value);
  return createHash("md5").update(
    [
      text(message.fromAccount),
      text(message.operatorAccount),
      text(message.random),
      text(message.msgTime),
      text(message.onlineOnlyFlag),
      message.msgBody,
      message.text,
      text(message.cloudCustomData),
    ].join("\x1f"),
    "utf8",
  ).digest("hex");
}

/** The parameters of `_imhookd_apply`, in its order: JSON text, or null when empty. */
export type ApplyParameters = [string, ...Array<string | null>];

/**
 * The parameters of `_imhookd_apply` for a batch: the groups to lock, then one flat list per
 * table, each holding at most one row per key: the newest version the batch has for it (an
 * older one would lose to it anyway, and one statement cannot write a row twice). Of entries
 * with the same key and version (one callback listing a key twice), the first wins, as when
 * they are applied one by one. The database merges each list with what it holds.
 */
export function applyParameters(changes: readonly GroupChange[]): ApplyParameters {
  const groups = new Map<string, [string, string]>();
  const messages = new Map<string, GroupChange & { message: MessageRow }>();
  const info = new Map<string, Record<string, string | number | null>>();
  const fields = new Map<string, KeyedRow>();
  const resets = new Map<string, { a: string; g: string; v: string }>();
  const attrs = new Map<string, KeyedRow>();
  const members = new Map<string, { a: string; g: string; m: string; j?: string; e?: string }>();
  const recalls = new Map<string, { a: string; g: string; p: string; s: number }>();
  for (const change of changes) {
    const { sdkAppId: a, groupId: g, version: v, eventTimeMs: t } = change;
    // Lengths make the keys unambiguous whatever characters the ids hold.
    const group = `${a.length}:${a}${g}`;
    if (!groups.has(group)) groups.set(group, [a, g]);
    const { message } = change;
    if (message !== undefined) {
      const key =
        `${group.length}:${group}${message.topicId.length}:${message.topicId}${message.msgSeq}`;
      const seen = messages.get(key);
      if (seen === undefined || newerMessage(change, message, seen)) {
        messages.set(key, change as GroupChange & { message: MessageRow });
      }
    }
    if (change.info !== undefined) {
      let row = info.get(group);
      if (row === undefined) info.set(group, row = { a, g, t, d: 0 });
      if (t > (row.t as number)) row.t = t;
      if (change.info.destroyed) row.d = 1;
      for (const [field, value] of Object.entries(change.info.fields)) {
        const seen = row[`${field}_v`];
        if (value === undefined || (typeof seen === "string" && seen >= v)) continue;
        row[field] = value;
        row[`${field}_v`] = v;
      }
    }
    for (const [k, x] of change.customFields ?? []) newest(fields, group, { a, g, k, x, v, t });
    if (change.attrs !== undefined) {
      const { option, entries } = change.attrs;
      if (option === "set" || option === "clear") {
        const seen = resets.get(group);
        if (seen === undefined || seen.v < v) resets.set(group, { a, g, v });
      }
      if (option !== "clear") {
        const del = option === "delete";
        for (const [k, x] of entries) newest(attrs, group, { a, g, k, x, v, t, del });
      }
    }
    if (change.members !== undefined) {
      const side = change.members.joined ? "j" : "e";
      for (const m of change.members.accounts) {
        const key = `${group.length}:${group}${m}`;
        let row = members.get(key);
        if (row === undefined) members.set(key, row = { a, g, m });
        const seen = row[side];
        if (seen === undefined || seen < v) row[side] = v;
      }
    }
    if (change.recall !== undefined) {
      const p = change.recall.topicId;
      for (const s of change.recall.msgSeqs) {
        recalls.set(`${group.length}:${group}${p.length}:${p}${s}`, { a, g, p, s });
      }
    }
  }
  const flat = [...messages.values()].map(({ sdkAppId, groupId, eventTimeMs, message }) => ({
    a: sdkAppId,
    g: groupId,
    p: message.topicId,
    s: message.msgSeq,
    t: eventTimeMs,
    f: message.fromAccount,
    o: message.operatorAccount,
    r: message.random,
    mt: message.msgTime,
    ol: message.onlineOnlyFlag,
    b: message.msgBody,
    x: message.text,
    cc: message.cloudCustomData,
  }));
  return [
    JSON.stringify([...groups.values()]),
    ...[flat, info, fields, resets, attrs, members, recalls].map((rows) =>
      (Array.isArray(rows) ? rows.length : rows.size) === 0
        ? null
        : JSON.stringify(Array.isArray(rows) ? rows : [...rows.values()])
    ),
  ];
}

/** A custom field or attribute write: key `k`, value `x` at version `v` and time `t`. */
interface KeyedRow {
  a: string;
  g: string;
  k: string;
  x: string;
  v: string;
  t: number;
  del?: boolean;
}

/** Keeps `row` in `rows` unless the same key already has a version as new. */
function newest(rows: Map<string, KeyedRow>, group: string, row: KeyedRow): void {
  const key = `${group.length}:${group}${row.k}`;
  const seen = rows.get(key);
  if (seen === undefined || seen.v < row.v) rows.set(key, row);
}

/**
 * Whether `change` (storing `message`) is newer than `seen`, as {@linkcode changeVersion}
 * orders them: the digests are only computed for a tie, which is rare.
 */
function newerMessage(
  change: GroupChange,
  message: MessageRow,
  seen: GroupChange & { message: MessageRow },
): boolean {
  if (change.eventTimeMs !== seen.eventTimeMs) return change.eventTimeMs > seen.eventTimeMs;
  return messageDigest(message) > messageDigest(seen.message);
}
