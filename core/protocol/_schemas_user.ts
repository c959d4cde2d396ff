/**
 * The schemas of the commands about users and one-to-one messages, named after their payload
 * types (`payloads_user.ts`) without `Payload`.
 *
 * @module
 */
import { z } from "zod";
import {
  base,
  extensionList,
  int,
  list,
  msgBody,
  optInt,
  optStr,
  str,
  stringList,
} from "./_schema_parts.ts";

/** The fields of a message to one account (`OneToOneMessage`). */
export const oneToOne = {
  ...base,
  From_Account: str,
  To_Account: str,
  MsgSeq: optInt,
  MsgRandom: optInt,
  MsgTime: optInt,
  MsgKey: optStr,
  MsgId: optStr,
  OnlineOnlyFlag: optInt,
  MsgBody: msgBody,
  CloudCustomData: optStr,
};

/** The user and one-to-one schemas, by name. */
export const USER_SCHEMAS = {
  stateChange: z.looseObject({
    ...base,
    Info: z.looseObject({ Action: str, To_Account: str, Reason: optStr }),
    KickedDevice: list(z.looseObject({ Platform: optStr })).optional(),
  }),
  portraitSet: z.looseObject({
    ...base,
    Operator_Account: optStr,
    From_Account: str,
    ProfileItem: list(z.looseObject({ Tag: str })),
  }),
  snsPrevFriendAdd: z.looseObject({
    ...base,
    Requester_Account: optStr,
    From_Account: str,
    FriendItem: list(z.looseObject({
      To_Account: str,
      Remark: optStr,
      GroupName: optStr,
      AddSource: optStr,
      AddWording: optStr,
    })),
    AddType: optStr,
    ForceAddFlags: optInt,
  }),
  snsPrevFriendResponse: z.looseObject({
    ...base,
    Requester_Account: optStr,
    From_Account: str,
    ResponseFriendItem: list(z.looseObject({
      To_Account: str,
      ResponseAction: str,
      Remark: optStr,
      TagName: optStr,
    })),
  }),
  sns: z.looseObject({
    ...base,
    PairList: list(
      z.looseObject({ From_Account: str, To_Account: str, Initiator_Account: optStr }),
    ),
    ClientCmd: optStr,
    Admin_Account: optStr,
    ForceFlag: optInt,
  }),
  followAdd: z.looseObject({
    ...base,
    From_Account: str,
    FollowList: list(z.looseObject({ To_Account: str })),
  }),
  followDelete: z.looseObject({ ...base, From_Account: str, To_Account: stringList }),
  c2cBeforeSendMsg: z.looseObject(oneToOne),
  c2cAfterSendMsg: z.looseObject({
    ...oneToOne,
    SendMsgResult: optInt,
    ErrorInfo: optStr,
    UnreadMsgNum: optInt,
  }),
  c2cMsgReport: z.looseObject({
    ...base,
    Report_Account: str,
    Peer_Account: str,
    LastReadTime: int,
    UnreadMsgNum: optInt,
  }),
  c2cMsgWithDraw: z.looseObject({
    ...base,
    From_Account: str,
    To_Account: str,
    MsgKey: optStr,
    UnreadMsgNum: optInt,
  }),
  c2cMsgReadReceipt: z.looseObject({
    ...base,
    Operator_Account: str,
    Peer_Account: str,
    C2CMsgInfo: list(z.looseObject({
      From_Account: optStr,
      To_Account: optStr,
      MsgKey: optStr,
      MsgId: optStr,
    })),
  }),
  c2cMsgExtension: z.looseObject({
    ...base,
    From_Account: optStr,
    To_Account: optStr,
    MsgKey: optStr,
    OperateType: int,
    ExtensionList: extensionList,
    Seq: optInt,
  }),
  c2cModifyMsg: z.looseObject({
    ...base,
    Operator_Account: str,
    From_Account: optStr,
    To_Account: optStr,
    MsgKey: optStr,
    MsgSeq: optInt,
    MsgRandom: optInt,
    MsgTime: optInt,
    MsgBody: msgBody.optional(),
    CloudCustomData: optStr,
  }),
  c2cMsgReadAll: z.looseObject({
    ...base,
    Report_Account: str,
    GroupReadInfo: list(z.looseObject({ GroupId: optStr, MsgSeq: optInt })).optional(),
  }),
} satisfies Record<string, z.ZodType>;
