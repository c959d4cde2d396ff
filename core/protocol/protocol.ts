/**
 * Tencent Cloud IM third-party callbacks: the known commands, their payload types and
 * schemas, and the keys that deduplicate and order them (see PROTOCOL.md).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";

/** Every command listed in PROTOCOL.md ("Commands" section), in that order. */
export const KNOWN_COMMANDS: readonly string[] = Object.freeze([
  "Group.CallbackBeforeCreateGroup",
  "Group.CallbackAfterCreateGroup",
  "Group.CallbackBeforeApplyJoinGroup",
  "Group.CallbackBeforeInviteJoinGroup",
  "Group.CallbackAfterNewMemberJoin",
  "Group.CallbackAfterMemberExit",
  "Group.CallbackBeforeSendMsg",
  "Group.CallbackAfterSendMsg",
  "Group.CallbackSendMsgException",
  "Group.CallbackAfterRecallMsg",
  "Group.CallbackAfterGroupFull",
  "Group.CallbackAfterGroupDestroyed",
  "Group.CallbackAfterGroupInfoChanged",
  "Group.CallbackAfterGroupAttrChanged",
  "Group.CallbackOnMemberStateChange",
  "Group.CallbackAfterMemberFieldChanged",
  "Group.CallbackAfterChangeGroupOwner",
  "Group.CallbackAfterReadReceipt",
  "Group.CallbackBeforeCreateTopic",
  "Group.CallbackAfterCreateTopic",
  "Group.CallbackAfterTopicDestroyed",
  "Group.CallbackAfterTopicInfoChanged",
  "Group.CallbackOnDailyGroupQuotaAlarm",
  "State.StateChange",
  "Profile.CallbackPortraitSet",
  "Sns.CallbackPrevFriendAdd",
  "Sns.CallbackPrevFriendResponse",
  "Sns.CallbackFriendAdd",
  "Sns.CallbackFriendDelete",
  "Sns.CallbackBlackListAdd",
  "Sns.CallbackBlackListDelete",
  "C2C.CallbackBeforeSendMsg",
  "C2C.CallbackAfterSendMsg",
  "C2C.CallbackAfterMsgReport",
  "C2C.CallbackAfterMsgWithDraw",
]);

const KNOWN = new Set(KNOWN_COMMANDS);

/** Whether `command` is one of {@linkcode KNOWN_COMMANDS}. */
export function isKnownCommand(command: string): boolean {
  return KNOWN.has(command);
}

/** For metric labels: the command if known, else `"other"` (keeps label values bounded). */
export function commandLabel(command: string): string {
  return KNOWN.has(command) ? command : "other";
}

// ---------------------------------------------------------------------------------------------
// Payload types. Integer fields are `number | string`: Tencent sends numeric strings too.

/** An integer as Tencent sends it: a JSON number or a digit string such as `"1670574414123"`. */
export type IntLike = number | string;

/** The parsed JSON body of any callback. */
export type CallbackPayload = Record<string, unknown> & { CallbackCommand: string };

/** Fields every callback body may carry; unknown fields are kept. */
export interface BasePayload {
  CallbackCommand: string;
  /** When the event happened, in ms since the epoch. */
  EventTime?: IntLike;
  [key: string]: unknown;
}

