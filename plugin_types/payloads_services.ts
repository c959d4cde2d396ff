/**
 * The payload types of the other services that call back through the same URL: `Alert.*`,
 * `OfficialAccount.*`, `Chatbot.*`, `ContentCallback.*` (moderation results), `Push.*`,
 * `Call.*` (TUICallKit), `Desk.*` (customer service) and `Live.*` (TUILiveKit).
 * Re-exported by `plugin.ts` and `core/protocol/payloads.ts`.
 *
 * @module
 */
import type { BasePayload, GroupMember, IntLike, MsgBodyElement } from "./payload_parts.ts";

/** `Alert.RequestOverLimit`: an API passed 80% of its rate limit. */
export interface RequestOverLimitPayload extends BasePayload {
  /** The service, e.g. `openim`. */
  ServiceName: string;
  /** The API, e.g. `batchsendmsg`. */
  Command: string;
  /** Requests per second. */
  Request?: IntLike;
  /** The limit, per second. */
  Limit?: IntLike;
}

/** Fields shared by the commands about an existing official account. */
export interface OfficialAccountPayload extends BasePayload {
  /** The account, `@TOA#_...`. */
  Official_Account: string;
  Operator_Account?: string;
}

/** `OfficialAccount.CallbackBeforeCreateOfficialAccount` (no account exists yet). */
export interface OfficialAccountBeforeCreatePayload extends BasePayload {
  Operator_Account: string;
  Owner_Account: string;
  Name?: string;
}

/** `OfficialAccount.CallbackAfterCreateOfficialAccount` and `...AfterOfficialAccountDestroyed`. */
export interface OfficialAccountCreatedPayload extends OfficialAccountPayload {
  Owner_Account?: string;
  Name?: string;
}

/** `OfficialAccount.CallbackAfterOfficialAccountInfoChanged`: only the changed fields. */
export interface OfficialAccountInfoChangedPayload extends OfficialAccountPayload {
  Name?: string;
  Introduction?: string;
  FaceUrl?: string;
  Organization?: string;
}

/** `OfficialAccount.Callback{Before,After}AddSubscriber` and `...AfterDeleteSubscriber`. */
export interface OfficialAccountSubscribersPayload extends OfficialAccountPayload {
  SubscribeAccountList: Array<{ Subscriber_Account?: string; [key: string]: unknown }>;
}

/** `OfficialAccount.CallbackBeforeSendMsg`. */
export interface OfficialAccountBeforeSendMsgPayload extends OfficialAccountPayload {
  OnlineOnlyFlag?: IntLike;
  MsgBody: MsgBodyElement[];
  CloudCustomData?: string;
}

/** `OfficialAccount.CallbackAfterSendMsg`. */
export interface OfficialAccountAfterSendMsgPayload extends OfficialAccountBeforeSendMsgPayload {
  MsgKey?: string;
  /** Seconds since the epoch. */
  MsgTime?: IntLike;
}

/** `OfficialAccount.CallbackAfterMsgWithDraw`. */
export interface OfficialAccountMsgWithDrawPayload extends OfficialAccountPayload {
  WithdrawMsgList: Array<{ MsgKey?: string; [key: string]: unknown }>;
}

/**
 * `Chatbot.OnC2CSignalMessage`: a pass-through message to a chatbot. Synchronous: the answer
 * carries `RspData`, the text handed back to the chatbot.
 */
export interface ChatbotSignalPayload extends BasePayload {
  From_Account: string;
  /** The chatbot, `@RBT#...`. */
  To_Account: string;
  MsgSeq?: IntLike;
  MsgRandom?: IntLike;
  MsgKey?: string;
  /** The pass-through content (often a JSON text). */
  Data: string;
}

/**
 * `ContentCallback.ResultNotify`: a cloud moderation result. The body has no
 * `CallbackCommand`; it is routed by the URL's.
 */
export interface ModerationResultPayload extends BasePayload {
  /** `C2C`, `C2CCustom`, `Group`, `GroupCustom`, `GroupInfo`, `GroupMemberInfo`, ... */
  Scene: string;
  /** The app, as a number. */
  SdkAppId?: IntLike;
  From_Account?: string;
  /** `ContactType` 1 = one-to-one (`To_Account`), 2 = group (`GroupId`). */
  ContactItem?: {
    ContactType?: IntLike;
    To_Account?: string;
    GroupId?: string;
    [key: string]: unknown;
  };
  ContentType?: string;
  TextContent?: string[];
  /** The message's id (a `MsgKey`). */
  MsgID?: string;
  CtxcbResult: IntLike;
  CtxcbRequestId?: string;
  CtxcbKeywords?: string[];
  CtxcbSuggestion?: string;
  CtxcbLabel?: string;
  CtxcbSubLabel?: string;
  CtxcbSubLabelDesc?: string;
  CtxcbLibName?: string;
  CloudCustomData?: string;
}

