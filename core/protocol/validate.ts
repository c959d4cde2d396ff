/**
 * Validation of callback bodies against the schema their command's entry names, with a
 * quick path for the plain text messages that make most of the traffic.
 *
 * @module
 */
import type { z } from "zod";
import { COMMANDS, commandSpec } from "./commands.ts";
import { isIntLike } from "./_ints.ts";
import { issueMessage, MSG_CONTENT_SCHEMAS, type SchemaName, SCHEMAS, valueAt } from "./schemas.ts";

/**
 * The fields of a message shape, by the type its schema gives them; `others` are the typed
 * fields the quick check leaves to zod (when one is present, zod decides).
 */
interface MessageFields {
  strings: readonly string[];
  optionalStrings: readonly string[];
  optionalInts: readonly string[];
  others: readonly string[];
  msgBodyRequired: boolean;
}

/**
 * The message shapes that make most of the traffic, restated from their schemas for
 * {@linkcode isPlainMessage}. Keep both in step: the protocol tests compare them.
 */
const MESSAGE_FIELDS: ReadonlyMap<SchemaName, MessageFields> = new Map<SchemaName, MessageFields>([
  ["groupAfterSendMsg", {
    strings: ["GroupId", "From_Account"],
    optionalStrings: [
      "CallbackCommand",
      "Type",
      "Operator_Account",
      "TopicId",
      "CloudCustomData",
      "MsgId",
    ],
    optionalInts: ["EventTime", "Random", "OnlineOnlyFlag", "MsgSeq", "MsgTime"],
    others: ["GroupAtInfo"],
    msgBodyRequired: true,
  }],
  ["c2cAfterSendMsg", {
    strings: ["From_Account", "To_Account"],
    optionalStrings: ["CallbackCommand", "MsgKey", "MsgId", "CloudCustomData", "ErrorInfo"],
    optionalInts: [
      "EventTime",
      "MsgSeq",
      "MsgRandom",
      "MsgTime",
      "OnlineOnlyFlag",
      "SendMsgResult",
      "UnreadMsgNum",
    ],
    others: [],
    msgBodyRequired: true,
  }],
]);

/** Each known command's schema, and the quick check of its shape if it has one. */
const CHECKS: ReadonlyMap<string, { schema: z.ZodType; fields: MessageFields | undefined }> =
  new Map(
    Object.entries(COMMANDS).map((
      [command, spec],
    ) => [command, { schema: SCHEMAS[spec.schema], fields: MESSAGE_FIELDS.get(spec.schema) }]),
  );

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A quick check that says only "certainly valid": true where the zod schema would accept,
 * false where zod must decide (and name what is wrong). Text messages only; any other known
 * `MsgType` with content goes to zod. Much cheaper than zod on the hot path.
 */
function isPlainMessage(fields: MessageFields, payload: Record<string, unknown>): boolean {
  for (const name of fields.strings) if (typeof payload[name] !== "string") return false;
  for (const name of fields.optionalStrings) {
    const v = payload[name];
    if (v !== undefined && typeof v !== "string") return false;
  }
  for (const name of fields.optionalInts) {
    const v = payload[name];
    if (v !== undefined && !isIntLike(v)) return false;
  }
  for (const name of fields.others) if (payload[name] !== undefined) return false;
  const body = payload.MsgBody;
  if (body === undefined) return !fields.msgBodyRequired;
  if (!Array.isArray(body)) return false;
  for (const element of body) {
    if (!isObject(element) || typeof element.MsgType !== "string") return false;
    const content = element.MsgContent;
    if (content === undefined) continue;
    if (!isObject(content)) return false;
    if (element.MsgType === "TIMTextElem") {
      if (content.Text !== undefined && typeof content.Text !== "string") return false;
    } else if (MSG_CONTENT_SCHEMAS.has(element.MsgType)) {
      return false;
    }
  }
  return true;
}

/** Problems an error names before it only counts the rest. */
const REPORTED_PROBLEMS = 5;

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(body)" : out;
}

/** Options of {@linkcode validatePayload}. */
export interface ValidateOptions {
  /** Accept plain text messages without zod (same decisions, faster). Default true. */
  quick?: boolean;
}

/**
 * Validates a parsed JSON object against its command's schema. Unknown commands are always ok.
 * Never mutates or coerces the payload. The error names the first failing field paths and
 * what was wrong, e.g. `MsgBody[0].MsgType: expected a string` or `GroupId: required`, then
 * counts the others (`and 7 more problems`); each list stops being checked after a few bad
 * items, so a hostile body costs little work and a short error.
 */
export function validatePayload(
  command: string,
  payload: Record<string, unknown>,
  options: ValidateOptions = {},
): { ok: true } | { ok: false; error: string } {
  const check = CHECKS.get(command);
  if (check === undefined) return { ok: true };
  const fields = options.quick === false ? undefined : check.fields;
  if (fields !== undefined && isPlainMessage(fields, payload)) return { ok: true };
  const result = check.schema.safeParse(payload);
  if (result.success) return { ok: true };
  const issues = result.error.issues;
  const parts = issues.slice(0, REPORTED_PROBLEMS).map((issue) => {
    const missing = valueAt(payload, issue.path) === undefined;
    return `${formatPath(issue.path)}: ${missing ? "required" : issueMessage(issue)}`;
  });
  if (issues.length > REPORTED_PROBLEMS) {
    const more = issues.length - REPORTED_PROBLEMS;
    parts.push(`and ${more} more problem${more === 1 ? "" : "s"}`);
  }
  return { ok: false, error: parts.join("; ") };
}

/** At most this many characters of a value quoted in an error. */
const QUOTED_CHARS = 64;

/** `value` as JSON, cut to {@linkcode QUOTED_CHARS} characters: errors stay short. */
export function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= QUOTED_CHARS ? text : `${text.slice(0, QUOTED_CHARS)}..."`;
}

/**
 * Checks that a body names the URL's command where its command says it does (see
 * `BodyCommand` in `commands.ts`; a command not in the table names it at the top). Returns
 * what is wrong, or undefined.
 */
export function checkBodyCommand(
  urlCommand: string,
  payload: Record<string, unknown>,
): string | undefined {
  const where = commandSpec(urlCommand)?.body ?? "top";
  const named = payload.CallbackCommand;
  if (named === undefined && where !== "top") {
    if (where === "events" && Array.isArray(payload.Events)) {
      const events: unknown[] = payload.Events;
      for (let i = 0; i < events.length; i++) {
        const event = events[i];
        if (!isObject(event) || event.CallbackCommand === undefined) continue;
        if (event.CallbackCommand !== urlCommand) {
          return `Events[${i}].CallbackCommand ${quote(event.CallbackCommand)} differs from the ` +
            `URL's ${quote(urlCommand)}`;
        }
      }
    }
    return undefined;
  }
  if (typeof named !== "string") return "Body has no CallbackCommand string";
  if (named !== urlCommand) {
    return `Body CallbackCommand ${quote(named)} differs from the URL's ${quote(urlCommand)}`;
  }
  return undefined;
}
