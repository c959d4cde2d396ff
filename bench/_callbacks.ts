/**
 * The signed `Group.CallbackAfterSendMsg` callbacks the benchmarks send, the same as
 * `bench/wrk/send_msg.lua` builds: a realistic body, each message its own (GroupId, MsgSeq).
 *
 * @module
 */
import { computeSign } from "../core/listener/verify.ts";

export const APP = "1400000000";
export const TOKEN = "bench-token";
export const COMMAND = "Group.CallbackAfterSendMsg";

const TEXTS = [
  "red packet",
  "see you at the meeting tomorrow, 10:00 in room 4",
  "好的，收到 👍",
  "https://example.com/some/shared/link?with=query",
];

/** The query Tencent sends, signed for now (valid for max_skew, 60 s by default). */
export function signedQuery(): string {
  const requestTime = String(Math.floor(Date.now() / 1000));
  return new URLSearchParams({
    SdkAppid: APP,
    CallbackCommand: COMMAND,
    contenttype: "json",
    ClientIP: "203.0.113.7",
    OptPlatform: "Android",
    RequestTime: requestTime,
    Sign: computeSign(TOKEN, requestTime),
  }).toString();
}

/** The body of message number `seq`, spread over 200 groups. */
export function messageBody(seq: number): string {
  const now = Date.now();
  return JSON.stringify({
    CallbackCommand: COMMAND,
    GroupId: `@TGS#bench${seq % 200}`,
    Type: "Public",
    From_Account: `user${seq % 997}`,
    Operator_Account: "admin",
    Random: (seq * 2654435761) % 4294967296,
    MsgSeq: seq,
    MsgTime: Math.floor(now / 1000),
    OnlineOnlyFlag: 0,
    MsgBody: [{
      MsgType: "TIMTextElem",
      MsgContent: { Text: `${TEXTS[seq % TEXTS.length]} #${seq}` },
    }],
    CloudCustomData: "",
    EventTime: String(now),
  });
}
