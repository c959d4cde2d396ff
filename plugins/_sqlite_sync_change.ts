/**
 * Turns a callback handled by `builtin:sqlite_sync` or `builtin:postgres_sync` into a
 * {@linkcode GroupChange}: the plain data their stores apply. Private to `plugins/`.
 *
 * @module
 */
import type { CallbackEvent } from "../plugin.ts";

/** The `groups` columns a callback may set. */
export type GroupField =
  | "type"
  | "name"
  | "introduction"
  | "notification"
  | "face_url"
  | "owner_account";

/** The `group_messages` columns taken from a `Group.CallbackAfterSendMsg`. */
export interface MessageRow {
  topicId: string;
  msgSeq: number;
  fromAccount: string | null;
  operatorAccount: string | null;
  random: number | null;
  msgTime: number | null;
  onlineOnlyFlag: number | null;
  msgBody: string;
  text: string;
  cloudCustomData: string | null;
}

/** What one callback changes in one group. Absent parts change nothing. */
export interface GroupChange {
  sdkAppId: string;
  groupId: string;
  /** `EventTime` (else the receive time) in ms. */
  eventTimeMs: number;
  /** Sortable (`EventTime`, journal id) text; see `_sqlite_sync_schema.ts`. */
  version: string;
  /** The callback's journal id, which orders changes of the same `EventTime`. */
  journalId: number;
  /** Touches the `groups` row: sets the listed fields, and `destroyed` when true. */
  info?: { fields: Partial<Record<GroupField, string>>; destroyed: boolean };
  /** `UserDefinedDataList` entries, as [key, value]. */
  customFields?: Array<[string, string]>;
  /** `GroupAttr` change; `entries` values are ignored for `delete`. */
  attrs?: { option: AttrOption; entries: Array<[string, string]> };
  /** Members who joined (`joined: true`) or left. */
  members?: { joined: boolean; accounts: string[] };
  message?: MessageRow;
  recall?: { topicId: string; msgSeqs: number[] };
}

/** `OptionType` of `Group.CallbackAfterGroupAttrChanged`. */
export type AttrOption = "set" | "modify" | "clear" | "delete";

/** The commands `builtin:sqlite_sync` applies; every other command is ignored. */
export const HANDLED_COMMANDS: ReadonlySet<string> = new Set([
  "Group.CallbackAfterCreateGroup",
  "Group.CallbackAfterGroupInfoChanged",
  "Group.CallbackAfterGroupAttrChanged",
  "Group.CallbackAfterNewMemberJoin",
  "Group.CallbackAfterMemberExit",
  "Group.CallbackAfterChangeGroupOwner",
  "Group.CallbackAfterGroupDestroyed",
  "Group.CallbackAfterSendMsg",
  "Group.CallbackAfterRecallMsg",
]);

/** A callback whose payload cannot be applied; retrying cannot help, so it is permanent. */
export class ChangeError extends TypeError {
  /** Tells the delivery engine to dead-letter the callback at once. */
  readonly permanent = true;
  constructor(message: string) {
    super(message);
    this.name = "ChangeError";
  }
}

/**
 * What a sync plugin's `handle` applies for `event`: {@linkcode parseChange}, after the checks
 * both sync plugins make first. Throws when `plugin` is closed, `signal` has aborted (its
 * reason), or the payload lacks a field the change needs.
 */
export function changeToApply(
  plugin: string,
  closed: boolean,
  event: CallbackEvent,
  signal: AbortSignal,
): GroupChange | undefined {
  if (closed) throw new TypeError(`Cannot handle callback "${event.id}": ${plugin} is closed`);
  signal.throwIfAborted();
  return parseChange(event);
}

/**
 * Reads what `event` changes, or `undefined` for a command this plugin ignores.
 * Throws {@linkcode ChangeError} when a field it needs is missing or has the wrong type.
 */
