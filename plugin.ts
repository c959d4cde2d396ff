/**
 * The plugin contract of imhookd. A plugin module's default export is a {@linkcode Plugin};
 * plugin files may `import type` from here (the import is erased at load time).
 *
 * This file is self-contained (it imports nothing): copy it beside your plugin, or import it
 * from a checkout, and your plugin type-checks on its own. It holds the contract, the payload
 * type of every known command ({@linkcode CommandPayloads}) and typed events
 * ({@linkcode CommandEvent}). Test helpers (`makeEvent`, a context with a captured logger,
 * samples) are in `testing.ts`.
 *
 * @module
 */

/** One journaled callback, as handed to a plugin's `handle`. */
export interface CallbackEvent<P extends Record<string, unknown> = CallbackPayload> {
  /** Journal id, stable across retries and replays. */
  id: string;
  /** The `CallbackCommand`. */
  command: string;
  /** The `SdkAppid` of the query string. */
  sdkAppId: string;
  /** When imhookd received the callback, in ms since the epoch. */
  receivedAt: number;
  /** The end user's IP (`ClientIP` query parameter), when Tencent sent it. */
  clientIp?: string;
  /** The `OptPlatform` query parameter, when Tencent sent it. */
  optPlatform?: string;
  /** 1 on the first delivery to this plugin, then 2, 3, ... on retries. */
  attempt: number;
  /** The parsed JSON body, exactly as sent (numbers sent as strings stay strings). */
  payload: P;
  /** The body exactly as received. */
  rawBody: string;
  /**
   * How a decision callback (a `.CallbackBefore*` or `.CallbackPrev*` command) was decided,
   * as answered to Tencent; absent for other commands. Not set in `decide`.
   */
  decision?: DecisionRecord;
}

/**
 * A decider's answer to a decision callback (see {@linkcode PluginInstance.decide}). Fields a
 * command does not take make the decision invalid (and the fallback answer).
 */
export interface Decision {
  /** `drop`: `*.CallbackBeforeSendMsg` only; the message is discarded, the sender sees success. */
  verdict: "allow" | "reject" | "drop";
  /**
   * `reject` only: 1 (the default; the client gets Tencent's generic error) or a code in the
   * command's custom range, which reaches the client with `info`: Group 10100-10200,
   * C2C and OfficialAccount 120001-130000, Sns 38000-39000 (Sns takes no 1; default 38000).
   */
  code?: number;
  /** `reject` only: the `ErrorInfo` (`ResultInfo` on Sns commands). */
  info?: string;
  /** `allow` on a `*.CallbackBeforeSendMsg` command: what Tencent sends instead. */
  replace?: { MsgBody?: MsgBodyElement[]; CloudCustomData?: string };
  /**
   * `allow` on `Group.CallbackBeforeInviteJoinGroup` and
   * `OfficialAccount.CallbackBeforeAddSubscriber`: the accounts refused, the others join.
   */
  refuseMembers?: string[];
  /**
   * `allow` on `Sns.CallbackPrevFriendAdd` and `Sns.CallbackPrevFriendResponse`: a result per
   * friend; `ResultCode` 0 allows, 38000-39000 refuses. Friends not listed are allowed.
   */
  friendResults?: FriendResult[];
}

/** One friend's result in a {@linkcode Decision} of an `Sns.CallbackPrev*` command. */
export interface FriendResult {
  To_Account: string;
  ResultCode: number;
  ResultInfo?: string;
}

/** How one decider fared in a decision. */
export interface DeciderRun {
  plugin: string;
  /**
   * What it answered (`none`: no opinion), or how it failed: it threw or its thread was down
   * (`error`), answered past the deadline (`timeout`), answered something the command does not
   * take (`invalid`), or was not asked (`skipped`: its circuit breaker is open, or the deadline
   * had passed).
   */
  outcome: "allow" | "reject" | "drop" | "none" | "error" | "timeout" | "invalid" | "skipped";
  /** How long it took, in ms. */
  ms: number;
  /** Why it failed. */
  error?: string;
}

/** How a decision callback was decided: stored with it, and handed to `handle` as `decision`. */
export interface DecisionRecord {
  verdict: "allow" | "reject" | "drop";
  /** The code of a `reject`. */
  code?: number;
  /** The info of a `reject`. */
  info?: string;
  /**
   * The plugin whose verdict stands; `fallback` when a decider failed (see `reason`) and the
   * command's fallback decided; `none` when no decider had an opinion.
   */
  by: string;
  /** Why the fallback decided. */
  reason?: string;
  /** Whether Tencent was told to send a replaced `MsgBody` or `CloudCustomData`. */
  replaced: boolean;
  /** The replacements, when `replaced`. */
  replace?: { MsgBody?: MsgBodyElement[]; CloudCustomData?: string };
  /** The accounts refused, every decider's together. */
  refuseMembers?: string[];
  /** The friends' results, merged per `To_Account` (a refusal wins). */
  friendResults?: FriendResult[];
  /** The deciders asked (or skipped), in config order. */
  deciders: DeciderRun[];
  /** From receipt to the decision, in ms. */
  ms: number;
}

