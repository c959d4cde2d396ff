/**
 * The table of known Tencent Cloud IM callback commands: one entry per command says whether
 * it is a decision (and what its answer may say), where its body names the command, which
 * schema checks its body, how its dedup and ordering keys are made, and the Tencent page that
 * documents it. Every list about commands (known commands, metric labels, schemas, keys,
 * samples, the docs' table) is derived from it. zod-free (the schemas are named, not
 * imported), so the keys stay light.
 *
 * To add a command: one entry here (with a schema of `schemas.ts`, a new one if no shape
 * fits), its sample body in `samples.json`, and the page's example in
 * `tests/fixtures/tencent/`.
 *
 * @module
 */
import type * as P from "./payloads.ts";
import type { SchemaName } from "./schemas.ts";

/**
 * `before`: a synchronous decision, Tencent acts on the answer (the commands with
 * `.CallbackBefore` or `.CallbackPrev`, and `Chatbot.OnC2CSignalMessage`); `after`: a
 * notification, whose answer Tencent ignores.
 */
export type CommandKind = "before" | "after";

/**
 * Where a body names its command: `top`: `CallbackCommand` at the top, equal to the URL's;
 * `none`: nowhere (routed by the URL's; one given anyway must equal it); `events`:
 * `{"Events": [...]}`, in each event (each one given must equal the URL's).
 */
export type BodyCommand = "top" | "none" | "events";

/**
 * How the natural dedup key is made (see `keys.ts`), from: `groupMessage` `[GroupId,
 * TopicId, MsgSeq]`; `c2cMessage` `[MsgKey]`; `groupMessageExtension` `[GroupId, TopicId,
 * MsgSeq, Seq]`; `c2cMessageExtension` `[MsgKey, Seq]`; `officialAccountMessage`
 * `[Official_Account, MsgKey]`; `moderation` `[CtxcbRequestId]`; `callStart`
 * `[CallInfo.CallId]`; `callEnd` `[CallRecord.CallId]`; `bodyHash` the raw body (also the
 * fallback of the others when a field is missing or malformed).
 */
export type NaturalKeyKind =
  | "groupMessage"
  | "c2cMessage"
  | "groupMessageExtension"
  | "c2cMessageExtension"
  | "officialAccountMessage"
  | "moderation"
  | "callStart"
  | "callEnd"
  | "bodyHash";

/**
 * How the ordering group is found (see `keys.ts`): by `GroupId` for every kind but `none`;
 * then `c2c` by the unordered `From_Account`/`To_Account` pair, `officialAccount` by
 * `Official_Account`, `call` by the call's `CallId`, `room` by the live room's `RoomId`,
 * `deskSession` by `SessionId`; `none`: no group, no ordering.
 */
export type GroupKeyKind =
  | "group"
  | "c2c"
  | "officialAccount"
  | "call"
  | "room"
  | "deskSession"
  | "none";

/**
 * What the answer to a decision may say, as Tencent's page for the command documents it
 * (every answer is HTTP 200 with `ActionStatus` `"OK"`; `ErrorCode` 0 allows, 1 refuses).
 * Data for the decision code; the listener itself answers `ErrorCode` 0.
 */
export interface DecisionAnswer {
  /** The `ErrorCode` range of a refusal whose code and `ErrorInfo` reach the client. */
  readonly customCodes?: readonly [min: number, max: number];
  /** The error the client gets for a refusal with `ErrorCode` 1, where the page says. */
  readonly refusedError?: number;
  /** `ErrorCode` 2 drops the message silently: the sender is told it was sent. */
  readonly drop?: boolean;
  /** Fields an allowing answer may carry to replace the message's. */
  readonly replace?: readonly ("MsgBody" | "CloudCustomData")[];
  /**
   * Accounts refused one by one with `ErrorCode` 0: the answer's `field` lists some of the
   * accounts of the payload's list `from`.
   */
  readonly refuse?: {
    readonly field: "RefusedMembers_Account" | "RefusedSubscribers_Account";
    readonly from: "DestinationMembers" | "SubscribeAccountList";
  };
  /**
   * One `ResultItem {To_Account, ResultCode, ResultInfo}` per `To_Account` of this payload
   * list, a `ResultCode` in `customCodes` refusing that friend (Tencent ignores a failing
   * `ErrorCode` on these commands).
   */
  readonly resultItems?: "FriendItem" | "ResponseFriendItem";
  /** A string field an allowing answer must carry (`RspData`: handed back to the chatbot). */
  readonly data?: "RspData";
}

