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

/** A running plugin. */
export interface PluginInstance {
  /**
   * Handles one callback. Throw to have it retried (see {@linkcode DeliveryErrorFields});
   * `signal` aborts when `delivery.handler_timeout` passes or imhookd shuts down.
   */
  handle(event: CallbackEvent, signal: AbortSignal): Promise<void> | void;
  /** Flushes and closes whatever the plugin holds. */
  [Symbol.asyncDispose]?(): Promise<void>;
}

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
// The payload types, as imhookd's core/protocol/payloads.ts declares them (plugin_test.ts
// checks that they are the same): integer fields are `number | string`, as Tencent sends both.
// BEGIN payloads.ts

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

// END payloads.ts
