/**
 * The payload types of Tencent Cloud IM callbacks, one per known command (see
 * `commands.ts`, which ties each command to its type). Types only: plugins may import them
 * freely. Integer fields are `number | string`: Tencent sends numeric strings too.
 *
 * @module
 */

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
