/**
 * The table of known Tencent Cloud IM callback commands: one entry per command says whether
 * it is a decision, which schema checks its body, and how its dedup and ordering keys are
 * made. Every list about commands (known commands, metric labels, schemas, keys, samples)
 * is derived from it. zod-free (the schemas are named, not imported), so the keys stay light.
 *
 * To add a command: one entry here (with a schema of `schemas.ts`, a new one if no shape
 * fits) and its sample body in `samples.ts` (the type checker asks for it).
 *
 * @module
 */
import type {
  BasePayload,
  C2CAfterSendMsgPayload,
  C2CBeforeSendMsgPayload,
  C2CMsgReportPayload,
  C2CMsgWithDrawPayload,
  GroupAfterCreatePayload,
  GroupAfterSendMsgPayload,
  GroupApplyJoinPayload,
  GroupAttrChangedPayload,
  GroupBeforeCreatePayload,
  GroupBeforeSendMsgPayload,
  GroupDestroyedPayload,
  GroupFullPayload,
  GroupInfoChangedPayload,
  GroupInviteJoinPayload,
  GroupMemberExitPayload,
  GroupMemberFieldChangedPayload,
  GroupMemberStateChangePayload,
  GroupNewMemberJoinPayload,
  GroupOwnerChangedPayload,
  GroupQuotaAlarmPayload,
  GroupReadReceiptPayload,
  GroupRecallMsgPayload,
  GroupSendMsgExceptionPayload,
  GroupTopicPayload,
  PortraitSetPayload,
  SnsPayload,
  StateChangePayload,
} from "./payloads.ts";
import type { SchemaName } from "./schemas.ts";

/**
 * `before`: a synchronous decision, Tencent acts on the answer (by Tencent's naming, the
 * commands with `.CallbackBefore` or `.CallbackPrev`); `after`: a notification.
 */
export type CommandKind = "before" | "after";

/**
 * How the natural dedup key is made (see `keys.ts`): `groupMessage` from
 * `[GroupId, TopicId, MsgSeq]`, `c2cMessage` from `[MsgKey]`, `bodyHash` from the raw body.
 */
export type NaturalKeyKind = "groupMessage" | "c2cMessage" | "bodyHash";

/**
 * How the ordering group is found (see `keys.ts`): `group` by `GroupId`; `c2c` by
 * `GroupId`, else by the unordered `From_Account`/`To_Account` pair.
 */
export type GroupKeyKind = "group" | "c2c";

/**
 * One known command. `P` is its payload type (`payload` is never set; it only carries `P`
 * to {@linkcode CommandPayloads}). A decision's answer (its fields and the error codes
 * Tencent accepts) belongs here too, on the `before` entries.
 */
export interface CommandSpec<P extends BasePayload = BasePayload> {
  readonly kind: CommandKind;
  /** The schema of `schemas.ts` that checks its body. */
  readonly schema: SchemaName;
  readonly naturalKey: NaturalKeyKind;
  readonly groupKey: GroupKeyKind;
  readonly payload?: P;
}

/** The keys of an entry, when they are not the defaults (`bodyHash`, `group`). */
interface Keys {
  naturalKey?: NaturalKeyKind;
  groupKey?: GroupKeyKind;
}

function before<P extends BasePayload>(schema: SchemaName, keys: Keys = {}): CommandSpec<P> {
  return { kind: "before", schema, naturalKey: "bodyHash", groupKey: "group", ...keys };
}

function after<P extends BasePayload>(schema: SchemaName, keys: Keys = {}): CommandSpec<P> {
  return { kind: "after", schema, naturalKey: "bodyHash", groupKey: "group", ...keys };
}

const GROUP_MESSAGE: Keys = { naturalKey: "groupMessage" };
const C2C_MESSAGE: Keys = { naturalKey: "c2cMessage", groupKey: "c2c" };
const C2C: Keys = { groupKey: "c2c" };

