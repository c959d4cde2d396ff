/**
 * Checks what a decider returned against what its command takes (see `rules.ts`).
 *
 * @module
 */
import type { Decision, FriendResult } from "../../plugin.ts";
import type { DecisionRules } from "./rules.ts";

const DECISION_KEYS = new Set([
  "verdict",
  "code",
  "info",
  "replace",
  "refuseMembers",
  "friendResults",
]);
const FRIEND_KEYS = new Set(["To_Account", "ResultCode", "ResultInfo"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  } catch {
    return String(value);
  }
}

function unknownKey(value: Record<string, unknown>, known: Set<string>): string | undefined {
  return Object.keys(value).find((key) => !known.has(key));
}

/** The codes a reject of `rules`' command may carry, as a message says them. */
export function describeCodes(rules: DecisionRules): string {
  const range = rules.custom === undefined ? undefined : `${rules.custom[0]}-${rules.custom[1]}`;
  if (rules.generic) return range === undefined ? "1" : `1 or ${range}`;
  return range ?? "none";
}

/** Whether a reject of `rules`' command may carry `code`. */
export function isRejectCode(rules: DecisionRules, code: number): boolean {
  if (code === 1) return rules.generic;
  return rules.custom !== undefined && code >= rules.custom[0] && code <= rules.custom[1];
}

/**
 * `value` as a {@linkcode Decision} of `rules`' command, or undefined for no opinion
 * (`undefined` or `null`). Throws a `TypeError` for a wrong shape or a field the command or
 * verdict does not take, a `RangeError` for a code outside the command's range.
 */
export function checkDecision(rules: DecisionRules, value: unknown): Decision | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    throw new TypeError(`Decision ${show(value)}: expected an object with a verdict, or undefined`);
  }
  const extra = unknownKey(value, DECISION_KEYS);
  if (extra !== undefined) {
    throw new TypeError(
      `Decision field "${extra}": unknown; expected ${[...DECISION_KEYS].join(", ")}`,
    );
  }
  const { verdict } = value;
  if (verdict !== "allow" && verdict !== "reject" && verdict !== "drop") {
    throw new TypeError(`Decision verdict ${show(verdict)}: expected "allow", "reject" or "drop"`);
  }
  if (verdict === "drop" && !rules.drop) {
    throw new TypeError(`Decision verdict "drop": ${rules.command} cannot drop silently`);
  }
  const decision: Decision = { verdict };
  for (const key of ["code", "info"] as const) {
    if (value[key] !== undefined && verdict !== "reject") {
      throw new TypeError(`Decision field "${key}": only a reject takes one`);
    }
  }
  if (value.code !== undefined) {
    const code = value.code;
    if (typeof code !== "number" || !Number.isInteger(code)) {
      throw new TypeError(`Decision code ${show(code)}: expected an integer`);
    }
    if (!isRejectCode(rules, code)) {
      throw new RangeError(
        `Decision code ${code}: ${rules.command} takes ${describeCodes(rules)}`,
      );
    }
    decision.code = code;
  }
  if (value.info !== undefined) {
    if (typeof value.info !== "string") {
      throw new TypeError(`Decision info ${show(value.info)}: expected a string`);
    }
    decision.info = value.info;
  }
  for (const key of ["replace", "refuseMembers", "friendResults"] as const) {
    if (value[key] !== undefined && verdict !== "allow") {
      throw new TypeError(`Decision field "${key}": only an allow takes one`);
    }
  }
  if (value.replace !== undefined) decision.replace = checkReplace(rules, value.replace);
  if (value.refuseMembers !== undefined) {
    decision.refuseMembers = checkRefused(rules, value.refuseMembers);
  }
  if (value.friendResults !== undefined) {
    decision.friendResults = checkFriendResults(rules, value.friendResults);
  }
  return decision;
}

function checkReplace(rules: DecisionRules, replace: unknown): NonNullable<Decision["replace"]> {
  if (rules.replace.length === 0) {
    throw new TypeError(`Decision field "replace": ${rules.command} carries no message to replace`);
  }
  if (!isRecord(replace)) {
    throw new TypeError(`Decision replace ${show(replace)}: expected an object`);
  }
  const extra = Object.keys(replace).find((key) => !(rules.replace as string[]).includes(key));
  if (extra !== undefined) {
    throw new TypeError(
      `Decision field "replace.${extra}": expected ${rules.replace.join(" or ")}`,
    );
  }
  const out: NonNullable<Decision["replace"]> = {};
  const body = replace.MsgBody;
  if (body !== undefined) {
    if (!Array.isArray(body)) {
      throw new TypeError(`Decision replace.MsgBody ${show(body)}: expected an array`);
    }
    body.forEach((element, i) => {
      if (!isRecord(element) || typeof element.MsgType !== "string") {
        throw new TypeError(
          `Decision replace.MsgBody[${i}] ${
            show(element)
          }: expected an object with a MsgType string`,
        );
      }
      if (element.MsgContent !== undefined && !isRecord(element.MsgContent)) {
        throw new TypeError(`Decision replace.MsgBody[${i}].MsgContent: expected an object`);
      }
    });
    out.MsgBody = body as NonNullable<Decision["replace"]>["MsgBody"];
  }
  if (replace.CloudCustomData !== undefined) {
    if (typeof replace.CloudCustomData !== "string") {
      throw new TypeError(
        `Decision replace.CloudCustomData ${show(replace.CloudCustomData)}: expected a string`,
      );
    }
    out.CloudCustomData = replace.CloudCustomData;
  }
  return out;
}

function checkRefused(rules: DecisionRules, refused: unknown): string[] {
  if (rules.refuseField === undefined) {
    throw new TypeError(`Decision field "refuseMembers": ${rules.command} cannot refuse members`);
  }
  if (!Array.isArray(refused) || refused.some((account) => typeof account !== "string")) {
    throw new TypeError(`Decision refuseMembers ${show(refused)}: expected a list of accounts`);
  }
  return refused as string[];
}

function checkFriendResults(rules: DecisionRules, results: unknown): FriendResult[] {
  if (!rules.friends) {
    throw new TypeError(
      `Decision field "friendResults": ${rules.command} has no friends to answer`,
    );
  }
  if (!Array.isArray(results)) {
    throw new TypeError(`Decision friendResults ${show(results)}: expected a list`);
  }
  return results.map((item, i): FriendResult => {
    const at = `Decision friendResults[${i}]`;
    if (!isRecord(item) || typeof item.To_Account !== "string") {
      throw new TypeError(`${at} ${show(item)}: expected an object with a To_Account string`);
    }
    const extra = unknownKey(item, FRIEND_KEYS);
    if (extra !== undefined) {
      throw new TypeError(`${at}.${extra}: unknown; expected To_Account, ResultCode, ResultInfo`);
    }
    const code = item.ResultCode;
    if (typeof code !== "number" || !Number.isInteger(code)) {
      throw new TypeError(`${at}.ResultCode ${show(code)}: expected an integer`);
    }
    if (code !== 0 && !isRejectCode(rules, code)) {
      throw new RangeError(
        `${at}.ResultCode ${code}: ${rules.command} takes 0 or ${describeCodes(rules)}`,
      );
    }
    if (item.ResultInfo !== undefined && typeof item.ResultInfo !== "string") {
      throw new TypeError(`${at}.ResultInfo ${show(item.ResultInfo)}: expected a string`);
    }
    return {
      To_Account: item.To_Account,
      ResultCode: code,
      ...(item.ResultInfo !== undefined ? { ResultInfo: item.ResultInfo as string } : {}),
    };
  });
}
