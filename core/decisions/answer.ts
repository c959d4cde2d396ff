/**
 * Tencent's answer to a decision callback, per command, as its page for the command shows it.
 *
 * @module
 */
import type { DecisionRecord, FriendResult } from "../../plugin.ts";
import type { DecisionRules } from "./rules.ts";

/** The JSON body of an answer to a decision callback. */
export interface TencentAnswer {
  ActionStatus: "OK";
  ErrorCode: number;
  ErrorInfo: string;
  MsgBody?: unknown[];
  CloudCustomData?: string;
  RefusedMembers_Account?: string[];
  RefusedSubscribers_Account?: string[];
  ResultItem?: { To_Account: string; ResultCode: number; ResultInfo: string }[];
}

/** `ErrorCode` of a message discarded silently (the sender is told it was sent). */
const DROPPED = 2;

/**
 * The answer that carries `decision` for `rules`' command, given the callback's `payload`.
 * Every answer is `ActionStatus: "OK"` (Tencent's pages answer a reject that way too).
 * On `Sns.CallbackPrev*` commands a reject refuses every friend of the request, one
 * `ResultItem` each: Tencent ignores their `ErrorCode`.
 */
export function tencentAnswer(
  rules: DecisionRules,
  payload: Record<string, unknown>,
  decision: DecisionRecord,
): TencentAnswer {
  const friends = rules.friends;
  if (decision.verdict === "drop") {
    return { ActionStatus: "OK", ErrorCode: DROPPED, ErrorInfo: "" };
  }
  if (decision.verdict === "reject" && !friends) {
    return {
      ActionStatus: "OK",
      ErrorCode: decision.code ?? rules.defaultCode,
      ErrorInfo: decision.info ?? "",
    };
  }
  const answer: TencentAnswer = { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" };
  if (friends) {
    answer.ResultItem = resultItems(rules, payload, decision);
    return answer;
  }
  if (decision.replace?.MsgBody !== undefined) answer.MsgBody = decision.replace.MsgBody;
  if (decision.replace?.CloudCustomData !== undefined) {
    answer.CloudCustomData = decision.replace.CloudCustomData;
  }
  const refused = decision.refuseMembers ?? [];
  if (rules.refuseField !== undefined && refused.length > 0) answer[rules.refuseField] = refused;
  return answer;
}

/**
 * One result per friend of the request, in its order (allowed unless a decision refused it),
 * then the results the deciders gave for accounts the request does not list.
 */
function resultItems(
  rules: DecisionRules,
  payload: Record<string, unknown>,
  decision: DecisionRecord,
): NonNullable<TencentAnswer["ResultItem"]> {
  const given = new Map<string, FriendResult>();
  for (const result of decision.friendResults ?? []) given.set(result.To_Account, result);
  const accounts = new Set(friendAccounts(rules, payload));
  for (const account of given.keys()) accounts.add(account);
  const rejected = decision.verdict === "reject";
  return [...accounts].map((account) => {
    if (rejected) {
      return {
        To_Account: account,
        ResultCode: decision.code ?? rules.defaultCode,
        ResultInfo: decision.info ?? "",
      };
    }
    const result = given.get(account);
    return {
      To_Account: account,
      ResultCode: result?.ResultCode ?? 0,
      ResultInfo: result?.ResultInfo ?? "",
    };
  });
}

/** The `To_Account` of each friend in the request's list (or its `PairList`). */
function friendAccounts(rules: DecisionRules, payload: Record<string, unknown>): string[] {
  const list = payload[rules.friendItems ?? "PairList"] ?? payload.PairList;
  if (!Array.isArray(list)) return [];
  const accounts: string[] = [];
  for (const item of list) {
    const account = (item as { To_Account?: unknown } | null)?.To_Account;
    if (typeof account === "string") accounts.push(account);
  }
  return accounts;
}