/** Every known command, in the order of Tencent's command list. */
export const COMMANDS = {
  "Group.CallbackBeforeCreateGroup": before<GroupBeforeCreatePayload>("groupBeforeCreate"),
  "Group.CallbackAfterCreateGroup": after<GroupAfterCreatePayload>("groupAfterCreate"),
  "Group.CallbackBeforeApplyJoinGroup": before<GroupApplyJoinPayload>("groupApplyJoin"),
  "Group.CallbackBeforeInviteJoinGroup": before<GroupInviteJoinPayload>("groupInviteJoin"),
  "Group.CallbackAfterNewMemberJoin": after<GroupNewMemberJoinPayload>("groupNewMemberJoin"),
  "Group.CallbackAfterMemberExit": after<GroupMemberExitPayload>("groupMemberExit"),
  "Group.CallbackBeforeSendMsg": before<GroupBeforeSendMsgPayload>(
    "groupBeforeSendMsg",
    GROUP_MESSAGE,
  ),
  "Group.CallbackAfterSendMsg": after<GroupAfterSendMsgPayload>(
    "groupAfterSendMsg",
    GROUP_MESSAGE,
  ),
  "Group.CallbackSendMsgException": after<GroupSendMsgExceptionPayload>(
    "groupSendMsgException",
    GROUP_MESSAGE,
  ),
  "Group.CallbackAfterRecallMsg": after<GroupRecallMsgPayload>("groupRecallMsg"),
  "Group.CallbackAfterGroupFull": after<GroupFullPayload>("group"),
  "Group.CallbackAfterGroupDestroyed": after<GroupDestroyedPayload>("groupDestroyed"),
  "Group.CallbackAfterGroupInfoChanged": after<GroupInfoChangedPayload>("groupInfoChanged"),
  "Group.CallbackAfterGroupAttrChanged": after<GroupAttrChangedPayload>("groupAttrChanged"),
  "Group.CallbackOnMemberStateChange": after<GroupMemberStateChangePayload>(
    "groupMemberStateChange",
  ),
  "Group.CallbackAfterMemberFieldChanged": after<GroupMemberFieldChangedPayload>(
    "groupMemberFieldChanged",
  ),
  "Group.CallbackAfterChangeGroupOwner": after<GroupOwnerChangedPayload>("groupOwnerChanged"),
  "Group.CallbackAfterReadReceipt": after<GroupReadReceiptPayload>("groupReadReceipt"),
  "Group.CallbackBeforeCreateTopic": before<GroupTopicPayload>("groupTopic"),
  "Group.CallbackAfterCreateTopic": after<GroupTopicPayload>("groupTopic"),
  "Group.CallbackAfterTopicDestroyed": after<GroupTopicPayload>("groupTopic"),
  "Group.CallbackAfterTopicInfoChanged": after<GroupTopicPayload>("groupTopic"),
  "Group.CallbackOnDailyGroupQuotaAlarm": after<GroupQuotaAlarmPayload>("groupQuotaAlarm"),
  "State.StateChange": after<StateChangePayload>("stateChange"),
  "Profile.CallbackPortraitSet": after<PortraitSetPayload>("portraitSet"),
  "Sns.CallbackPrevFriendAdd": before<SnsPayload>("sns"),
  "Sns.CallbackPrevFriendResponse": before<SnsPayload>("sns"),
  "Sns.CallbackFriendAdd": after<SnsPayload>("sns"),
  "Sns.CallbackFriendDelete": after<SnsPayload>("sns"),
  "Sns.CallbackBlackListAdd": after<SnsPayload>("sns"),
  "Sns.CallbackBlackListDelete": after<SnsPayload>("sns"),
  "C2C.CallbackBeforeSendMsg": before<C2CBeforeSendMsgPayload>("c2cBeforeSendMsg", C2C_MESSAGE),
  "C2C.CallbackAfterSendMsg": after<C2CAfterSendMsgPayload>("c2cAfterSendMsg", C2C_MESSAGE),
  "C2C.CallbackAfterMsgReport": after<C2CMsgReportPayload>("c2cMsgReport", C2C),
  "C2C.CallbackAfterMsgWithDraw": after<C2CMsgWithDrawPayload>("c2cMsgWithDraw", C2C_MESSAGE),
};

/** The name of a known command. */
export type KnownCommand = keyof typeof COMMANDS;

/** The payload type of each known command. */
export type CommandPayloads = {
  [K in KnownCommand]: (typeof COMMANDS)[K] extends CommandSpec<infer P> ? P : never;
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
