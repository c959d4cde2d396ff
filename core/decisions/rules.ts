/**
 * What each decision command (Tencent's synchronous `.CallbackBefore*` and `.CallbackPrev*`
 * callbacks) lets a decision say, from Tencent's page for each command: the verdicts, the
 * reject codes that reach the client, and the fields its answer may carry.
 *
 * @module
 */

/** What a decision command's answer may say. */
export interface DecisionRules {
  command: string;
  /** The `ErrorCode` range whose code and `ErrorInfo` reach the client, if the command has one. */
  custom?: readonly [min: number, max: number];
  /** Whether a reject may answer the generic `ErrorCode` 1. */
  generic: boolean;
  /** The code of a reject that names none (the fallback's too). */
  defaultCode: number;
  /** Whether `drop` (`ErrorCode` 2: discarded, the sender sees success) is allowed. */
  drop: boolean;
  /** Whether an allow may replace `MsgBody` and `CloudCustomData`. */
  replace: boolean;
  /** The answer's field for the accounts refused, if some may be. */
  refuseField?: "RefusedMembers_Account" | "RefusedSubscribers_Account";
  /** The payload's list of friends (`To_Account`) answered one by one in `ResultItem`, if any. */
  friendItems?: "FriendItem" | "ResponseFriendItem";
}

const GROUP_CODES = [10100, 10200] as const;
const C2C_CODES = [120001, 130000] as const;
const SNS_CODES = [38000, 39000] as const;

function rules(command: string, fields: Partial<DecisionRules>): DecisionRules {
  return { command, generic: true, defaultCode: 1, drop: false, replace: false, ...fields };
}

function friendRules(command: string, friendItems: DecisionRules["friendItems"]): DecisionRules {
  // Each friend gets a ResultCode; Tencent ignores a failed ErrorCode on these commands, and
  // its pages ask for refusals in the custom range.
  return rules(command, {
    custom: SNS_CODES,
    generic: false,
    defaultCode: SNS_CODES[0],
    ...(friendItems !== undefined ? { friendItems } : {}),
  });
}

/** The decision commands whose answers Tencent documents. */
const KNOWN: ReadonlyMap<string, DecisionRules> = new Map(
  [
    rules("Group.CallbackBeforeCreateGroup", { custom: GROUP_CODES }),
    rules("Group.CallbackBeforeApplyJoinGroup", { custom: GROUP_CODES }),
    rules("Group.CallbackBeforeInviteJoinGroup", {
      custom: GROUP_CODES,
      refuseField: "RefusedMembers_Account",
    }),
    rules("Group.CallbackBeforeSendMsg", { custom: GROUP_CODES, drop: true, replace: true }),
    rules("Group.CallbackBeforeCreateTopic", { custom: GROUP_CODES }),
    rules("C2C.CallbackBeforeSendMsg", { custom: C2C_CODES, drop: true, replace: true }),
    friendRules("Sns.CallbackPrevFriendAdd", "FriendItem"),
    friendRules("Sns.CallbackPrevFriendResponse", "ResponseFriendItem"),
    rules("OfficialAccount.CallbackBeforeCreateOfficialAccount", { custom: C2C_CODES }),
    rules("OfficialAccount.CallbackBeforeSendMsg", {
      custom: C2C_CODES,
      drop: true,
      replace: true,
    }),
    rules("OfficialAccount.CallbackBeforeAddSubscriber", {
      refuseField: "RefusedSubscribers_Account",
    }),
  ].map((entry) => [entry.command, entry]),
);

/** Whether `command` is a decision: Tencent acts on the answer. */
export function isDecisionCommand(command: string): boolean {
  return command.includes(".CallbackBefore") || command.includes(".CallbackPrev");
}

/**
 * The rules of a decision command; undefined for other commands. A decision command Tencent
 * added after this table was written takes `allow` and the generic reject (`ErrorCode` 1)
 * only (an `Sns.CallbackPrev*` one, custom codes per friend too), the answers every one of
 * them understands.
 */
export function decisionRules(command: string): DecisionRules | undefined {
  const known = KNOWN.get(command);
  if (known !== undefined) return known;
  if (!isDecisionCommand(command)) return undefined;
  if (command.startsWith("Sns.")) return friendRules(command, undefined);
  return rules(command, {});
}

/** The decision commands whose answers Tencent documents (for `check` and the docs). */
export const DECISION_COMMANDS: readonly string[] = Object.freeze([...KNOWN.keys()]);
