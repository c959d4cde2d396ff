/**
 * The schemas of the group commands, named after their payload types (`payloads_group.ts`)
 * without `Payload`.
 *
 * @module
 */
import { z } from "zod";
import {
  base,
  extensionList,
  int,
  list,
  memberList,
  msgBody,
  optInt,
  optStr,
  str,
  stringList,
  userDefinedDataList,
} from "./_schema_parts.ts";

const group = { ...base, GroupId: str, Type: optStr, Operator_Account: optStr, TopicId: optStr };
const groupAtInfo = list(z.looseObject({ GroupAtAllFlag: optInt, GroupAt_Account: optStr }));
const groupMsg = {
  ...group,
  From_Account: str,
  Random: optInt,
  MsgId: optStr,
  OnlineOnlyFlag: optInt,
  MsgBody: msgBody,
  CloudCustomData: optStr,
  GroupAtInfo: groupAtInfo.optional(),
  MsgSeq: optInt,
  MsgTime: optInt,
};

/** The group schemas, by name. */
export const GROUP_SCHEMAS = {
  groupBeforeCreate: z.looseObject({
    ...base,
    GroupId: optStr,
    Operator_Account: str,
    Owner_Account: str,
    Type: str,
    Name: optStr,
    CreateGroupNum: optInt,
    MemberList: memberList.optional(),
  }),
  groupAfterCreate: z.looseObject({
    ...group,
    Owner_Account: optStr,
    Name: optStr,
    MemberList: memberList.optional(),
    UserDefinedDataList: userDefinedDataList.optional(),
  }),
  groupApplyJoin: z.looseObject({ ...group, Requestor_Account: str }),
  groupInviteJoin: z.looseObject({
    ...group,
    Operator_Account: str,
    DestinationMembers: memberList,
  }),
  groupNewMemberJoin: z.looseObject({ ...group, JoinType: optStr, NewMemberList: memberList }),
  groupMemberExit: z.looseObject({ ...group, ExitType: optStr, ExitMemberList: memberList }),
  groupBeforeSendMsg: z.looseObject(groupMsg),
  groupAfterSendMsg: z.looseObject(groupMsg),
  botGroupMessage: z.looseObject({ ...groupMsg, AtRobots_Account: stringList }),
  groupSendMsgException: z.looseObject({
    ...groupMsg,
    From_Account: optStr,
    MsgBody: msgBody.optional(),
    ErrorCode: optInt,
    ErrorInfo: optStr,
  }),
  groupRecallMsg: z.looseObject({
    ...group,
    MsgSeqList: list(z.looseObject({ MsgSeq: optInt })),
  }),
  groupModifyMsg: z.looseObject({
    ...group,
    Operator_Account: str,
    MsgSeq: optInt,
    MsgBody: msgBody.optional(),
    CloudCustomData: optStr,
  }),
  groupMsgExtension: z.looseObject({
    ...group,
    MsgSeq: optInt,
    OperateType: int,
    ExtensionList: extensionList,
    Seq: optInt,
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
    GroupAttr: list(z.looseObject({ key: optStr, value: optStr })).optional(),
  }).superRefine((p, ctx) => {
    // "clear" removes every attribute; Tencent may leave the (empty) list out.
    if (p.GroupAttr === undefined && p.OptionType !== "clear") {
      ctx.addIssue({ code: "custom", message: "required", path: ["GroupAttr"], input: undefined });
    }
  }),
  groupMemberStateChange: z.looseObject({ ...group, EventType: optStr, MemberList: memberList }),
  groupMemberFieldChanged: z.looseObject({
    ...group,
    Modified_Account: optStr,
    Member_Account: optStr,
    Role: optStr,
    NameCard: optStr,
  }).superRefine((p, ctx) => {
    // Tencent's Chinese page names the member Modified_Account, the international ones
    // Member_Account: either says who changed.
    if (p.Modified_Account === undefined && p.Member_Account === undefined) {
      ctx.addIssue({
        code: "custom",
        message: "required (or Member_Account)",
        path: ["Modified_Account"],
        input: undefined,
      });
    }
  }),
  groupOwnerChanged: z.looseObject({
    ...group,
    OldOwner_Account: optStr,
    NewOwner_Account: str,
  }),
  groupReadReceipt: z.looseObject({
    ...group,
    GroupMsgReceiptList: list(z.looseObject({
      MsgSeq: optInt,
      ReadNum: optInt,
      UnreadNum: optInt,
      ReadReceiptMembers: memberList.optional(),
    })),
  }),
  groupBeforeCreateTopic: z.looseObject({
    ...base,
    GroupId: optStr,
    Operator_Account: str,
    Type: optStr,
    Name: optStr,
  }),
  groupAfterCreateTopic: z.looseObject({
    ...group,
    TopicId: str,
    Owner_Account: optStr,
    Name: optStr,
    UserDefinedDataList: userDefinedDataList.optional(),
  }),
  groupTopicDestroyed: z.looseObject({ ...group, TopicIdList: stringList }),
  groupTopicInfoChanged: z.looseObject({
    ...group,
    Name: optStr,
    Introduction: optStr,
    Notification: optStr,
    FaceUrl: optStr,
  }),
  groupQuotaAlarm: z.looseObject({ ...base, QuotaUsed: int, Quota: int }),
} satisfies Record<string, z.ZodType>;
