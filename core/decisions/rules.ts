/**
 * What each decision command (Tencent's synchronous `.CallbackBefore*` and `.CallbackPrev*`
 * callbacks) lets a decision say: the verdicts, the reject codes that reach the client, and
 * the fields its answer may carry, from the command table's `answer` entries
 * (`core/protocol/commands.ts`).
 *
 * @module
 */
import { commandKind, commandSpec, type DecisionAnswer } from "../protocol/commands.ts";

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
  /** The fields an allow may replace (`MsgBody`, `CloudCustomData`); none for most commands. */
  replace: readonly ("MsgBody" | "CloudCustomData")[];
  /** The answer's field for the accounts refused, if some may be. */
  refuseField?: NonNullable<DecisionAnswer["refuse"]>["field"];
  /** Whether the answer is a `ResultItem` per friend (`Sns.CallbackPrev*`). */
  friends: boolean;
  /** The payload's list of friends (`To_Account`) answered one by one, if known. */
  friendItems?: DecisionAnswer["resultItems"];
}

const DECISION_NAME = /\.Callback(Before|Prev)/;

function rulesOf(command: string, answer: DecisionAnswer): DecisionRules {
  // Refusals of friends go in ResultItem with a code of the custom range: Tencent ignores
  // these commands' ErrorCode, and its pages name no generic code for them.
  const friends = answer.resultItems !== undefined || command.startsWith("Sns.CallbackPrev");
  const custom = answer.customCodes ?? (friends ? [38000, 39000] as const : undefined);
  return {
    command,
    ...(custom !== undefined ? { custom } : {}),
    generic: !friends,
    defaultCode: friends ? custom![0] : 1,
    drop: answer.drop === true,
    replace: answer.replace ?? [],
    ...(answer.refuse !== undefined ? { refuseField: answer.refuse.field } : {}),
    friends,
    ...(answer.resultItems !== undefined ? { friendItems: answer.resultItems } : {}),
  };
}

/**
 * Whether `command` is a decision plugins answer: a synchronous command named
 * `.CallbackBefore*` or `.CallbackPrev*` (as Tencent names them). `Chatbot.OnC2CSignalMessage`,
 * synchronous too, answers the chatbot's `RspData` instead: it stays a plain callback.
 */
export function isDecisionCommand(command: string): boolean {
  return DECISION_NAME.test(command) && commandKind(command) === "before";
}

/**
 * The rules of a decision command; undefined for other commands. A decision command Tencent
 * added after the table was written takes `allow` and the generic reject (`ErrorCode` 1)
 * only (an `Sns.CallbackPrev*` one, friend results too), what every one of them understands.
 */
export function decisionRules(command: string): DecisionRules | undefined {
  const cached = CACHE.get(command);
  if (cached !== undefined) return cached;
  if (!isDecisionCommand(command)) return undefined;
  const rules = rulesOf(command, commandSpec(command)?.answer ?? {});
  // Commands come from authenticated requests, but keep the cache bounded anyway.
  if (CACHE.size < CACHE_LIMIT) CACHE.set(command, rules);
  return rules;
}

/** The rules made so far, by command: one object per command, not one per callback. */
const CACHE = new Map<string, DecisionRules>();
const CACHE_LIMIT = 256;