/**
 * One known command. `P` is its payload type (`payload` is never set; it only carries `P`
 * to {@linkcode CommandPayloads}).
 */
export interface CommandSpec<P = P.BasePayload> {
  readonly kind: CommandKind;
  /** Tencent's page for the command (other pages and revisions: its fixtures' `source`). */
  readonly page: string;
  readonly body: BodyCommand;
  /** The schema of `schemas.ts` that checks its body. */
  readonly schema: SchemaName;
  readonly naturalKey: NaturalKeyKind;
  readonly groupKey: GroupKeyKind;
  /** Decisions only: what the answer may say. */
  readonly answer?: DecisionAnswer;
  readonly payload?: P;
}

/** What an entry sets besides kind, page and schema; the rest takes the defaults. */
interface Options {
  body?: BodyCommand;
  naturalKey?: NaturalKeyKind;
  groupKey?: GroupKeyKind;
}

function after<T>(schema: SchemaName, page: string, options: Options = {}): CommandSpec<T> {
  return {
    kind: "after",
    page,
    body: "top",
    schema,
    naturalKey: "bodyHash",
    groupKey: "group",
    ...options,
  };
}

function before<T>(
  schema: SchemaName,
  page: string,
  answer: DecisionAnswer,
  options: Options = {},
): CommandSpec<T> {
  return { ...after<T>(schema, page, options), kind: "before", answer };
}

const GROUP_CODES = [10100, 10200] as const;
const C2C_CODES = [120001, 130000] as const;
const SNS_CODES = [38000, 39000] as const;
const GROUP_ANSWER: DecisionAnswer = { customCodes: GROUP_CODES, refusedError: 10016 };
const SEND_ANSWER: DecisionAnswer = { drop: true, replace: ["MsgBody", "CloudCustomData"] };

const NONE: Options = { groupKey: "none" };
const C2C: Options = { groupKey: "c2c" };
const C2C_MESSAGE: Options = { naturalKey: "c2cMessage", groupKey: "c2c" };
const GROUP_MESSAGE: Options = { naturalKey: "groupMessage" };
const OFFICIAL_ACCOUNT: Options = { groupKey: "officialAccount" };
const CALL: Options = { groupKey: "call" };
const ROOM: Options = { groupKey: "room" };

const INTL = "https://intl.cloud.tencent.com/document/product/1047/";
const INTL_NEW = "https://www.tencentcloud.com/document/product/1047/";
const CN = "https://cloud.tencent.com/document/product/269/";
const CN_TRTC = "https://cloud.tencent.com/document/product/647/";

