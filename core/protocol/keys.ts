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

/**
 * A field of a natural key: its path, and its type: `string` (non-empty), `topic` (a string,
 * `""` when absent) or `int` (a number or digit string, in canonical form).
 */
type KeyField = readonly [path: string | readonly string[], type: "string" | "topic" | "int"];

/** The fields of each kind's key, in order; `bodyHash` has none. */
const NATURAL_KEY_FIELDS: Readonly<Record<NaturalKeyKind, readonly KeyField[]>> = {
  groupMessage: [["GroupId", "string"], ["TopicId", "topic"], ["MsgSeq", "int"]],
  c2cMessage: [["MsgKey", "string"]],
  groupMessageExtension: [
    ["GroupId", "string"],
    ["TopicId", "topic"],
    ["MsgSeq", "int"],
    ["Seq", "int"],
  ],
  c2cMessageExtension: [["MsgKey", "string"], ["Seq", "int"]],
  officialAccountMessage: [["Official_Account", "string"], ["MsgKey", "string"]],
  moderation: [["CtxcbRequestId", "string"]],
  callStart: [[["CallInfo", "CallId"], "string"]],
  callEnd: [[["CallRecord", "CallId"], "string"]],
  bodyHash: [],
};

function fieldAt(payload: Payload, path: string | readonly string[]): unknown {
  if (typeof path === "string") return payload[path];
  let v: unknown = payload;
  for (const key of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Payload)[key];
  }
  return v;
}

/** The JSON array of the fields' values, or undefined when one is missing or malformed. */
function keyOf(payload: Payload, fields: readonly KeyField[]): string | undefined {
  if (fields.length === 0) return undefined;
  const values: string[] = [];
  for (const [path, type] of fields) {
    const v = fieldAt(payload, path);
    let value: string | undefined;
    if (type === "int") value = canonicalInt(v);
    else if (type === "topic") value = v === undefined ? "" : typeof v === "string" ? v : undefined;
    else value = typeof v === "string" && v !== "" ? v : undefined;
    if (value === undefined) return undefined;
    values.push(value);
  }
  return JSON.stringify(values);
}

/**
 * The natural dedup key of a callback, without `SdkAppid` and command (the journal prefixes
 * those): the JSON array of the fields its kind names (for group messages `[GroupId, TopicId
 * or "", MsgSeq]`, for C2C messages `[MsgKey]`), otherwise `"sha256:"` + the hex SHA-256 of
 * `rawBody` (also when a field is missing or malformed). Numbers and digit strings give the
 * same key.
 */
export function naturalKey(command: string, payload: Payload, rawBody: string): string {
  const kind = commandSpec(command)?.naturalKey ?? "bodyHash";
  return keyOf(payload, NATURAL_KEY_FIELDS[kind]) ?? bodyHashKey(rawBody);
}

function bodyHashKey(rawBody: string): string {
  return "sha256:" + createHash("sha256").update(rawBody, "utf8").digest("hex");
}

/** A non-empty string at `path`, else undefined. */
function idAt(payload: Payload, path: string | readonly string[]): string | undefined {
  const v = fieldAt(payload, path);
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The group of each kind besides `GroupId` (which comes first for every kind but `none`). */
const GROUPS: Readonly<Record<GroupKeyKind, (payload: Payload) => string | undefined>> = {
  group: () => undefined,
  c2c: (payload) => {
    const from = idAt(payload, "From_Account");
    const to = idAt(payload, "To_Account");
    if (from === undefined || to === undefined) return undefined;
    return "c2c:" + JSON.stringify(from < to ? [from, to] : [to, from]);
  },
  officialAccount: (payload) => prefixed("oa:", idAt(payload, "Official_Account")),
  call: (payload) =>
    prefixed(
      "call:",
      idAt(payload, "CallId") ?? idAt(payload, ["CallInfo", "CallId"]) ??
        idAt(payload, ["CallRecord", "CallId"]),
    ),
  room: (payload) =>
    prefixed("room:", idAt(payload, "RoomId") ?? idAt(payload, ["RoomInfo", "RoomId"])),
  deskSession: (payload) => prefixed("desk:", idAt(payload, "SessionId")),
  none: () => undefined,
};

function prefixed(prefix: string, id: string | undefined): string | undefined {
  return id === undefined ? undefined : prefix + id;
}

/**
 * The ordering group of a callback: `"g:" + GroupId` when `GroupId` is a non-empty string;
 * else by its kind: for C2C commands (`C2C.*` when not known) with both `From_Account` and
 * `To_Account`, `"c2c:"` + the JSON of the sorted pair (the same both ways); `"oa:"` +
 * `Official_Account`; `"call:"` + `CallId`; `"room:"` + `RoomId`; `"desk:"` + `SessionId`;
 * otherwise undefined (no ordering constraint).
 */
export function groupKey(command: string, payload: Payload): string | undefined {
  const kind = groupKeyKind(command);
  if (kind === "none") return undefined;
  const groupId = idAt(payload, "GroupId");
  if (groupId !== undefined) return "g:" + groupId;
  return GROUPS[kind](payload);
}

function groupKeyKind(command: string): GroupKeyKind {
  return commandSpec(command)?.groupKey ?? (command.startsWith("C2C.") ? "c2c" : "group");
}
