/**
 * The keys of a callback: its natural dedup key and its ordering group, made as its entry in
 * `commands.ts` says. zod-free: plugins and the delivery worker may import it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { canonicalInt } from "./_ints.ts";
import { commandSpec, type GroupKeyKind, type NaturalKeyKind } from "./commands.ts";

type Payload = Record<string, unknown>;

/** The natural key of each kind, or undefined when the payload lacks its fields. */
const NATURAL_KEYS: Readonly<Record<NaturalKeyKind, (payload: Payload) => string | undefined>> = {
  groupMessage: (payload) => {
    const { GroupId, TopicId } = payload;
    const seq = canonicalInt(payload.MsgSeq);
    if (
      typeof GroupId === "string" && GroupId !== "" && seq !== undefined &&
      (TopicId === undefined || typeof TopicId === "string")
    ) {
      return JSON.stringify([GroupId, TopicId ?? "", seq]);
    }
    return undefined;
  },
  c2cMessage: ({ MsgKey }) =>
    typeof MsgKey === "string" && MsgKey !== "" ? JSON.stringify([MsgKey]) : undefined,
  bodyHash: () => undefined,
};

/**
 * The natural dedup key of a callback, without `SdkAppid` and command (the journal prefixes
 * those): for group messages the JSON array `[GroupId, TopicId or "", MsgSeq]`, for C2C
 * messages `[MsgKey]`, otherwise `"sha256:"` + the hex SHA-256 of `rawBody` (also when the
 * natural fields are missing or malformed). Numbers and digit strings give the same key.
 */
export function naturalKey(command: string, payload: Payload, rawBody: string): string {
  const kind = commandSpec(command)?.naturalKey ?? "bodyHash";
  return NATURAL_KEYS[kind](payload) ?? bodyHashKey(rawBody);
}

function bodyHashKey(rawBody: string): string {
  return "sha256:" + createHash("sha256").update(rawBody, "utf8").digest("hex");
}

/**
 * The ordering group of a callback: `"g:" + GroupId` when `GroupId` is a non-empty string;
 * for C2C commands (`C2C.*` when not known) with both `From_Account` and `To_Account`,
 * `"c2c:"` + the JSON of the sorted pair (the same both ways); otherwise undefined (no
 * ordering constraint).
 */
export function groupKey(command: string, payload: Payload): string | undefined {
  const { GroupId } = payload;
  if (typeof GroupId === "string" && GroupId !== "") return "g:" + GroupId;
  if (groupKeyKind(command) === "c2c") {
    const { From_Account: from, To_Account: to } = payload;
    if (typeof from === "string" && from !== "" && typeof to === "string" && to !== "") {
      return "c2c:" + JSON.stringify(from < to ? [from, to] : [to, from]);
    }
  }
  return undefined;
}

function groupKeyKind(command: string): GroupKeyKind {
  return commandSpec(command)?.groupKey ?? (command.startsWith("C2C.") ? "c2c" : "group");
}