/** Every known command, in the order of Tencent's command list (269/1523), then services. */
export const COMMANDS = {
  "Alert.RequestOverLimit": after<P.RequestOverLimitPayload>(
    "requestOverLimit",
    `${INTL_NEW}60256`,
    NONE,
  ),
  "State.StateChange": after<P.StateChangePayload>("stateChange", `${INTL}34357`, NONE),
  "Profile.CallbackPortraitSet": after<P.PortraitSetPayload>("portraitSet", `${INTL}48733`, NONE),
  "Sns.CallbackPrevFriendAdd": before<P.SnsPrevFriendAddPayload>(
    "snsPrevFriendAdd",
    `${INTL}43468`,
    { customCodes: SNS_CODES, resultItems: "FriendItem" },
    NONE,
  ),
  "Sns.CallbackPrevFriendResponse": before<P.SnsPrevFriendResponsePayload>(
    "snsPrevFriendResponse",
    `${INTL}43467`,
    { customCodes: SNS_CODES, resultItems: "ResponseFriendItem" },
    NONE,
  ),
  "Sns.CallbackFriendAdd": after<P.SnsPayload>("sns", `${INTL}34359`, NONE),
  "Sns.CallbackFriendDelete": after<P.SnsPayload>("sns", `${INTL}34360`, NONE),
  "Sns.CallbackBlackListAdd": after<P.SnsPayload>("sns", `${INTL}34361`, NONE),
  "Sns.CallbackBlackListDelete": after<P.SnsPayload>("sns", `${INTL}34362`, NONE),
  "Follow.CallbackAfterFollowAdd": after<P.FollowAddPayload>("followAdd", `${CN}118915`, NONE),
  "Follow.CallbackAfterFollowDelete": after<P.FollowDeletePayload>(
    "followDelete",
    `${INTL_NEW}70356`,
    NONE,
  ),
  "C2C.CallbackBeforeSendMsg": before<P.C2CBeforeSendMsgPayload>(
    "c2cBeforeSendMsg",
    `${CN}1632`,
    { customCodes: C2C_CODES, refusedError: 20006, ...SEND_ANSWER },
    C2C_MESSAGE,
  ),
  "C2C.CallbackAfterSendMsg": after<P.C2CAfterSendMsgPayload>(
    "c2cAfterSendMsg",
    `${INTL}34365`,
    C2C_MESSAGE,
  ),
  "C2C.CallbackAfterMsgReport": after<P.C2CMsgReportPayload>("c2cMsgReport", `${CN}61696`, C2C),
  "C2C.CallbackAfterMsgWithDraw": after<P.C2CMsgWithDrawPayload>(
    "c2cMsgWithDraw",
    `${INTL}43466`,
    C2C_MESSAGE,
  ),
  "C2C.CallbackAfterMsgReadReceipt": after<P.C2CMsgReadReceiptPayload>(
    "c2cMsgReadReceipt",
    `${CN}128223`,
    C2C,
  ),
  // One message is extended many times: each change has its own `Seq`.
  "C2C.CallbackAfterC2CMsgExtension": after<P.C2CMsgExtensionPayload>(
    "c2cMsgExtension",
    `${CN}126475`,
    { naturalKey: "c2cMessageExtension", groupKey: "c2c" },
  ),
  // One message is edited many times with the same MsgKey: each edit is its own event.
  "C2C.CallbackAfterModifyMsg": after<P.C2CModifyMsgPayload>("c2cModifyMsg", `${CN}128224`, C2C),
  "C2C.CallbackAfterMsgReadAll": after<P.C2CMsgReadAllPayload>(
    "c2cMsgReadAll",
    `${CN}128225`,
    C2C,
  ),
  "Group.CallbackBeforeCreateGroup": before<P.GroupBeforeCreatePayload>(
    "groupBeforeCreate",
    `${CN}1662`,
    GROUP_ANSWER,
  ),
  "Group.CallbackAfterCreateGroup": after<P.GroupAfterCreatePayload>(
    "groupAfterCreate",
    `${INTL}34369`,
  ),
  "Group.CallbackBeforeApplyJoinGroup": before<P.GroupApplyJoinPayload>(
    "groupApplyJoin",
    `${INTL}34370`,
    GROUP_ANSWER,
  ),
  "Group.CallbackBeforeInviteJoinGroup": before<P.GroupInviteJoinPayload>(
    "groupInviteJoin",
    `${INTL}34371`,
    {
      ...GROUP_ANSWER,
      refuse: { field: "RefusedMembers_Account", from: "DestinationMembers" },
    },
  ),
  "Group.CallbackAfterNewMemberJoin": after<P.GroupNewMemberJoinPayload>(
    "groupNewMemberJoin",
    `${INTL}34372`,
  ),
  "Group.CallbackAfterMemberExit": after<P.GroupMemberExitPayload>(
    "groupMemberExit",
    `${INTL}34373`,
  ),
  "Group.CallbackBeforeSendMsg": before<P.GroupBeforeSendMsgPayload>(
    "groupBeforeSendMsg",
    `${CN}1619`,
    { ...GROUP_ANSWER, ...SEND_ANSWER },
    GROUP_MESSAGE,
  ),
  "Group.CallbackAfterSendMsg": after<P.GroupAfterSendMsgPayload>(
    "groupAfterSendMsg",
    `${CN}2661`,
    GROUP_MESSAGE,
  ),
  "Group.CallbackSendMsgException": after<P.GroupSendMsgExceptionPayload>(
    "groupSendMsgException",
    `${INTL}49462`,
    GROUP_MESSAGE,
  ),
  "Group.CallbackAfterRecallMsg": after<P.GroupRecallMsgPayload>(
    "groupRecallMsg",
    `${INTL_NEW}46979`,
  ),
  "Group.CallbackAfterGroupFull": after<P.GroupFullPayload>("group", `${INTL}34376`),
  "Group.CallbackAfterGroupDestroyed": after<P.GroupDestroyedPayload>(
    "groupDestroyed",
    `${INTL}34377`,
  ),
  "Group.CallbackAfterGroupInfoChanged": after<P.GroupInfoChangedPayload>(
    "groupInfoChanged",
    `${CN}2930`,
  ),
  "Group.CallbackAfterGroupAttrChanged": after<P.GroupAttrChangedPayload>(
    "groupAttrChanged",
    `${CN}105354`,
  ),
  "Group.CallbackOnMemberStateChange": after<P.GroupMemberStateChangePayload>(
    "groupMemberStateChange",
    `${INTL}48734`,
  ),
  "Group.CallbackAfterMemberFieldChanged": after<P.GroupMemberFieldChangedPayload>(
    "groupMemberFieldChanged",
    `${CN}105353`,
  ),
  "Group.CallbackAfterChangeGroupOwner": after<P.GroupOwnerChangedPayload>(
    "groupOwnerChanged",
    `${CN}105356`,
  ),
  "Group.CallbackAfterReadReceipt": after<P.GroupReadReceiptPayload>(
    "groupReadReceipt",
    `${INTL_NEW}60395`,
  ),
  "Group.CallbackBeforeCreateTopic": before<P.GroupBeforeCreateTopicPayload>(
    "groupBeforeCreateTopic",
    `${CN}78206`,
    GROUP_ANSWER,
  ),
  "Group.CallbackAfterCreateTopic": after<P.GroupAfterCreateTopicPayload>(
    "groupAfterCreateTopic",
    `${INTL}49464`,
  ),
  "Group.CallbackAfterTopicDestroyed": after<P.GroupTopicDestroyedPayload>(
    "groupTopicDestroyed",
    `${INTL}49465`,
  ),
  "Group.CallbackAfterTopicInfoChanged": after<P.GroupTopicInfoChangedPayload>(
    "groupTopicInfoChanged",
    `${INTL}49466`,
  ),
  "Group.CallbackOnDailyGroupQuotaAlarm": after<P.GroupQuotaAlarmPayload>(
    "groupQuotaAlarm",
    `${CN}90841`,
    NONE,
  ),
  // One message is extended many times: each change has its own `Seq`.
  "Group.CallbackAfterGroupMsgExtension": after<P.GroupMsgExtensionPayload>(
    "groupMsgExtension",
    `${CN}126476`,
    { naturalKey: "groupMessageExtension" },
  ),
  // One message is edited many times with the same MsgSeq: each edit is its own event.
  "Group.CallbackAfterModifyMsg": after<P.GroupModifyMsgPayload>("groupModifyMsg", `${CN}129193`),
  "ContentCallback.ResultNotify": after<P.ModerationResultPayload>(
    "moderationResult",
    "https://www.tencentcloud.com/zh/document/product/1047/78240",
    { body: "none", naturalKey: "moderation", groupKey: "none" },
  ),
  "Bot.OnC2CMessage": after<P.C2CAfterSendMsgPayload>("botC2CMessage", `${CN}90407`, C2C_MESSAGE),
  "Bot.OnGroupMessage": after<P.BotGroupMessagePayload>(
    "botGroupMessage",
    `${INTL_NEW}68953`,
    GROUP_MESSAGE,
  ),
  "Chatbot.OnC2CSignalMessage": before<P.ChatbotSignalPayload>(
    "chatbotSignal",
    `${CN}103730`,
    { data: "RspData" },
    C2C_MESSAGE,
  ),
  "OfficialAccount.CallbackBeforeCreateOfficialAccount": before<
    P.OfficialAccountBeforeCreatePayload
  >(
    "officialAccountBeforeCreate",
    `${INTL_NEW}60795`,
    { customCodes: C2C_CODES, refusedError: 20006 },
    OFFICIAL_ACCOUNT,
  ),
  "OfficialAccount.CallbackAfterCreateOfficialAccount": after<P.OfficialAccountCreatedPayload>(
    "officialAccountCreated",
    `${INTL_NEW}60796`,
    OFFICIAL_ACCOUNT,
  ),
  "OfficialAccount.CallbackAfterOfficialAccountInfoChanged": after<
    P.OfficialAccountInfoChangedPayload
  >("officialAccountInfoChanged", `${INTL_NEW}60797`, OFFICIAL_ACCOUNT),
  "OfficialAccount.CallbackAfterOfficialAccountDestroyed": after<P.OfficialAccountCreatedPayload>(
    "officialAccountCreated",
    `${INTL_NEW}60798`,
    OFFICIAL_ACCOUNT,
  ),
  "OfficialAccount.CallbackBeforeAddSubscriber": before<P.OfficialAccountSubscribersPayload>(
    "officialAccountSubscribers",
    `${INTL_NEW}60799`,
    { refuse: { field: "RefusedSubscribers_Account", from: "SubscribeAccountList" } },
    OFFICIAL_ACCOUNT,
  ),
  "OfficialAccount.CallbackAfterAddSubscriber": after<P.OfficialAccountSubscribersPayload>(
    "officialAccountSubscribers",
    `${INTL_NEW}60800`,
    OFFICIAL_ACCOUNT,
  ),
  "OfficialAccount.CallbackAfterOfficialAccountFull": after<P.OfficialAccountPayload>(
    "officialAccount",
    `${INTL_NEW}60801`,
    OFFICIAL_ACCOUNT,
  ),
  "OfficialAccount.CallbackAfterDeleteSubscriber": after<P.OfficialAccountSubscribersPayload>(
    "officialAccountSubscribers",
    `${INTL_NEW}60802`,
    OFFICIAL_ACCOUNT,
  ),
  "OfficialAccount.CallbackBeforeSendMsg": before<P.OfficialAccountBeforeSendMsgPayload>(
    "officialAccountBeforeSendMsg",
    `${INTL_NEW}60803`,
    // The page gives the C2C range, and 10016 (a group code) for the client: as documented.
    { customCodes: C2C_CODES, refusedError: 10016, ...SEND_ANSWER },
    OFFICIAL_ACCOUNT,
  ),
  "OfficialAccount.CallbackAfterSendMsg": after<P.OfficialAccountAfterSendMsgPayload>(
    "officialAccountAfterSendMsg",
    `${INTL_NEW}60804`,
    { naturalKey: "officialAccountMessage", groupKey: "officialAccount" },
  ),
  "OfficialAccount.CallbackAfterMsgWithDraw": after<P.OfficialAccountMsgWithDrawPayload>(
    "officialAccountMsgWithDraw",
    `${INTL_NEW}60805`,
    OFFICIAL_ACCOUNT,
  ),
  "Push.OfflinePush": after<P.PushPayload>("push", `${CN}102567`, {
    body: "events",
    groupKey: "none",
  }),
  "Push.AllMemberPush": after<P.PushPayload>("push", `${CN}102568`, {
    body: "events",
    groupKey: "none",
  }),
  "Call.CallbackAfterStartCall": after<P.CallStartPayload>("callStart", `${CN_TRTC}116423`, {
    naturalKey: "callStart",
    groupKey: "call",
  }),
  "Call.CallbackAfterMemberChanged": after<P.CallMemberChangedPayload>(
    "callMemberChanged",
    "https://www.tencentcloud.com/document/product/647/69215",
    CALL,
  ),
  "Call.CallbackAfterEndCall": after<P.CallEndPayload>("callEnd", `${CN_TRTC}116424`, {
    naturalKey: "callEnd",
    groupKey: "call",
  }),
  "Desk.SessionEventNotify": after<P.DeskSessionEventPayload>(
    "deskSessionEvent",
    `${CN}111212`,
    { groupKey: "deskSession" },
  ),
  "Live.CallbackAfterCreateRoom": after<P.LiveRoomCreatedPayload>(
    "liveRoomCreated",
    `${CN_TRTC}110679`,
    ROOM,
  ),
  "Live.CallbackAfterMemberStateChanged": after<P.LiveMemberStateChangedPayload>(
    "liveMemberStateChanged",
    `${CN_TRTC}110526`,
    ROOM,
  ),
};