export function parseChange(event: CallbackEvent): GroupChange | undefined {
  if (!HANDLED_COMMANDS.has(event.command)) return undefined;
  const reader = new PayloadReader(event);
  const eventTimeMs = reader.eventTime();
  const change: GroupChange = {
    sdkAppId: event.sdkAppId,
    groupId: reader.requiredString("GroupId"),
    eventTimeMs,
    version: versionOf(eventTimeMs, event.id),
    journalId: Number(event.id),
  };
  switch (event.command) {
    case "Group.CallbackAfterCreateGroup":
      change.info = {
        fields: reader.fields({
          type: "Type",
          name: "Name",
          introduction: "Introduction",
          notification: "Notification",
          face_url: "FaceUrl",
          owner_account: "Owner_Account",
        }),
        destroyed: false,
      };
      change.customFields = reader.keyValues("UserDefinedDataList", "Key", "Value");
      change.members = { joined: true, accounts: reader.accounts("MemberList") };
      break;
    case "Group.CallbackAfterGroupInfoChanged":
      change.info = {
        fields: reader.fields({
          type: "Type",
          name: "Name",
          introduction: "Introduction",
          notification: "Notification",
          face_url: "FaceUrl",
        }),
        destroyed: false,
      };
      change.customFields = reader.keyValues("UserDefinedDataList", "Key", "Value");
      break;
    case "Group.CallbackAfterGroupAttrChanged":
      change.attrs = {
        option: reader.attrOption(),
        entries: reader.keyValues("GroupAttr", "key", "value"),
      };
      break;
    case "Group.CallbackAfterNewMemberJoin":
      change.members = { joined: true, accounts: reader.accounts("NewMemberList") };
      break;
    case "Group.CallbackAfterMemberExit":
      change.members = { joined: false, accounts: reader.accounts("ExitMemberList") };
      break;
    case "Group.CallbackAfterChangeGroupOwner":
      change.info = {
        fields: reader.fields({ type: "Type", owner_account: "NewOwner_Account" }),
        destroyed: false,
      };
      break;
    case "Group.CallbackAfterGroupDestroyed":
      // The member list names who was in the group when it ended: history, not a change.
      change.info = {
        fields: reader.fields({ type: "Type", name: "Name", owner_account: "Owner_Account" }),
        destroyed: true,
      };
      break;
    case "Group.CallbackAfterSendMsg":
      change.message = reader.message();
      break;
    case "Group.CallbackAfterRecallMsg":
      change.recall = { topicId: reader.topicId(), msgSeqs: reader.msgSeqList() };
      break;
  }
  return change;
}

/** Width of the zero-padded numbers in a version: enough for any safe integer. */
const VERSION_DIGITS = 16;

function versionOf(eventTimeMs: number, id: string): string {
  if (!/^\d{1,16}$/.test(id)) {
    throw new ChangeError(`Cannot apply callback "${id}": its journal id is not a decimal number`);
  }
  return `${String(eventTimeMs).padStart(VERSION_DIGITS, "0")}.${id.padStart(VERSION_DIGITS, "0")}`;
}

/** The `EventTime` (ms) a version was made from. */
export function versionTime(version: string): number {
  return Number(version.slice(0, VERSION_DIGITS));
}

/** Reads payload fields, naming the callback and the field in its errors. */
class PayloadReader {
  #event: CallbackEvent;
  #payload: Record<string, unknown>;

  constructor(event: CallbackEvent) {
    this.#event = event;
    this.#payload = event.payload;
  }

