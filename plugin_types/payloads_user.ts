/**
 * The payload types of the commands about users and one-to-one messages: `State.*`,
 * `Profile.*`, `Sns.*` (friends and blocklists), `Follow.*` and `C2C.*`. Re-exported by
 * `plugin.ts` and `core/protocol/payloads.ts`.
 *
 * @module
 */
import type {
  BasePayload,
  IntLike,
  MessageExtension,
  MsgBodyElement,
  OneToOneMessage,
} from "./payload_parts.ts";

/** `State.StateChange`: a user logged in, out, or lost the connection. */
export interface StateChangePayload extends BasePayload {
  Info: {
    /** `Login`, `Logout` or `Disconnect`. */
    Action: string;
    To_Account: string;
    /** `Register`, `Unregister`, `LinkClose` or `TimeOut`. */
    Reason?: string;
    [key: string]: unknown;
  };
  /** Devices kicked offline by this login. */
  KickedDevice?: Array<{ Platform?: string; [key: string]: unknown }>;
}

/** `Profile.CallbackPortraitSet`. */
export interface PortraitSetPayload extends BasePayload {
  Operator_Account?: string;
  /** Whose profile changed. */
  From_Account: string;
  ProfileItem: Array<{ Tag: string; Value?: unknown; [key: string]: unknown }>;
}

/** A friend asked for in `Sns.CallbackPrevFriendAdd`. */
export interface SnsFriendItem {
  To_Account: string;
  Remark?: string;
  GroupName?: string;
  AddSource?: string;
  AddWording?: string;
  [key: string]: unknown;
}

/** `Sns.CallbackPrevFriendAdd`: before a friend request is processed. */
export interface SnsPrevFriendAddPayload extends BasePayload {
  Requester_Account?: string;
  From_Account: string;
  FriendItem: SnsFriendItem[];
  /** `Add_Type_Single` or `Add_Type_Both`. */
  AddType?: string;
  /** 1 when an admin forces the addition. */
  ForceAddFlags?: IntLike;
}

/** An answer to a friend request in `Sns.CallbackPrevFriendResponse`. */
export interface SnsResponseFriendItem {
  /** The requester being answered. */
  To_Account: string;
  /** `Response_Action_AgreeAndAdd`, `Response_Action_Agree` or `Response_Action_Reject`. */
  ResponseAction: string;
  Remark?: string;
  TagName?: string;
  [key: string]: unknown;
}

/** `Sns.CallbackPrevFriendResponse`: before an answer to a friend request is processed. */
export interface SnsPrevFriendResponsePayload extends BasePayload {
  Requester_Account?: string;
  From_Account: string;
  ResponseFriendItem: SnsResponseFriendItem[];
}

/** A pair of `PairList` in the `Sns.*` notifications. */
export interface SnsPair {
  From_Account: string;
  To_Account: string;
  Initiator_Account?: string;
  [key: string]: unknown;
}

/** The relationship-chain notifications `Sns.Callback{Friend,BlackList}{Add,Delete}`. */
export interface SnsPayload extends BasePayload {
  PairList: SnsPair[];
  /** FriendAdd: `friend_add`/`FriendAdd` (a request) or `friend_response`/`FriendResponse`. */
  ClientCmd?: string;
  /** FriendAdd: the admin account when the server API added it, else `""`. */
  Admin_Account?: string;
  /** FriendAdd: 1 when an admin forced it. */
  ForceFlag?: IntLike;
}

/** `Follow.CallbackAfterFollowAdd`. */
export interface FollowAddPayload extends BasePayload {
  From_Account: string;
  FollowList: Array<{ To_Account: string; [key: string]: unknown }>;
}

/** `Follow.CallbackAfterFollowDelete`: `To_Account` is a list of user ids here. */
export interface FollowDeletePayload extends BasePayload {
  From_Account: string;
  To_Account: string[];
}

/** `C2C.CallbackBeforeSendMsg`. */
export type C2CBeforeSendMsgPayload = OneToOneMessage;

/** `C2C.CallbackAfterSendMsg`, and `Bot.OnC2CMessage` (a message to a chatbot). */
export interface C2CAfterSendMsgPayload extends OneToOneMessage {
  /** 0 = delivered, else the error code. */
  SendMsgResult?: IntLike;
  ErrorInfo?: string;
  /** `To_Account`'s unread one-to-one messages. */
  UnreadMsgNum?: IntLike;
}

/** `C2C.CallbackAfterMsgReport`: a read report. */
export interface C2CMsgReportPayload extends BasePayload {
  Report_Account: string;
  Peer_Account: string;
  /** Seconds: the messages before it are read. */
  LastReadTime: IntLike;
  UnreadMsgNum?: IntLike;
}

/** `C2C.CallbackAfterMsgWithDraw`: a recalled one-to-one message. */
export interface C2CMsgWithDrawPayload extends BasePayload {
  From_Account: string;
  To_Account: string;
  MsgKey?: string;
  UnreadMsgNum?: IntLike;
}

/** A message of `C2CMsgInfo` in `C2C.CallbackAfterMsgReadReceipt`. */
export interface C2CMsgInfo {
  From_Account?: string;
  To_Account?: string;
  MsgKey?: string;
  MsgId?: string;
  [key: string]: unknown;
}

/** `C2C.CallbackAfterMsgReadReceipt`: read receipts for single messages. */
export interface C2CMsgReadReceiptPayload extends BasePayload {
  /** Who sent the receipt. */
  Operator_Account: string;
  Peer_Account: string;
  C2CMsgInfo: C2CMsgInfo[];
}

/** `C2C.CallbackAfterC2CMsgExtension`: a one-to-one message's extensions changed. */
export interface C2CMsgExtensionPayload extends BasePayload {
  From_Account?: string;
  To_Account?: string;
  MsgKey?: string;
  /** 1 set keys, 2 delete keys, 3 clear all. */
  OperateType: IntLike;
  ExtensionList: MessageExtension[];
  /** The new version of the message's extensions: one per change. */
  Seq?: IntLike;
}

/** `C2C.CallbackAfterModifyMsg`: a one-to-one message edited (one callback per edit). */
export interface C2CModifyMsgPayload extends BasePayload {
  Operator_Account: string;
  From_Account?: string;
  To_Account?: string;
  MsgKey?: string;
  MsgSeq?: IntLike;
  MsgRandom?: IntLike;
  /** Seconds: when the message was first sent. */
  MsgTime?: IntLike;
  MsgBody?: MsgBodyElement[];
  CloudCustomData?: string;
}

/** `C2C.CallbackAfterMsgReadAll`: every unread message cleared (one-to-one and groups). */
export interface C2CMsgReadAllPayload extends BasePayload {
  Report_Account: string;
  /** The groups cleared, with the `MsgSeq` they were read up to. */
  GroupReadInfo?: Array<{ GroupId?: string; MsgSeq?: IntLike; [key: string]: unknown }>;
}
