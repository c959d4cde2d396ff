/**
 * The payload types of the group commands (`Group.*`, and `Bot.OnGroupMessage`, a group
 * message that mentions a chatbot). Re-exported by `plugin.ts` and `core/protocol/payloads.ts`.
 *
 * @module
 */
import type {
  BasePayload,
  GroupAttrEntry,
  GroupMember,
  IntLike,
  MessageExtension,
  MsgBodyElement,
  UserDefinedData,
} from "./payload_parts.ts";

/** Fields shared by the commands about an existing group. */
export interface GroupPayload extends BasePayload {
  GroupId: string;
  /**
   * `Private` (also `Work`), `Public`, `ChatRoom` (also `Meeting`), `AVChatRoom`, `Community`,
   * `Live` (live rooms), or a type Tencent adds later.
   */
  Type?: string;
  Operator_Account?: string;
  /** The topic of a Community group with topics. */
  TopicId?: string;
}

/** `Group.CallbackBeforeCreateGroup` (no group exists yet). */
export interface GroupBeforeCreatePayload extends BasePayload {
  Operator_Account: string;
  Owner_Account: string;
  Type: string;
  Name?: string;
  /** Groups of this type the owner already created (older and international pages only). */
  CreateGroupNum?: IntLike;
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
  Requestor_Account: string;
}

/** `Group.CallbackBeforeInviteJoinGroup`. */
export interface GroupInviteJoinPayload extends GroupPayload {
  /** The inviter. */
  Operator_Account: string;
  DestinationMembers: GroupMember[];
}

/** `Group.CallbackAfterNewMemberJoin`. */
export interface GroupNewMemberJoinPayload extends GroupPayload {
  /** `Apply` or `Invited`. */
  JoinType?: string;
  NewMemberList: GroupMember[];
}

/** `Group.CallbackAfterMemberExit`. */
export interface GroupMemberExitPayload extends GroupPayload {
  /** `Kicked` or `Quit`. */
  ExitType?: string;
  ExitMemberList: GroupMember[];
}

/** A mention of `GroupAtInfo`: `GroupAtAllFlag` 1 = everyone, else `GroupAt_Account`. */
export interface GroupAt {
  GroupAtAllFlag?: IntLike;
  GroupAt_Account?: string;
  [key: string]: unknown;
}

/** `Group.CallbackBeforeSendMsg`: no `MsgSeq` yet (the server assigns it after). */
export interface GroupBeforeSendMsgPayload extends GroupPayload {
  From_Account: string;
  Random?: IntLike;
  /** The id the sending client gave the message (newer pages). */
  MsgId?: string;
  OnlineOnlyFlag?: IntLike;
  MsgBody: MsgBodyElement[];
  CloudCustomData?: string;
  GroupAtInfo?: GroupAt[];
}

/** `Group.CallbackAfterSendMsg`. */
export interface GroupAfterSendMsgPayload extends GroupBeforeSendMsgPayload {
  /** The message's number in its group (or topic); absent from some revisions of the pages. */
  MsgSeq?: IntLike;
  /** Seconds since the epoch. */
  MsgTime?: IntLike;
}

/** `Bot.OnGroupMessage`: a group message that mentions chatbots. */
export interface BotGroupMessagePayload extends GroupAfterSendMsgPayload {
  /** The chatbots mentioned (`@RBT#...`). */
  AtRobots_Account: string[];
}

/** `Group.CallbackSendMsgException`: a message that failed to send. */
export interface GroupSendMsgExceptionPayload extends GroupPayload {
  From_Account?: string;
  Random?: IntLike;
  MsgId?: string;
  OnlineOnlyFlag?: IntLike;
  MsgBody?: MsgBodyElement[];
  CloudCustomData?: string;
  MsgSeq?: IntLike;
  MsgTime?: IntLike;
  /** Why it failed, e.g. 10023. */
  ErrorCode?: IntLike;
  ErrorInfo?: string;
}