  #fail(path: string, expected: string, value: unknown): never {
    throw new ChangeError(
      `Cannot apply ${this.#event.command} "${this.#event.id}": ${path}: expected ${expected}, got ${
        describe(value)
      }`,
    );
  }

  /** `EventTime` in ms; the receive time when absent or not a usable number. */
  eventTime(): number {
    const value = toInteger(this.#payload.EventTime);
    return value !== undefined && value >= 0 ? value : Math.trunc(this.#event.receivedAt);
  }

  requiredString(key: string): string {
    const value = this.#payload[key];
    if (typeof value !== "string" || value === "") this.#fail(key, "a non-empty string", value);
    return value;
  }

  /** The string fields present (an empty string is a value; absent or null is no change). */
  fields(map: Partial<Record<GroupField, string>>): Partial<Record<GroupField, string>> {
    const fields: Partial<Record<GroupField, string>> = {};
    for (const [column, key] of Object.entries(map) as Array<[GroupField, string]>) {
      const value = this.#payload[key];
      if (value === undefined || value === null) continue;
      if (typeof value !== "string") this.#fail(key, "a string", value);
      fields[column] = value;
    }
    return fields;
  }

  /** A list of objects with a key and a value; values that are not strings are kept as JSON. */
  keyValues(listKey: string, keyKey: string, valueKey: string): Array<[string, string]> {
    const list = this.#list(listKey);
    return list.map((item, i) => {
      const path = `${listKey}[${i}]`;
      if (!isRecord(item)) this.#fail(path, "an object", item);
      const key = item[keyKey];
      if (typeof key !== "string") this.#fail(`${path}.${keyKey}`, "a string", key);
      const value = item[valueKey];
      return [key, typeof value === "string" ? value : JSON.stringify(value ?? "")];
    });
  }

  /** `Member_Account` of each entry of a member list (absent list: nobody). */
  accounts(listKey: string): string[] {
    return this.#list(listKey).map((item, i) => {
      const path = `${listKey}[${i}]`;
      if (!isRecord(item)) this.#fail(path, "an object", item);
      const account = item.Member_Account;
      if (typeof account !== "string" || account === "") {
        this.#fail(`${path}.Member_Account`, "a non-empty string", account);
      }
      return account;
    });
  }

  attrOption(): AttrOption {
    const value = this.#payload.OptionType;
    if (value === "set" || value === "modify" || value === "clear" || value === "delete") {
      return value;
    }
    return this.#fail("OptionType", "one of set, modify, clear, delete", value);
  }

  topicId(): string {
    const value = this.#payload.TopicId;
    if (value === undefined || value === null) return "";
    if (typeof value !== "string") this.#fail("TopicId", "a string", value);
    return value;
  }

  msgSeqList(): number[] {
    return this.#list("MsgSeqList").map((item, i) => {
      const path = `MsgSeqList[${i}]`;
      if (!isRecord(item)) this.#fail(path, "an object", item);
      return this.#integer(item.MsgSeq, `${path}.MsgSeq`);
    });
  }

  message(): MessageRow {
    const body = this.#payload.MsgBody;
    if (!Array.isArray(body)) this.#fail("MsgBody", "a list of message elements", body);
    return {
      topicId: this.topicId(),
      msgSeq: this.#integer(this.#payload.MsgSeq, "MsgSeq"),
      fromAccount: this.#optionalString("From_Account"),
      operatorAccount: this.#optionalString("Operator_Account"),
      random: this.#optionalInteger("Random"),
      msgTime: this.#optionalInteger("MsgTime"),
      onlineOnlyFlag: this.#optionalInteger("OnlineOnlyFlag"),
      msgBody: JSON.stringify(body),
      text: textOf(body),
      cloudCustomData: this.#optionalString("CloudCustomData"),
    };
  }

  #list(key: string): unknown[] {
    const value = this.#payload[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.#fail(key, "a list", value);
    return value;
  }

  #integer(value: unknown, path: string): number {
    const integer = toInteger(value);
    if (integer === undefined) this.#fail(path, "an integer or a digit string", value);
    return integer;
  }

  #optionalInteger(key: string): number | null {
    const value = this.#payload[key];
    if (value === undefined || value === null) return null;
    return this.#integer(value, key);
  }

  #optionalString(key: string): string | null {
    const value = this.#payload[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== "string") this.#fail(key, "a string", value);
    return value;
  }
}

/**
 * The text of a message: the `Text` of its `TIMTextElem` elements, joined with "" (the
 * elements of one message are parts of one text, so no separator is added).
 */
function textOf(body: unknown[]): string {
  let text = "";
  for (const element of body) {
    if (!isRecord(element) || element.MsgType !== "TIMTextElem") continue;
    const content = element.MsgContent;
    if (isRecord(content) && typeof content.Text === "string") text += content.Text;
  }
  return text;
}

/** A safe integer from a number or a digit string. */
function toInteger(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === "string" && /^-?\d{1,16}$/.test(value)) {
    const integer = Number(value);
    return Number.isSafeInteger(integer) ? integer : undefined;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  return JSON.stringify(value) ?? String(value);
}
