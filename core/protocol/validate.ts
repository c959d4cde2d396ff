/**
 * Validation of callback bodies against the schema their command's entry names, with a
 * quick path for the plain text messages that make most of the traffic.
 *
 * @module
 */
import type { z } from "zod";
import { COMMANDS } from "./commands.ts";
import { isIntLike } from "./_ints.ts";
import { issueMessage, MSG_CONTENT_SCHEMAS, type SchemaName, SCHEMAS, valueAt } from "./schemas.ts";

/** The fields of a message shape, by the type its schema gives them. */
interface MessageFields {
  strings: readonly string[];
  optionalStrings: readonly string[];
  ints: readonly string[];
  optionalInts: readonly string[];
  msgBodyRequired: boolean;
}

/**
 * The message shapes that make most of the traffic, restated from their schemas for
 * {@linkcode isPlainMessage}. Keep both in step: the protocol tests compare them.
 */
const MESSAGE_FIELDS: ReadonlyMap<SchemaName, MessageFields> = new Map<SchemaName, MessageFields>([
  ["groupAfterSendMsg", {
    strings: ["GroupId", "From_Account"],
    optionalStrings: ["CallbackCommand", "Type", "Operator_Account", "TopicId", "CloudCustomData"],
    ints: ["MsgSeq"],
    optionalInts: ["EventTime", "Random", "OnlineOnlyFlag", "MsgTime"],
    msgBodyRequired: true,
  }],
  ["c2cAfterSendMsg", {
    strings: ["MsgKey"],
    optionalStrings: [
      "CallbackCommand",
      "From_Account",
      "To_Account",
      "CloudCustomData",
      "ErrorInfo",
    ],
    ints: [],
    optionalInts: [
      "EventTime",
      "MsgSeq",
      "MsgRandom",
      "MsgTime",
      "OnlineOnlyFlag",
      "SendMsgResult",
      "UnreadMsgNum",
    ],
    msgBodyRequired: false,
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
  for (const name of fields.ints) if (!isIntLike(payload[name])) return false;
  for (const name of fields.optionalInts) {
    const v = payload[name];
    if (v !== undefined && !isIntLike(v)) return false;
  }
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
 * Never mutates or coerces the payload. The error names each failing field path and what was
 * wrong, e.g. `MsgBody[0].MsgType: expected a string` or `GroupId: required`.
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
  const parts = result.error.issues.map((issue) => {
    const missing = valueAt(payload, issue.path) === undefined;
    return `${formatPath(issue.path)}: ${missing ? "required" : issueMessage(issue)}`;
  });
  return { ok: false, error: parts.join("; ") };
}
