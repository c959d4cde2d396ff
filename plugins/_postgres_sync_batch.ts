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

/**
 * The three parameters of `_imhookd_apply`, as JSON text: the groups to lock, the changes
 * other than messages, and the messages apart, flat, only the newest version of each (an older
 * one in the same batch would lose to it anyway, and one statement cannot write a row twice).
 */
export function applyParameters(changes: readonly GroupChange[]): [string, string, string] {
  // Lengths make the keys unambiguous whatever characters the ids hold.
  const groups = new Map<string, [string, string]>();
  const others: GroupChange[] = [];
  const messages = new Map<string, GroupChange & { message: MessageRow }>();
  for (const change of changes) {
    const group = `${change.sdkAppId.length}:${change.sdkAppId}${change.groupId}`;
    if (!groups.has(group)) groups.set(group, [change.sdkAppId, change.groupId]);
    const { message } = change;
    if (message === undefined) {
      others.push(change);
      continue;
    }
    const key =
      `${group.length}:${group}${message.topicId.length}:${message.topicId}${message.msgSeq}`;
    const seen = messages.get(key);
    if (seen === undefined || seen.version < change.version) {
      messages.set(key, change as GroupChange & { message: MessageRow });
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
    JSON.stringify(others, (key, value) => key === "journalId" ? undefined : value),
    JSON.stringify(flat),
  ];
}
