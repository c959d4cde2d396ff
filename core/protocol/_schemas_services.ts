/**
 * The schemas of the other services' commands, named after their payload types
 * (`payloads_services.ts`) without `Payload`.
 *
 * @module
 */
import { z } from "zod";
import {
  base,
  int,
  list,
  memberList,
  msgBody,
  optInt,
  optStr,
  str,
  stringList,
} from "./_schema_parts.ts";
import { oneToOne } from "./_schemas_user.ts";

const officialAccount = { ...base, Official_Account: str, Operator_Account: optStr };
const subscribers = list(z.looseObject({ Subscriber_Account: optStr }));
const officialAccountMsg = {
  ...officialAccount,
  OnlineOnlyFlag: optInt,
  MsgBody: msgBody,
  CloudCustomData: optStr,
};
const callUsers = list(z.looseObject({ User_Account: optStr, Status: optStr }));
const pushEvent = z.looseObject({
  CallbackCommand: optStr,
  EventType: int,
  EventTime: optInt,
  From_Account: optStr,
  To_Account: str,
  PushPlatform: optInt,
  PushStage: int,
  MsgKey: optStr,
  GroupID: optStr,
  MsgSeq: optInt,
  MsgRandom: optInt,
  MsgTime: optInt,
  PushID: optStr,
  TaskId: optStr,
  TaskTime: optInt,
  ErrCode: optInt,
  ErrInfo: optStr,
});

/** The other services' schemas, by name. */
export const SERVICE_SCHEMAS = {
  requestOverLimit: z.looseObject({
    ...base,
    ServiceName: str,
    Command: str,
    Request: optInt,
    Limit: optInt,
  }),
  officialAccountBeforeCreate: z.looseObject({
    ...base,
    Operator_Account: str,
    Owner_Account: str,
    Name: optStr,
  }),
  officialAccountCreated: z.looseObject({
    ...officialAccount,
    Owner_Account: optStr,
    Name: optStr,
  }),
  officialAccountInfoChanged: z.looseObject({
    ...officialAccount,
    Name: optStr,
    Introduction: optStr,
    FaceUrl: optStr,
    Organization: optStr,
  }),
  officialAccount: z.looseObject(officialAccount),
  officialAccountSubscribers: z.looseObject({
    ...officialAccount,
    SubscribeAccountList: subscribers,
  }),
  officialAccountBeforeSendMsg: z.looseObject(officialAccountMsg),
  officialAccountAfterSendMsg: z.looseObject({
    ...officialAccountMsg,
    MsgKey: optStr,
    MsgTime: optInt,
  }),
  officialAccountMsgWithDraw: z.looseObject({
    ...officialAccount,
    WithdrawMsgList: list(z.looseObject({ MsgKey: optStr })),
  }),
  botC2CMessage: z.looseObject({
    ...oneToOne,
    SendMsgResult: optInt,
    ErrorInfo: optStr,
  }),
  chatbotSignal: z.looseObject({
    ...base,
    From_Account: str,
    To_Account: str,
    MsgSeq: optInt,
    MsgRandom: optInt,
    MsgKey: optStr,
    Data: str,
  }),
  moderationResult: z.looseObject({
    ...base,
    Scene: str,
    SdkAppId: optInt,
    From_Account: optStr,
    ContactItem: z.looseObject({ ContactType: optInt, To_Account: optStr, GroupId: optStr })
      .optional(),
    ContentType: optStr,
    TextContent: stringList.optional(),
    MsgID: optStr,
    CtxcbResult: int,
    CtxcbRequestId: optStr,
    CtxcbKeywords: stringList.optional(),
    CtxcbSuggestion: optStr,
    CtxcbLabel: optStr,
    CtxcbSubLabel: optStr,
    CtxcbSubLabelDesc: optStr,
    CtxcbLibName: optStr,
    CloudCustomData: optStr,
  }),
  push: z.looseObject({ CallbackCommand: optStr, Events: list(pushEvent) }),
  callStart: z.looseObject({
    ...base,
    CallInfo: z.looseObject({
      CallId: str,
      CallMediaType: optStr,
      ChatGroupId: optStr,
      RoomId: optStr,
      RoomIdType: optInt,
    }),
    UserList: callUsers.optional(),
  }),
  callEnd: z.looseObject({
    ...base,
    CallRecord: z.looseObject({
      CallId: str,
      Caller_Account: optStr,
      MediaType: optStr,
      CallType: optStr,
      StartTime: optInt,
      EndTime: optInt,
      AcceptTime: optInt,
      CallResult: optStr,
      CalleeList_Account: stringList.optional(),
      RoomId: optStr,
      RoomIdType: optInt,
    }),
  }),
  callMemberChanged: z.looseObject({
    ...base,
    CallId: str,
    UserList: callUsers.optional(),
    ChangedUserList: list(z.looseObject({ User_Account: optStr, ActionType: optStr })),
  }),
  deskSessionEvent: z.looseObject({
    ...base,
    SessionId: str,
    Event: str,
    ChannelType: optStr,
    ClientUserId: optStr,
    CustomerServiceId: optStr,
    AgentId: optStr,
    MsgKey: optStr,
    MsgBody: msgBody.optional(),
    CloudCustomData: optStr,
    IsContactUser: z.boolean().optional(),
    SatisfactionSelected: optInt,
    ForwardFromAgentId: optStr,
  }),
  liveRoomCreated: z.looseObject({
    ...base,
    Operator_Account: optStr,
    RoomInfo: z.looseObject({ RoomId: str }),
  }),
  liveMemberStateChanged: z.looseObject({
    ...base,
    RoomId: str,
    EventType: str,
    EventCause: optStr,
    MemberList: memberList.optional(),
  }),
} satisfies Record<string, z.ZodType>;
