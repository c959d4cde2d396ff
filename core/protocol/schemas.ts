/**
 * The zod schemas of the callback bodies, one per payload shape, by name; `commands.ts` names
 * the shape of each command. Loose objects everywhere: unknown fields are kept, and nothing
 * transforms, so validating never changes what is delivered. Built once at module load.
 * Only the listener's thread loads this module (zod costs the delivery worker heap).
 *
 * @module
 */
import { z } from "zod";
import type { IntLike } from "./payloads.ts";
import { isIntLike, isNumberLike } from "./_ints.ts";

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
export const MSG_CONTENT_SCHEMAS: ReadonlyMap<string, z.ZodType> = new Map<string, z.ZodType>([
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

/**
 * The schema of each payload shape, named after its type in `payloads.ts` (without
 * `Payload`). Several commands may share one shape.
 */
export const SCHEMAS = {
  groupBeforeCreate: z.looseObject({
    ...base,
    GroupId: optStr,
    Type: optStr,
    Operator_Account: optStr,
    Owner_Account: optStr,
    Name: optStr,
    CreatedGroupNum: optInt,
    MemberList: memberList.optional(),
  }),
  groupAfterCreate: z.looseObject({
    ...group,
    Owner_Account: optStr,
    Name: optStr,
    MemberList: memberList.optional(),
    UserDefinedDataList: userDefinedDataList.optional(),
  }),
  groupApplyJoin: z.looseObject({ ...group, Requestor_Account: optStr }),
  groupInviteJoin: z.looseObject({ ...group, DestinationMembers: memberList.optional() }),
  groupNewMemberJoin: z.looseObject({ ...group, JoinType: optStr, NewMemberList: memberList }),
  groupMemberExit: z.looseObject({ ...group, ExitType: optStr, ExitMemberList: memberList }),
  groupBeforeSendMsg: z.looseObject({ ...groupMsg, From_Account: str, MsgBody: msgBody }),
  groupAfterSendMsg: z.looseObject({
    ...groupMsg,
    From_Account: str,
    MsgBody: msgBody,
    MsgSeq: int,
  }),
  groupSendMsgException: z.looseObject({ ...groupMsg, ErrorCode: optInt, ErrorInfo: optStr }),
  groupRecallMsg: z.looseObject({
    ...group,
    MsgSeqList: z.array(z.looseObject({ MsgSeq: optInt })).optional(),
  }),
  group: z.looseObject(group),
  groupDestroyed: z.looseObject({
    ...group,
    Owner_Account: optStr,
    Name: optStr,
    MemberList: memberList.optional(),
  }),
  groupInfoChanged: z.looseObject({
    ...group,
    Name: optStr,
    Introduction: optStr,
    Notification: optStr,
    FaceUrl: optStr,
    UserDefinedDataList: userDefinedDataList.optional(),
  }),
  groupAttrChanged: z.looseObject({
    ...group,
    OptionType: z.enum(["set", "modify", "clear", "delete"]),
    GroupAttr: z.array(z.looseObject({ key: optStr, value: optStr })).optional(),
  }).superRefine((p, ctx) => {
    // "clear" removes every attribute; Tencent may leave the (empty) list out.
    if (p.GroupAttr === undefined && p.OptionType !== "clear") {
      ctx.addIssue({ code: "custom", message: "required", path: ["GroupAttr"], input: undefined });
    }
  }),
  groupMemberStateChange: z.looseObject({
    ...group,
    EventType: optStr,
    MemberList: memberList.optional(),
  }),
  groupMemberFieldChanged: z.looseObject({
    ...group,
    Modified_Account: optStr,
    Role: optStr,
    NameCard: optStr,
    MemberList: memberList.optional(),
  }),
  groupOwnerChanged: z.looseObject({
    ...group,
    OldOwner_Account: optStr,
    NewOwner_Account: optStr,
  }),
  groupReadReceipt: z.looseObject({ ...group, GroupMsgReceiptList: looseList }),
  groupTopic: z.looseObject({
    ...group,
    TopicName: optStr,
    TopicIdList: z.array(z.unknown()).optional(),
  }),
  groupQuotaAlarm: z.looseObject({ ...base, QuotaUsed: optInt, Quota: optInt }),
  stateChange: z.looseObject({
    ...base,
    Info: z.looseObject({ Action: optStr, To_Account: optStr, Reason: optStr }).optional(),
    KickedDevice: z.array(z.looseObject({ Platform: optStr })).optional(),
  }),
  portraitSet: z.looseObject({
    ...base,
    Operator_Account: optStr,
    From_Account: optStr,
    ProfileItem: z.array(z.looseObject({ Tag: optStr })).optional(),
  }),
  sns: z.looseObject({
    ...base,
    PairList: z.array(z.looseObject({ From_Account: optStr, To_Account: optStr })).optional(),
  }),
  c2cBeforeSendMsg: z.looseObject(c2cMsg),
  c2cAfterSendMsg: z.looseObject({
    ...c2cMsg,
    SendMsgResult: optInt,
    ErrorInfo: optStr,
    UnreadMsgNum: optInt,
  }),
  c2cMsgReport: z.looseObject({
    ...base,
    Report_Account: optStr,
    Peer_Account: optStr,
    LastReadTime: optInt,
    UnreadMsgNum: optInt,
  }),
  c2cMsgWithDraw: z.looseObject({
    ...base,
    From_Account: optStr,
    To_Account: optStr,
    MsgKey: optStr,
    UnreadMsgNum: optInt,
  }),
} satisfies Record<string, z.ZodType>;

/** The name of a payload shape of {@linkcode SCHEMAS}. */
export type SchemaName = keyof typeof SCHEMAS;

const ARTICLE: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "a boolean",
  array: "an array",
  object: "an object",
};

/** The value at `path` under `root`, or undefined where the path leaves the JSON. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** What a zod issue found wrong, in words: `expected a string`, `expected one of "a", "b"`. */
export function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${ARTICLE[issue.expected] ?? issue.expected}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message;
  }
}
