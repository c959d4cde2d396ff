/**
 * The pieces the payload types of `payloads*.ts` share: integers, the base of every body,
 * message elements, member lists, custom fields. Re-exported by `plugin.ts` and
 * `core/protocol/payloads.ts`.
 *
 * @module
 */

/** An integer as Tencent sends it: a JSON number or a digit string such as `"1670574414123"`. */
export type IntLike = number | string;

/**
 * The parsed JSON body of any callback. Most bodies name their command in `CallbackCommand`;
 * `ContentCallback.ResultNotify` and the `Push.*` bodies (`{"Events": [...]}`) do not, and
 * are routed by the URL's.
 */
export type CallbackPayload = Record<string, unknown> & { CallbackCommand?: string };

/** Fields every callback body with its command at the top may carry; unknown fields are kept. */
export interface BasePayload {
  /** Absent from the bodies that do not name their command (see {@linkcode CallbackPayload}). */
  CallbackCommand?: string;
  /** When the event happened, in ms since the epoch (seconds inside `Push.*` events). */
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

/** A custom field of `UserDefinedDataList` (capitalised `Key`/`Value`). */
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

/** One key of a message extension (`ExtensionList`): `Value` is `""` once deleted. */
export interface MessageExtension {
  Key?: string;
  Value?: string;
  /** The version of the message's extensions this key was last set at. */
  Seq?: IntLike;
  [key: string]: unknown;
}

/** The fields of a message sent to one account (C2C, chatbots). */
export interface OneToOneMessage extends BasePayload {
  From_Account: string;
  To_Account: string;
  MsgSeq?: IntLike;
  MsgRandom?: IntLike;
  /** Seconds since the epoch. */
  MsgTime?: IntLike;
  /** The message's id (`MsgSeq_MsgRandom_MsgTime`); absent from some revisions of the pages. */
  MsgKey?: string;
  /** The id the sending client gave the message (newer pages). */
  MsgId?: string;
  OnlineOnlyFlag?: IntLike;
  MsgBody: MsgBodyElement[];
  CloudCustomData?: string;
}