/** What `parseOptions` receives besides the raw options. */
export interface PluginOptionsContext {
  /** The plugin entry's `name` in the config. */
  name: string;
  /** The folder of the config file: resolve relative option paths against it. */
  configDir: string;
}

/** What `create` receives besides the parsed options. */
export interface PluginContext extends PluginOptionsContext {
  /** A logger whose category names this plugin (LogTape's, in imhookd). */
  logger: PluginLogger;
  /** Aborted when imhookd shuts down. */
  signal: AbortSignal;
}

/** A running plugin: it has `handle`, `decide`, or both. */
export interface PluginInstance {
  /**
   * Handles one callback. Throw to have it retried (see {@linkcode DeliveryErrorFields});
   * `signal` aborts when `delivery.handler_timeout` passes or imhookd shuts down.
   */
  handle?(event: CallbackEvent, signal: AbortSignal): Promise<void> | void;
  /**
   * Decides a decision callback (a `.CallbackBefore*` or `.CallbackPrev*` command its `on`
   * matches) before it is journaled and answered; `undefined` means no opinion. The event's
   * `id` is `""` (there is no journal id yet). `signal` aborts at `decisions.deadline`, after
   * which the answer no longer counts. Deciders are asked in config order, each seeing the
   * payload as replaced by the ones before; the first `reject` or `drop` ends the chain.
   */
  decide?(
    event: CallbackEvent,
    signal: AbortSignal,
  ): Decision | undefined | Promise<Decision | undefined>;
  /** Flushes and closes whatever the plugin holds. */
  [Symbol.asyncDispose]?(): Promise<void>;
}

/** A plugin instance that has `handle` (as every built-in that delivers callbacks). */
export type Handler = PluginInstance & Required<Pick<PluginInstance, "handle">>;

/** The default export of a plugin module. */
export interface Plugin<O = unknown> {
  /** The plugin's own name (for logs). */
  name: string;
  /** Validates the config entry's `options`; throw a `TypeError` or `RangeError` to reject. */
  parseOptions?(raw: unknown, ctx: PluginOptionsContext): O;
  /** Starts the plugin. */
  create(options: O, ctx: PluginContext): Promise<PluginInstance> | PluginInstance;
  /**
   * The Deno permissions the plugin needs for `options` (hosts to reach, files to read), for
   * running it in a thread of its own. Optional; relative paths resolve against `configDir`.
   * Read for built-in plugins only: a user plugin's thread gets what its config entry's
   * `permissions` grants, by default read access to its own folder.
   */
  permissions?(options: O, ctx: { configDir: string }): Deno.PermissionOptionsObject;
}

/**
 * Fields an error thrown from `handle` may carry to steer its retry:
 * `permanent: true` makes it a dead letter at once; `retryAfterMs` waits at least that long.
 */
export interface DeliveryErrorFields {
  permanent?: boolean;
  retryAfterMs?: number;
}

/**
 * The logger a plugin gets: messages with `{placeholders}` filled from `properties`, as
 * LogTape's `Logger` (which imhookd passes) writes them.
 */
export interface PluginLogger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}

/** The name of a known command: a key of {@linkcode CommandPayloads}. */
export type KnownCommand = keyof CommandPayloads;

/**
 * A callback of a known command, its payload typed: `CommandEvent<"Group.CallbackAfterSendMsg">`
 * has `payload.MsgBody`. For several commands, a union to narrow by `event.command`. A plugin
 * may take it in `handle` for the commands its `on` subscribes it to.
 */
export type CommandEvent<C extends KnownCommand = KnownCommand> = C extends KnownCommand
  ? CallbackEvent<CommandPayloads[C]> & { command: C }
  : never;