/** The name of a known command. */
export type KnownCommand = keyof typeof COMMANDS;

/** The payload type of each known command. */
export type CommandPayloads = {
  [K in KnownCommand]: (typeof COMMANDS)[K] extends CommandSpec<infer T> ? T : never;
};

/** A lookup, not `COMMANDS[name]`: a command such as `toString` must not find `Object`'s. */
const SPECS: ReadonlyMap<string, CommandSpec> = new Map(Object.entries(COMMANDS));

/** Every known command, in the order of {@linkcode COMMANDS}. */
export const KNOWN_COMMANDS: readonly string[] = Object.freeze([...SPECS.keys()]);

/** The entry of a known command; undefined for any other. */
export function commandSpec(command: string): CommandSpec | undefined {
  return SPECS.get(command);
}

/** Whether `command` is one of {@linkcode KNOWN_COMMANDS}. */
export function isKnownCommand(command: string): boolean {
  return SPECS.has(command);
}

/** For metric labels: the command if known, else `"other"` (keeps label values bounded). */
export function commandLabel(command: string): string {
  return SPECS.has(command) ? command : "other";
}

const DECISION_NAME = /\.Callback(Before|Prev)/;

/**
 * Whether Tencent waits for a decision on `command`: its entry's kind, and for a command not
 * in the table, Tencent's naming (`.CallbackBefore` or `.CallbackPrev`).
 */
export function commandKind(command: string): CommandKind {
  return SPECS.get(command)?.kind ?? (DECISION_NAME.test(command) ? "before" : "after");
}
