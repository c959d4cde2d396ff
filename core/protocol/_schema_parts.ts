/**
 * The pieces the callback schemas are built from: Tencent's integers, bounded lists, message
 * bodies, member lists. Loose objects everywhere: unknown fields are kept, and nothing
 * transforms, so validating never changes what is delivered.
 *
 * @module
 */
import { z } from "zod";
import type { IntLike } from "./payloads.ts";
import { isIntLike, isNumberLike } from "./_ints.ts";

/** An integer: a JSON number or a digit string. */
export const int = z.custom<IntLike>(isIntLike, {
  message: "expected an integer or a digit string",
});
/** A number: a JSON number or a decimal string. */
export const num = z.custom<IntLike>(isNumberLike, {
  message: "expected a number or a numeric string",
});
export const str = z.string();
export const optStr = str.optional();
export const optInt = int.optional();

/**
 * Bad items a list reports before it stops checking the rest: a hostile body of a million
 * bad elements costs a few checks and a short error, not a million of each.
 */
export const LIST_BAD_ITEMS = 10;

/** The value at `path` under `root`, or undefined where the path leaves the JSON. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

const ARTICLE: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "a boolean",
  array: "an array",
  object: "an object",
};

/** What a zod issue found wrong, in words: `expected a string`, `expected one of "a", "b"`. */
export function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${ARTICLE[issue.expected] ?? issue.expected}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message;
  }
}

/** Reports the issues of `result` (a check of `input`) at `prefix` under the refined value. */
export function addIssues(
  ctx: z.core.$RefinementCtx,
  prefix: readonly PropertyKey[],
  input: unknown,
  issues: readonly z.core.$ZodIssue[],
): void {
  for (const issue of issues) {
    ctx.addIssue({
      code: "custom",
      message: issueMessage(issue),
      path: [...prefix, ...issue.path],
      input: valueAt(input, issue.path),
    });
  }
}

/**
 * A list of `item`s that stops checking after {@linkcode LIST_BAD_ITEMS} bad ones (it says
 * so at the list's path). `T` is the item's type, for the payload types.
 */
export function list<T = unknown>(item: z.ZodType): z.ZodType<T[]> {
  return z.array(z.unknown()).superRefine((items, ctx) => {
    let bad = 0;
    for (let i = 0; i < items.length; i++) {
      const result = item.safeParse(items[i]);
      if (result.success) continue;
      addIssues(ctx, [i], items[i], result.error.issues);
      if (++bad === LIST_BAD_ITEMS && i < items.length - 1) {
        ctx.addIssue({
          code: "custom",
          message: `not checked past ${LIST_BAD_ITEMS} bad items`,
          path: [],
          input: items,
        });
        return;
      }
    }
  }) as unknown as z.ZodType<T[]>;
}

/** Known fields of known MsgTypes, checked loosely (all optional). */
export const MSG_CONTENT_SCHEMAS: ReadonlyMap<string, z.ZodType> = new Map<string, z.ZodType>([
  ["TIMTextElem", z.looseObject({ Text: optStr })],
  [
    "TIMLocationElem",
    z.looseObject({ Desc: optStr, Latitude: num.optional(), Longitude: num.optional() }),
  ],
  ["TIMFaceElem", z.looseObject({ Index: optInt, Data: optStr })],
  ["TIMCustomElem", z.looseObject({ Data: optStr, Desc: optStr, Ext: optStr, Sound: optStr })],
  [
    "TIMSoundElem",
    z.looseObject({
      Url: optStr,
      UUID: optStr,
      Size: optInt,
      Second: optInt,
      Download_Flag: optInt,
    }),
  ],
  [
    "TIMImageElem",
    z.looseObject({
      UUID: optStr,
      ImageFormat: optInt,
      ImageInfoArray: list(z.looseObject({
        Type: optInt,
        Size: optInt,
        Width: optInt,
        Height: optInt,
        URL: optStr,
      })).optional(),
    }),
  ],
  [
    "TIMFileElem",
    z.looseObject({
      Url: optStr,
      UUID: optStr,
      FileSize: optInt,
      FileName: optStr,
      Download_Flag: optInt,
    }),
  ],
  [
    "TIMVideoFileElem",
    z.looseObject({
      VideoUrl: optStr,
      VideoUUID: optStr,
      VideoSize: optInt,
      VideoSecond: optInt,
      VideoFormat: optStr,
      VideoDownloadFlag: optInt,
      ThumbUrl: optStr,
      ThumbUUID: optStr,
      ThumbSize: optInt,
      ThumbWidth: optInt,
      ThumbHeight: optInt,
      ThumbFormat: optStr,
      ThumbDownloadFlag: optInt,
    }),
  ],
  [
    "TIMRelayElem",
    z.looseObject({
      Title: optStr,
      MsgNum: optInt,
      CompatibleText: optStr,
      AbstractList: z.array(z.unknown()).optional(),
      MsgList: z.array(z.unknown()).optional(),
      JsonMsgKey: optStr,
    }),
  ],
]);

const msgBodyElement = z.looseObject({ MsgType: str, MsgContent: z.looseObject({}).optional() })
  .superRefine((el, ctx) => {
    const content = MSG_CONTENT_SCHEMAS.get(el.MsgType);
    if (content === undefined || el.MsgContent === undefined) return;
    const result = content.safeParse(el.MsgContent);
    if (!result.success) addIssues(ctx, ["MsgContent"], el.MsgContent, result.error.issues);
  });

/** `MsgBody`: a list of `{MsgType, MsgContent}`. */
export const msgBody = list(msgBodyElement);

/** `[{Member_Account}]`. */
export const memberList = list(z.looseObject({ Member_Account: optStr }));
/** `[{Key, Value}]` (group and topic custom fields). */
export const userDefinedDataList = list(z.looseObject({ Key: optStr, Value: optStr }));
/** A list of strings (account ids, topic ids, keywords). */
export const stringList = list(str);
/** `ExtensionList` of the message extension commands. */
export const extensionList = list(z.looseObject({ Key: optStr, Value: optStr, Seq: optInt }));

/** Fields every body with its command at the top may carry. */
export const base = { CallbackCommand: optStr, EventTime: optInt };