/** One element of `MsgBody`. Unknown `MsgType`s are kept as they came. */
export interface MsgBodyElement {
  /** `TIMTextElem`, `TIMImageElem`, ... or a type Tencent adds later. */
  MsgType: string;
  /** The element's content; its fields depend on `MsgType` (`Text` for `TIMTextElem`). */
  MsgContent?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A member entry of `MemberList`, `NewMemberList`, `ExitMemberList`, `DestinationMembers`. */
export interface GroupMember {
  Member_Account?: string;
  [key: string]: unknown;
}

/** A group custom field of `UserDefinedDataList` (capitalised `Key`/`Value`). */
export interface UserDefinedData {
  Key?: string;
  Value?: string;
  [key: string]: unknown;
}

/** A group attribute of `GroupAttr` (lower-case `key`/`value`). */
export interface GroupAttrEntry {
  key?: string;
  value?: string;
  [key: string]: unknown;
}

/** Fields shared by the commands about an existing group. */
export interface GroupPayload extends BasePayload {
  GroupId: string;
  /** `Private`, `Public`, `ChatRoom`, `AVChatRoom`, `Community`, `Work`, `Meeting`, ... */
  Type?: string;
  Operator_Account?: string;
  TopicId?: string;
}

/** `Group.CallbackBeforeCreateGroup` (no group exists yet). */
export interface GroupBeforeCreatePayload extends BasePayload {
  GroupId?: string;
  Type?: string;
  Operator_Account?: string;
  Owner_Account?: string;
  Name?: string;
  CreatedGroupNum?: IntLike;
  MemberList?: GroupMember[];
}

/** `Group.CallbackAfterCreateGroup`. */
export interface GroupAfterCreatePayload extends GroupPayload {
  Owner_Account?: string;
  Name?: string;
  MemberList?: GroupMember[];
  UserDefinedDataList?: UserDefinedData[];
}

/** `Group.CallbackBeforeApplyJoinGroup`. */
export interface GroupApplyJoinPayload extends GroupPayload {
  Requestor_Account?: string;
}

/** `Group.CallbackBeforeInviteJoinGroup`. */
export interface GroupInviteJoinPayload extends GroupPayload {
  DestinationMembers?: GroupMember[];
}

/** `Group.CallbackAfterNewMemberJoin`. */
export interface GroupNewMemberJoinPayload extends GroupPayload {
  JoinType?: string;
  NewMemberList: GroupMember[];
}

/** `Group.CallbackAfterMemberExit`. */
export interface GroupMemberExitPayload extends GroupPayload {
  /** `Kicked` or `Quit`. */
  ExitType?: string;
  ExitMemberList: GroupMember[];
}

/** `Group.CallbackBeforeSendMsg`. */
export interface GroupBeforeSendMsgPayload extends GroupPayload {
  From_Account: string;
  Random?: IntLike;
  OnlineOnlyFlag?: IntLike;
  MsgBody: MsgBodyElement[];
  CloudCustomData?: string;
}

/** `Group.CallbackAfterSendMsg`. */
export interface GroupAfterSendMsgPayload extends GroupBeforeSendMsgPayload {
  MsgSeq: IntLike;
  MsgTime?: IntLike;
}

/** `Group.CallbackSendMsgException`: a message that failed to send. */
export interface GroupSendMsgExceptionPayload extends GroupPayload {
  From_Account?: string;
  Random?: IntLike;
  OnlineOnlyFlag?: IntLike;
  MsgBody?: MsgBodyElement[];
  CloudCustomData?: string;
  MsgSeq?: IntLike;
  MsgTime?: IntLike;
  ErrorCode?: IntLike;
  ErrorInfo?: string;
}

/** `Group.CallbackAfterRecallMsg`. */
export interface GroupRecallMsgPayload extends GroupPayload {
  MsgSeqList?: Array<{ MsgSeq?: IntLike; [key: string]: unknown }>;
}

/** `Group.CallbackAfterGroupFull`. */
export type GroupFullPayload = GroupPayload;

/** `Group.CallbackAfterGroupDestroyed`. */
export interface GroupDestroyedPayload extends GroupPayload {
  Owner_Account?: string;
  Name?: string;
  MemberList?: GroupMember[];
}

/** `Group.CallbackAfterGroupInfoChanged`: only the changed fields are present. */
export interface GroupInfoChangedPayload extends GroupPayload {
  Name?: string;
  Introduction?: string;
  Notification?: string;
  FaceUrl?: string;
  UserDefinedDataList?: UserDefinedData[];
}

/** `Group.CallbackAfterGroupAttrChanged`. */
export interface GroupAttrChangedPayload extends GroupPayload {
  /** set = replace all, modify = upsert listed, clear = remove all, delete = remove listed. */
  OptionType: "set" | "modify" | "clear" | "delete";
  /** Required except with `OptionType: "clear"`, where Tencent may leave it out. */
  GroupAttr?: GroupAttrEntry[];
}

/** `Group.CallbackOnMemberStateChange`. */
export interface GroupMemberStateChangePayload extends GroupPayload {
  /** `Online` or `Offline`. */
  EventType?: string;
  MemberList?: GroupMember[];
}

/** `Group.CallbackAfterMemberFieldChanged`. */
export interface GroupMemberFieldChangedPayload extends GroupPayload {
  Modified_Account?: string;
  Role?: string;
  NameCard?: string;
  MemberList?: GroupMember[];
}

/** `Group.CallbackAfterChangeGroupOwner`. */
export interface GroupOwnerChangedPayload extends GroupPayload {
  OldOwner_Account?: string;
  NewOwner_Account?: string;
}

/** `Group.CallbackAfterReadReceipt`. */
export interface GroupReadReceiptPayload extends GroupPayload {
  GroupMsgReceiptList?: Array<Record<string, unknown>>;
}

/** The topic commands of Community groups. */
export interface GroupTopicPayload extends GroupPayload {
  TopicName?: string;
  TopicIdList?: unknown[];
}

/** `Group.CallbackOnDailyGroupQuotaAlarm`. */
export interface GroupQuotaAlarmPayload extends BasePayload {
  QuotaUsed?: IntLike;
  Quota?: IntLike;
}

/** `State.StateChange`. */
export interface StateChangePayload extends BasePayload {
  Info?: {
    /** `Login`, `Logout` or `Disconnect`. */
    Action?: string;
    To_Account?: string;
    Reason?: string;
    [key: string]: unknown;
  };
  KickedDevice?: Array<{ Platform?: string; [key: string]: unknown }>;
}

/** `Profile.CallbackPortraitSet`. */
export interface PortraitSetPayload extends BasePayload {
  Operator_Account?: string;
  From_Account?: string;
  ProfileItem?: Array<{ Tag?: string; Value?: unknown; [key: string]: unknown }>;
}

/** A pair of `PairList` in the `Sns.*` commands. */
export interface SnsPair {
  From_Account?: string;
  To_Account?: string;
  [key: string]: unknown;
}

/** The relationship-chain commands `Sns.*`. */
export interface SnsPayload extends BasePayload {
  PairList?: SnsPair[];
}

/** `C2C.CallbackBeforeSendMsg`. */
export interface C2CBeforeSendMsgPayload extends BasePayload {
  From_Account?: string;
  To_Account?: string;
  MsgSeq?: IntLike;
  MsgRandom?: IntLike;
  /** Seconds since the epoch. */
  MsgTime?: IntLike;
  MsgKey: string;
  OnlineOnlyFlag?: IntLike;
  MsgBody?: MsgBodyElement[];
  CloudCustomData?: string;
}

/** `C2C.CallbackAfterSendMsg`. */
export interface C2CAfterSendMsgPayload extends C2CBeforeSendMsgPayload {
  SendMsgResult?: IntLike;
  ErrorInfo?: string;
  UnreadMsgNum?: IntLike;
}

/** `C2C.CallbackAfterMsgReport` (a read report). */
export interface C2CMsgReportPayload extends BasePayload {
  Report_Account?: string;
  Peer_Account?: string;
  LastReadTime?: IntLike;
  UnreadMsgNum?: IntLike;
}

/** `C2C.CallbackAfterMsgWithDraw` (a recalled one-to-one message). */
export interface C2CMsgWithDrawPayload extends BasePayload {
  From_Account?: string;
  To_Account?: string;
  MsgKey?: string;
  UnreadMsgNum?: IntLike;
}

/** The payload type of each known command. */
export interface CommandPayloads {
  "Group.CallbackBeforeCreateGroup": GroupBeforeCreatePayload;
  "Group.CallbackAfterCreateGroup": GroupAfterCreatePayload;
  "Group.CallbackBeforeApplyJoinGroup": GroupApplyJoinPayload;
  "Group.CallbackBeforeInviteJoinGroup": GroupInviteJoinPayload;
  "Group.CallbackAfterNewMemberJoin": GroupNewMemberJoinPayload;
  "Group.CallbackAfterMemberExit": GroupMemberExitPayload;
  "Group.CallbackBeforeSendMsg": GroupBeforeSendMsgPayload;
  "Group.CallbackAfterSendMsg": GroupAfterSendMsgPayload;
  "Group.CallbackSendMsgException": GroupSendMsgExceptionPayload;
  "Group.CallbackAfterRecallMsg": GroupRecallMsgPayload;
  "Group.CallbackAfterGroupFull": GroupFullPayload;
  "Group.CallbackAfterGroupDestroyed": GroupDestroyedPayload;
  "Group.CallbackAfterGroupInfoChanged": GroupInfoChangedPayload;
  "Group.CallbackAfterGroupAttrChanged": GroupAttrChangedPayload;
  "Group.CallbackOnMemberStateChange": GroupMemberStateChangePayload;
  "Group.CallbackAfterMemberFieldChanged": GroupMemberFieldChangedPayload;
  "Group.CallbackAfterChangeGroupOwner": GroupOwnerChangedPayload;
  "Group.CallbackAfterReadReceipt": GroupReadReceiptPayload;
  "Group.CallbackBeforeCreateTopic": GroupTopicPayload;
  "Group.CallbackAfterCreateTopic": GroupTopicPayload;
  "Group.CallbackAfterTopicDestroyed": GroupTopicPayload;
  "Group.CallbackAfterTopicInfoChanged": GroupTopicPayload;
  "Group.CallbackOnDailyGroupQuotaAlarm": GroupQuotaAlarmPayload;
  "State.StateChange": StateChangePayload;
  "Profile.CallbackPortraitSet": PortraitSetPayload;
  "Sns.CallbackPrevFriendAdd": SnsPayload;
  "Sns.CallbackPrevFriendResponse": SnsPayload;
  "Sns.CallbackFriendAdd": SnsPayload;
  "Sns.CallbackFriendDelete": SnsPayload;
  "Sns.CallbackBlackListAdd": SnsPayload;
  "Sns.CallbackBlackListDelete": SnsPayload;
  "C2C.CallbackBeforeSendMsg": C2CBeforeSendMsgPayload;
  "C2C.CallbackAfterSendMsg": C2CAfterSendMsgPayload;
  "C2C.CallbackAfterMsgReport": C2CMsgReportPayload;
  "C2C.CallbackAfterMsgWithDraw": C2CMsgWithDrawPayload;
}

// ---------------------------------------------------------------------------------------------
// Schemas, built once at module load. Loose objects everywhere: unknown fields are kept, and
// nothing transforms, so validating never changes what is delivered.

const DIGITS = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

function isIntLike(v: unknown): boolean {
  return typeof v === "number" ? Number.isInteger(v) : typeof v === "string" && DIGITS.test(v);
}

function isNumberLike(v: unknown): boolean {
  return typeof v === "number" ? Number.isFinite(v) : typeof v === "string" && DECIMAL.test(v);
}

const int = z.custom<IntLike>(isIntLike, { message: "expected an integer or a digit string" });
const num = z.custom<IntLike>(isNumberLike, { message: "expected a number or a numeric string" });
const str = z.string();
const optStr = str.optional();
const optInt = int.optional();
const looseList = z.array(z.looseObject({})).optional();

const member = z.looseObject({ Member_Account: optStr });
const memberList = z.array(member);
const userDefinedDataList = z.array(z.looseObject({ Key: optStr, Value: optStr }));

/** Known fields of known MsgTypes, checked loosely (all optional). */
const MSG_CONTENT_SCHEMAS: ReadonlyMap<string, z.ZodType> = new Map<string, z.ZodType>([
  ["TIMTextElem", z.looseObject({ Text: optStr })],
  [
    "TIMLocationElem",
    z.looseObject({ Desc: optStr, Latitude: num.optional(), Longitude: num.optional() }),
  ],
  ["TIMFaceElem", z.looseObject({ Index: optInt, Data: optStr })],
  ["TIMCustomElem", z.looseObject({ Data: optStr, Desc: optStr, Ext: optStr, Sound: optStr })],
  [
    "TIMSoundElem",
    z.looseObject({
      Url: optStr,
      UUID: optStr,
      Size: optInt,
      Second: optInt,
      Download_Flag: optInt,
    }),
  ],
  [
    "TIMImageElem",
    z.looseObject({
      UUID: optStr,
      ImageFormat: optInt,
      ImageInfoArray: z.array(z.looseObject({
        Type: optInt,
        Size: optInt,
        Width: optInt,
        Height: optInt,
        URL: optStr,
      })).optional(),
    }),
  ],
  [
    "TIMFileElem",
    z.looseObject({
      Url: optStr,
      UUID: optStr,
      FileSize: optInt,
      FileName: optStr,
      Download_Flag: optInt,
    }),
  ],
  [
    "TIMVideoFileElem",
    z.looseObject({
      VideoUrl: optStr,
      VideoUUID: optStr,
      VideoSize: optInt,
      VideoSecond: optInt,
      VideoFormat: optStr,
      VideoDownloadFlag: optInt,
      ThumbUrl: optStr,
      ThumbUUID: optStr,
      ThumbSize: optInt,
      ThumbWidth: optInt,
      ThumbHeight: optInt,
      ThumbFormat: optStr,
      ThumbDownloadFlag: optInt,
    }),
  ],
  [
    "TIMRelayElem",
    z.looseObject({
      Title: optStr,
      MsgNum: optInt,
      CompatibleText: optStr,
      AbstractList: z.array(z.unknown()).optional(),
      MsgList: z.array(z.unknown()).optional(),
      JsonMsgKey: optStr,
    }),
  ],
]);

const msgBodyElement = z.looseObject({ MsgType: str, MsgContent: z.looseObject({}).optional() })
  .superRefine((el, ctx) => {
    const content = MSG_CONTENT_SCHEMAS.get(el.MsgType);
    if (content === undefined || el.MsgContent === undefined) return;
    const result = content.safeParse(el.MsgContent);
    if (result.success) return;
    for (const issue of result.error.issues) {
      ctx.addIssue({
        code: "custom",
        message: issueMessage(issue),
        path: ["MsgContent", ...issue.path],
        input: valueAt(el.MsgContent, issue.path),
      });
    }
  });
const msgBody = z.array(msgBodyElement);

const base = { CallbackCommand: optStr, EventTime: optInt };
const group = { ...base, GroupId: str, Type: optStr, Operator_Account: optStr, TopicId: optStr };
const groupMsg = {
  ...group,
  From_Account: optStr,
  Random: optInt,
  OnlineOnlyFlag: optInt,
  MsgBody: msgBody.optional(),
  CloudCustomData: optStr,
  MsgSeq: optInt,
  MsgTime: optInt,
};
const c2cMsg = {
  ...base,
  From_Account: optStr,
  To_Account: optStr,
  MsgSeq: optInt,
  MsgRandom: optInt,
  MsgTime: optInt,
  MsgKey: str,
  OnlineOnlyFlag: optInt,
  MsgBody: msgBody.optional(),
  CloudCustomData: optStr,
};
const topic = { ...group, TopicName: optStr, TopicIdList: z.array(z.unknown()).optional() };
const sns = z.looseObject({
  ...base,
  PairList: z.array(z.looseObject({ From_Account: optStr, To_Account: optStr })).optional(),
});

const groupAttrChanged = z.looseObject({
  ...group,
  OptionType: z.enum(["set", "modify", "clear", "delete"]),
  GroupAttr: z.array(z.looseObject({ key: optStr, value: optStr })).optional(),
}).superRefine((p, ctx) => {
  // "clear" removes every attribute; Tencent may leave the (empty) list out.
  if (p.GroupAttr === undefined && p.OptionType !== "clear") {
    ctx.addIssue({ code: "custom", message: "required", path: ["GroupAttr"], input: undefined });
  }
});

const SCHEMAS: ReadonlyMap<string, z.ZodType> = new Map<string, z.ZodType>([
  [
    "Group.CallbackBeforeCreateGroup",
    z.looseObject({
      ...base,
      GroupId: optStr,
      Type: optStr,
      Operator_Account: optStr,
      Owner_Account: optStr,
      Name: optStr,
      CreatedGroupNum: optInt,
      MemberList: memberList.optional(),
    }),
  ],
  [
    "Group.CallbackAfterCreateGroup",
    z.looseObject({
      ...group,
      Owner_Account: optStr,
      Name: optStr,
      MemberList: memberList.optional(),
      UserDefinedDataList: userDefinedDataList.optional(),
    }),
  ],
  ["Group.CallbackBeforeApplyJoinGroup", z.looseObject({ ...group, Requestor_Account: optStr })],
  [
    "Group.CallbackBeforeInviteJoinGroup",
    z.looseObject({ ...group, DestinationMembers: memberList.optional() }),
  ],
  [
    "Group.CallbackAfterNewMemberJoin",
    z.looseObject({ ...group, JoinType: optStr, NewMemberList: memberList }),
  ],
  [
    "Group.CallbackAfterMemberExit",
    z.looseObject({ ...group, ExitType: optStr, ExitMemberList: memberList }),
  ],
  [
    "Group.CallbackBeforeSendMsg",
    z.looseObject({ ...groupMsg, From_Account: str, MsgBody: msgBody }),
  ],
  [
    "Group.CallbackAfterSendMsg",
    z.looseObject({ ...groupMsg, From_Account: str, MsgBody: msgBody, MsgSeq: int }),
  ],
  [
    "Group.CallbackSendMsgException",
    z.looseObject({ ...groupMsg, ErrorCode: optInt, ErrorInfo: optStr }),
  ],
  [
    "Group.CallbackAfterRecallMsg",
    z.looseObject({
      ...group,
      MsgSeqList: z.array(z.looseObject({ MsgSeq: optInt })).optional(),
    }),
  ],
  ["Group.CallbackAfterGroupFull", z.looseObject(group)],
  [
    "Group.CallbackAfterGroupDestroyed",
    z.looseObject({
      ...group,
      Owner_Account: optStr,
      Name: optStr,
      MemberList: memberList.optional(),
    }),
  ],
  [
    "Group.CallbackAfterGroupInfoChanged",
    z.looseObject({
      ...group,
      Name: optStr,
      Introduction: optStr,
      Notification: optStr,
      FaceUrl: optStr,
      UserDefinedDataList: userDefinedDataList.optional(),
    }),
  ],
  ["Group.CallbackAfterGroupAttrChanged", groupAttrChanged],
  [
    "Group.CallbackOnMemberStateChange",
    z.looseObject({ ...group, EventType: optStr, MemberList: memberList.optional() }),
  ],
  [
    "Group.CallbackAfterMemberFieldChanged",
    z.looseObject({
      ...group,
      Modified_Account: optStr,
      Role: optStr,
      NameCard: optStr,
      MemberList: memberList.optional(),
    }),
  ],
  [
    "Group.CallbackAfterChangeGroupOwner",
    z.looseObject({ ...group, OldOwner_Account: optStr, NewOwner_Account: optStr }),
  ],
  ["Group.CallbackAfterReadReceipt", z.looseObject({ ...group, GroupMsgReceiptList: looseList })],
  ["Group.CallbackBeforeCreateTopic", z.looseObject(topic)],
  ["Group.CallbackAfterCreateTopic", z.looseObject(topic)],
  ["Group.CallbackAfterTopicDestroyed", z.looseObject(topic)],
  ["Group.CallbackAfterTopicInfoChanged", z.looseObject(topic)],
  [
    "Group.CallbackOnDailyGroupQuotaAlarm",
    z.looseObject({ ...base, QuotaUsed: optInt, Quota: optInt }),
  ],
  [
    "State.StateChange",
    z.looseObject({
      ...base,
      Info: z.looseObject({ Action: optStr, To_Account: optStr, Reason: optStr }).optional(),
      KickedDevice: z.array(z.looseObject({ Platform: optStr })).optional(),
    }),
  ],
  [
    "Profile.CallbackPortraitSet",
    z.looseObject({
      ...base,
      Operator_Account: optStr,
      From_Account: optStr,
      ProfileItem: z.array(z.looseObject({ Tag: optStr })).optional(),
    }),
  ],
  ["Sns.CallbackPrevFriendAdd", sns],
  ["Sns.CallbackPrevFriendResponse", sns],
  ["Sns.CallbackFriendAdd", sns],
  ["Sns.CallbackFriendDelete", sns],
  ["Sns.CallbackBlackListAdd", sns],
  ["Sns.CallbackBlackListDelete", sns],
  ["C2C.CallbackBeforeSendMsg", z.looseObject(c2cMsg)],
  [
    "C2C.CallbackAfterSendMsg",
    z.looseObject({ ...c2cMsg, SendMsgResult: optInt, ErrorInfo: optStr, UnreadMsgNum: optInt }),
  ],
  [
    "C2C.CallbackAfterMsgReport",
    z.looseObject({
      ...base,
      Report_Account: optStr,
      Peer_Account: optStr,
      LastReadTime: optInt,
      UnreadMsgNum: optInt,
    }),
  ],
  [
    "C2C.CallbackAfterMsgWithDraw",
    z.looseObject({
      ...base,
      From_Account: optStr,
      To_Account: optStr,
      MsgKey: optStr,
      UnreadMsgNum: optInt,
    }),
  ],
]);

const ARTICLE: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "a boolean",
  array: "an array",
  object: "an object",
};

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(body)" : out;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${ARTICLE[issue.expected] ?? issue.expected}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message;
  }
}