/** `Group.CallbackAfterRecallMsg`. */
export interface GroupRecallMsgPayload extends GroupPayload {
  MsgSeqList: Array<{ MsgSeq?: IntLike; [key: string]: unknown }>;
}

/** `Group.CallbackAfterModifyMsg`: a group message edited (one callback per edit). */
export interface GroupModifyMsgPayload extends GroupPayload {
  Operator_Account: string;
  MsgSeq?: IntLike;
  /** The message as edited. */
  MsgBody?: MsgBodyElement[];
  CloudCustomData?: string;
}

/** `Group.CallbackAfterGroupMsgExtension`: a group message's extensions set or deleted. */
export interface GroupMsgExtensionPayload extends GroupPayload {
  MsgSeq?: IntLike;
  /** 1 set keys, 2 delete keys, 3 clear all. */
  OperateType: IntLike;
  ExtensionList: MessageExtension[];
  /** The new version of the message's extensions: one per change. */
  Seq?: IntLike;
}

/** `Group.CallbackAfterGroupFull`. */
export type GroupFullPayload = GroupPayload;

/** `Group.CallbackAfterGroupDestroyed`. */
export interface GroupDestroyedPayload extends GroupPayload {
  Owner_Account?: string;
  Name?: string;
  /** Not sent for Community groups. */
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

/** `Group.CallbackOnMemberStateChange` (AVChatRoom members going offline or back). */
export interface GroupMemberStateChangePayload extends GroupPayload {
  /** `Online` or `Offline`. */
  EventType?: string;
  MemberList: GroupMember[];
}

/**
 * `Group.CallbackAfterMemberFieldChanged`. The member changed is `Modified_Account` on the
 * Chinese page and `Member_Account` on the international ones: one of them is present.
 */
export interface GroupMemberFieldChangedPayload extends GroupPayload {
  Modified_Account?: string;
  Member_Account?: string;
  /** `Admin` or `Member`. */
  Role?: string;
  NameCard?: string;
}

/** `Group.CallbackAfterChangeGroupOwner`. */
export interface GroupOwnerChangedPayload extends GroupPayload {
  OldOwner_Account?: string;
  NewOwner_Account: string;
}

/** One entry of `GroupMsgReceiptList`. */
export interface GroupMsgReceipt {
  MsgSeq?: IntLike;
  /** Members who have read it. */
  ReadNum?: IntLike;
  /** Members who have not. */
  UnreadNum?: IntLike;
  ReadReceiptMembers?: GroupMember[];
  [key: string]: unknown;
}

/** `Group.CallbackAfterReadReceipt`. */
export interface GroupReadReceiptPayload extends GroupPayload {
  GroupMsgReceiptList: GroupMsgReceipt[];
}

/** `Group.CallbackBeforeCreateTopic`: no `GroupId` nor `TopicId` in Tencent's example. */
export interface GroupBeforeCreateTopicPayload extends BasePayload {
  GroupId?: string;
  Operator_Account: string;
  /** `Community`. */
  Type?: string;
  /** The topic's name. */
  Name?: string;
}

/** `Group.CallbackAfterCreateTopic`. */
export interface GroupAfterCreateTopicPayload extends GroupPayload {
  TopicId: string;
  Owner_Account?: string;
  Name?: string;
  UserDefinedDataList?: UserDefinedData[];
}

/** `Group.CallbackAfterTopicDestroyed`. */
export interface GroupTopicDestroyedPayload extends GroupPayload {
  TopicIdList: string[];
}

/** `Group.CallbackAfterTopicInfoChanged`: only the changed fields are present. */
export interface GroupTopicInfoChangedPayload extends GroupPayload {
  Name?: string;
  Introduction?: string;
  Notification?: string;
  FaceUrl?: string;
}

/** `Group.CallbackOnDailyGroupQuotaAlarm`: the day's net new groups passed 70% of the limit. */
export interface GroupQuotaAlarmPayload extends BasePayload {
  QuotaUsed: IntLike;
  Quota: IntLike;
}