/** One event of a `Push.*` body; `EventTime`, `MsgTime` and `TaskTime` are in seconds. */
export interface PushEvent {
  /** The command, the same as the URL's. */
  CallbackCommand?: string;
  /** OfflinePush: 1 one-to-one, 2 group; AllMemberPush: 1 offline, 2 online push. */
  EventType: IntLike;
  EventTime?: IntLike;
  From_Account?: string;
  /** Who the push was for. */
  To_Account: string;
  /** 0 unknown, 1 APNs, 2 Xiaomi, 3 Huawei, 4 FCM, 5 Meizu, 6 OPPO, 7 vivo, 8 Honor. */
  PushPlatform?: IntLike;
  /** 1 sent, 2 delivered, 3 clicked. */
  PushStage: IntLike;
  MsgKey?: string;
  /** A group message's group (note the capital `D`). */
  GroupID?: string;
  MsgSeq?: IntLike;
  MsgRandom?: IntLike;
  MsgTime?: IntLike;
  /** OfflinePush: the push's id. */
  PushID?: string;
  /** AllMemberPush: the push task's id, and when it ran. */
  TaskId?: string;
  TaskTime?: IntLike;
  ErrCode?: IntLike;
  ErrInfo?: string;
  [key: string]: unknown;
}

/**
 * `Push.OfflinePush` and `Push.AllMemberPush`: `{"Events": [...]}`, 1 to 100 events, each
 * naming the command; nothing else at the top.
 */
export interface PushPayload {
  Events: PushEvent[];
  [key: string]: unknown;
}

/** A participant of a call. */
export interface CallUser {
  User_Account?: string;
  /** `Calling`, `Waiting`, ... */
  Status?: string;
  [key: string]: unknown;
}

/** `Call.CallbackAfterStartCall`. */
export interface CallStartPayload extends BasePayload {
  CallInfo: {
    CallId: string;
    /** `Audio` or `Video`. */
    CallMediaType?: string;
    ChatGroupId?: string;
    RoomId?: string;
    /** 1 a number, 2 a string. */
    RoomIdType?: IntLike;
    [key: string]: unknown;
  };
  UserList?: CallUser[];
}

/** `Call.CallbackAfterEndCall`: sent when at most one member remains. */
export interface CallEndPayload extends BasePayload {
  CallRecord: {
    CallId: string;
    Caller_Account?: string;
    MediaType?: string;
    /** `SingleCall` or `MultiCall`. */
    CallType?: string;
    /** Seconds. */
    StartTime?: IntLike;
    EndTime?: IntLike;
    AcceptTime?: IntLike;
    /** e.g. `NotAnswer`. */
    CallResult?: string;
    CalleeList_Account?: string[];
    RoomId?: string;
    RoomIdType?: IntLike;
    [key: string]: unknown;
  };
}

/** `Call.CallbackAfterMemberChanged`. */
export interface CallMemberChangedPayload extends BasePayload {
  CallId: string;
  UserList?: CallUser[];
  /** `ActionType`: `Accept`, `Reject`, `NotAnswer`, `Hangup`, `Join`, `Offline`, ... */
  ChangedUserList: Array<{ User_Account?: string; ActionType?: string; [key: string]: unknown }>;
}

/** `Desk.SessionEventNotify`: an event of a customer-service session. */
export interface DeskSessionEventPayload extends BasePayload {
  SessionId: string;
  /** e.g. `ChatBot.UserSendMsg`. */
  Event: string;
  ChannelType?: string;
  ClientUserId?: string;
  CustomerServiceId?: string;
  AgentId?: string;
  MsgKey?: string;
  MsgBody?: MsgBodyElement[];
  CloudCustomData?: string;
  IsContactUser?: boolean;
  SatisfactionSelected?: IntLike;
  ForwardFromAgentId?: string;
}

/** `Live.CallbackAfterCreateRoom`: `EventTime` is inside `RoomInfo`. */
export interface LiveRoomCreatedPayload extends BasePayload {
  Operator_Account?: string;
  RoomInfo: { RoomId: string; [key: string]: unknown };
}

/** `Live.CallbackAfterMemberStateChanged`. */
export interface LiveMemberStateChangedPayload extends BasePayload {
  RoomId: string;
  /** `Online` or `Offline`. */
  EventType: string;
  /** `Enter`, `Leave`, `HeartbeatInterrupt`, `HeartbeatRecover`, `Kicked`. */
  EventCause?: string;
  MemberList?: GroupMember[];
}
