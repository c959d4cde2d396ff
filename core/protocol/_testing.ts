/**
 * Bodies and names shared by the protocol's unit tests.
 *
 * @module
 */

/** `Group.CallbackAfterSendMsg`. */
export const SEND = "Group.CallbackAfterSendMsg";
/** `Group.CallbackAfterGroupAttrChanged`. */
export const ATTR = "Group.CallbackAfterGroupAttrChanged";
/** `Group.CallbackAfterGroupInfoChanged`. */
export const INFO = "Group.CallbackAfterGroupInfoChanged";

/** A valid `Group.CallbackAfterSendMsg` body, with `extra` fields set or replaced. */
export function sendMsg(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    CallbackCommand: SEND,
    GroupId: "@TGS#2J4SZEAEL",
    From_Account: "jared",
    MsgSeq: 123,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }],
    ...extra,
  };
}