// ---------------------------------------------------------------------------------------------
// The command map and the payload types, written from imhookd's command table and
// core/protocol/payload*.ts by `deno task plugin-types` (plugin_test.ts checks that they are
// current): integer fields are `number | string`, as Tencent sends both.
// BEGIN generated by scripts/plugin_types.ts: do not edit by hand
/** The payload type of each known command. */
export interface CommandPayloads {
  "Alert.RequestOverLimit": RequestOverLimitPayload;
  "State.StateChange": StateChangePayload;
  "Profile.CallbackPortraitSet": PortraitSetPayload;
  "Sns.CallbackPrevFriendAdd": SnsPrevFriendAddPayload;
  "Sns.CallbackPrevFriendResponse": SnsPrevFriendResponsePayload;
  "Sns.CallbackFriendAdd": SnsPayload;
  "Sns.CallbackFriendDelete": SnsPayload;
  "Sns.CallbackBlackListAdd": SnsPayload;
  "Sns.CallbackBlackListDelete": SnsPayload;
  "Follow.CallbackAfterFollowAdd": FollowAddPayload;
  "Follow.CallbackAfterFollowDelete": FollowDeletePayload;
  "C2C.CallbackBeforeSendMsg": C2CBeforeSendMsgPayload;
  "C2C.CallbackAfterSendMsg": C2CAfterSendMsgPayload;
  "C2C.CallbackAfterMsgReport": C2CMsgReportPayload;
  "C2C.CallbackAfterMsgWithDraw": C2CMsgWithDrawPayload;
  "C2C.CallbackAfterMsgReadReceipt": C2CMsgReadReceiptPayload;
  "C2C.CallbackAfterC2CMsgExtension": C2CMsgExtensionPayload;
  "C2C.CallbackAfterModifyMsg": C2CModifyMsgPayload;
  "C2C.CallbackAfterMsgReadAll": C2CMsgReadAllPayload;
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
  "Group.CallbackBeforeCreateTopic": GroupBeforeCreateTopicPayload;
  "Group.CallbackAfterCreateTopic": GroupAfterCreateTopicPayload;
  "Group.CallbackAfterTopicDestroyed": GroupTopicDestroyedPayload;
  "Group.CallbackAfterTopicInfoChanged": GroupTopicInfoChangedPayload;
  "Group.CallbackOnDailyGroupQuotaAlarm": GroupQuotaAlarmPayload;
  "Group.CallbackAfterGroupMsgExtension": GroupMsgExtensionPayload;
  "Group.CallbackAfterModifyMsg": GroupModifyMsgPayload;
  "ContentCallback.ResultNotify": ModerationResultPayload;
  "Bot.OnC2CMessage": C2CAfterSendMsgPayload;
  "Bot.OnGroupMessage": BotGroupMessagePayload;
  "Chatbot.OnC2CSignalMessage": ChatbotSignalPayload;
  "OfficialAccount.CallbackBeforeCreateOfficialAccount": OfficialAccountBeforeCreatePayload;
  "OfficialAccount.CallbackAfterCreateOfficialAccount": OfficialAccountCreatedPayload;
  "OfficialAccount.CallbackAfterOfficialAccountInfoChanged": OfficialAccountInfoChangedPayload;
  "OfficialAccount.CallbackAfterOfficialAccountDestroyed": OfficialAccountCreatedPayload;
  "OfficialAccount.CallbackBeforeAddSubscriber": OfficialAccountSubscribersPayload;
  "OfficialAccount.CallbackAfterAddSubscriber": OfficialAccountSubscribersPayload;
  "OfficialAccount.CallbackAfterOfficialAccountFull": OfficialAccountPayload;
  "OfficialAccount.CallbackAfterDeleteSubscriber": OfficialAccountSubscribersPayload;
  "OfficialAccount.CallbackBeforeSendMsg": OfficialAccountBeforeSendMsgPayload;
  "OfficialAccount.CallbackAfterSendMsg": OfficialAccountAfterSendMsgPayload;
  "OfficialAccount.CallbackAfterMsgWithDraw": OfficialAccountMsgWithDrawPayload;
  "Push.OfflinePush": PushPayload;
  "Push.AllMemberPush": PushPayload;
  "Call.CallbackAfterStartCall": CallStartPayload;
  "Call.CallbackAfterMemberChanged": CallMemberChangedPayload;
  "Call.CallbackAfterEndCall": CallEndPayload;
  "Desk.SessionEventNotify": DeskSessionEventPayload;
  "Live.CallbackAfterCreateRoom": LiveRoomCreatedPayload;
  "Live.CallbackAfterMemberStateChanged": LiveMemberStateChangedPayload;
}

/** An integer as Tencent sends it: a JSON number or a digit string such as `"1670574414123"`. */
export type IntLike = number | string;

/**
 * The parsed JSON body of any callback. Most bodies name their command in `CallbackCommand`;
 * `ContentCallback.ResultNotify` and the `Push.*` bodies (`{"Events": [...]}`) do not, and
 * are routed by the URL's.
 */
export type CallbackPayload = Record<string, unknown> & { CallbackCommand?: string };

/** Fields every callback body with its command at the top may carry; unknown fields are kept. */
export interface BasePayload {
  /** Absent from the bodies that do not name their command (see {@linkcode CallbackPayload}). */
  CallbackCommand?: string;
  /** When the event happened, in ms since the epoch (seconds inside `Push.*` events). */
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

/** A custom field of `UserDefinedDataList` (capitalised `Key`/`Value`). */
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

/** One key of a message extension (`ExtensionList`): `Value` is `""` once deleted. */
export interface MessageExtension {
  Key?: string;
  Value?: string;
  /** The version of the message's extensions this key was last set at. */
  Seq?: IntLike;
  [key: string]: unknown;
}

/** The fields of a message sent to one account (C2C, chatbots). */
export interface OneToOneMessage extends BasePayload {
  From_Account: string;
  To_Account: string;
  MsgSeq?: IntLike;
  MsgRandom?: IntLike;
  /** Seconds since the epoch. */
  MsgTime?: IntLike;
  /** The message's id (`MsgSeq_MsgRandom_MsgTime`); absent from some revisions of the pages. */
  MsgKey?: string;
  /** The id the sending client gave the message (newer pages). */
  MsgId?: string;
  OnlineOnlyFlag?: IntLike;
  MsgBody: MsgBodyElement[];
  CloudCustomData?: string;
}

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
// END generated by scripts/plugin_types.ts