/** The fields of a message command, by the type its schema gives them. */
interface MessageFields {
  strings: readonly string[];
  optionalStrings: readonly string[];
  ints: readonly string[];
  optionalInts: readonly string[];
  msgBodyRequired: boolean;
}

/**
 * The message commands that make most of the traffic, restated from their schemas above for
 * {@linkcode isPlainMessage}. Keep both in step: the protocol tests compare them.
 */
const MESSAGE_FIELDS: ReadonlyMap<string, MessageFields> = new Map([
  ["Group.CallbackAfterSendMsg", {
    strings: ["GroupId", "From_Account"],
    optionalStrings: ["CallbackCommand", "Type", "Operator_Account", "TopicId", "CloudCustomData"],
    ints: ["MsgSeq"],
    optionalInts: ["EventTime", "Random", "OnlineOnlyFlag", "MsgTime"],
    msgBodyRequired: true,
  }],
  ["C2C.CallbackAfterSendMsg", {
    strings: ["MsgKey"],
    optionalStrings: [
      "CallbackCommand",
      "From_Account",
      "To_Account",
      "CloudCustomData",
      "ErrorInfo",
    ],
    ints: [],
    optionalInts: [
      "EventTime",
      "MsgSeq",
      "MsgRandom",
      "MsgTime",
      "OnlineOnlyFlag",
      "SendMsgResult",
      "UnreadMsgNum",
    ],
    msgBodyRequired: false,
  }],
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A quick check that says only "certainly valid": true where the zod schema would accept,
 * false where zod must decide (and name what is wrong). Text messages only; any other known
 * `MsgType` with content goes to zod. About 20 times cheaper than zod on the hot path.
 */
function isPlainMessage(fields: MessageFields, payload: Record<string, unknown>): boolean {
  for (const name of fields.strings) if (typeof payload[name] !== "string") return false;
  for (const name of fields.optionalStrings) {
    const v = payload[name];
    if (v !== undefined && typeof v !== "string") return false;
  }
  for (const name of fields.ints) if (!isIntLike(payload[name])) return false;
  for (const name of fields.optionalInts) {
    const v = payload[name];
    if (v !== undefined && !isIntLike(v)) return false;
  }
  const body = payload.MsgBody;
  if (body === undefined) return !fields.msgBodyRequired;
  if (!Array.isArray(body)) return false;
  for (const element of body) {
    if (!isObject(element) || typeof element.MsgType !== "string") return false;
    const content = element.MsgContent;
    if (content === undefined) continue;
    if (!isObject(content)) return false;
    if (element.MsgType === "TIMTextElem") {
      if (content.Text !== undefined && typeof content.Text !== "string") return false;
    } else if (MSG_CONTENT_SCHEMAS.has(element.MsgType)) {
      return false;
    }
  }
  return true;
}

/** Options of {@linkcode validatePayload}. */
export interface ValidateOptions {
  /** Accept plain text messages without zod (same decisions, faster). Default true. */
  quick?: boolean;
}

/**
 * Validates a parsed JSON object against its command's schema. Unknown commands are always ok.
 * Never mutates or coerces the payload. The error names each failing field path and what was
 * wrong, e.g. `MsgBody[0].MsgType: expected a string` or `GroupId: required`.
 */
export function validatePayload(
  command: string,
  payload: Record<string, unknown>,
  options: ValidateOptions = {},
): { ok: true } | { ok: false; error: string } {
  const schema = SCHEMAS.get(command);
  if (schema === undefined) return { ok: true };
  const fields = options.quick === false ? undefined : MESSAGE_FIELDS.get(command);
  if (fields !== undefined && isPlainMessage(fields, payload)) return { ok: true };
  const result = schema.safeParse(payload);
  if (result.success) return { ok: true };
  const parts = result.error.issues.map((issue) => {
    const missing = valueAt(payload, issue.path) === undefined;
    return `${formatPath(issue.path)}: ${missing ? "required" : issueMessage(issue)}`;
  });
  return { ok: false, error: parts.join("; ") };
}

// ---------------------------------------------------------------------------------------------
// Keys.

const GROUP_MESSAGE_COMMANDS = new Set([
  "Group.CallbackBeforeSendMsg",
  "Group.CallbackAfterSendMsg",
  "Group.CallbackSendMsgException",
]);
const C2C_MESSAGE_COMMANDS = new Set([
  "C2C.CallbackBeforeSendMsg",
  "C2C.CallbackAfterSendMsg",
  "C2C.CallbackAfterMsgWithDraw",
]);

/** `123`, `"123"` and `"0123"` all give `"123"`; anything else gives undefined. */
function canonicalInt(v: unknown): string | undefined {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v).toString() : undefined;
  if (typeof v === "string" && DIGITS.test(v)) return BigInt(v).toString();
  return undefined;
}

/**
 * The natural dedup key of a callback (PROTOCOL.md), without `SdkAppid` and command (the
 * journal prefixes those): for group messages the JSON array `[GroupId, TopicId or "", MsgSeq]`,
 * for C2C messages `[MsgKey]`, otherwise `"sha256:"` + the hex SHA-256 of `rawBody` (also when
 * the natural fields are missing or malformed). Numbers and digit strings give the same key.
 */
export function naturalKey(
  command: string,
  payload: Record<string, unknown>,
  rawBody: string,
): string {
  if (GROUP_MESSAGE_COMMANDS.has(command)) {
    const { GroupId, TopicId } = payload;
    const seq = canonicalInt(payload.MsgSeq);
    if (
      typeof GroupId === "string" && GroupId !== "" && seq !== undefined &&
      (TopicId === undefined || typeof TopicId === "string")
    ) {
      return JSON.stringify([GroupId, TopicId ?? "", seq]);
    }
  } else if (C2C_MESSAGE_COMMANDS.has(command)) {
    const { MsgKey } = payload;
    if (typeof MsgKey === "string" && MsgKey !== "") return JSON.stringify([MsgKey]);
  }
  return "sha256:" + createHash("sha256").update(rawBody, "utf8").digest("hex");
}

/**
 * The ordering group of a callback: `"g:" + GroupId` when `GroupId` is a non-empty string;
 * for `C2C.*` commands with both `From_Account` and `To_Account`, `"c2c:"` + the JSON of the
 * sorted pair (the same both ways); otherwise undefined (no ordering constraint).
 */
export function groupKey(command: string, payload: Record<string, unknown>): string | undefined {
  const { GroupId } = payload;
  if (typeof GroupId === "string" && GroupId !== "") return "g:" + GroupId;
  if (command.startsWith("C2C.")) {
    const { From_Account: from, To_Account: to } = payload;
    if (typeof from === "string" && from !== "" && typeof to === "string" && to !== "") {
      return "c2c:" + JSON.stringify(from < to ? [from, to] : [to, from]);
    }
  }
  return undefined;
}
