/**
 * Apply rate of `builtin:sqlite_sync`: 100,000 `Group.CallbackAfterSendMsg` callbacks and
 * 100,000 mixed group-state callbacks (some arriving out of `EventTime` order), handed over
 * by workers that each await one `handle` at a time, as the delivery engine does; then the
 * messages of the load bench's flood at the concurrency of its config, with EventTimes that rise
 * and with EventTimes shuffled within each second.
 *
 * Run: `deno run --allow-all bench/sqlite_sync_bench.ts`
 *
 * @module
 */
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { CallbackEvent, Handler } from "../plugin.ts";
import sqliteSync from "../plugins/sqlite_sync.ts";
import type { BenchResult } from "./mod.ts";
import { FLOOD_GROUPS } from "./_wrk.ts";

const COUNT = 100_000;
const GROUPS = 1_000;
const TARGET = ">= 30000 callbacks/s";
const START = 1_700_000_000_000;

function callback(id: number, command: string, payload: Record<string, unknown>): CallbackEvent {
  const body = { CallbackCommand: command, ...payload };
  return {
    id: String(id),
    command,
    sdkAppId: "1400000000",
    receivedAt: START + id,
    attempt: 1,
    payload: body,
    rawBody: JSON.stringify(body),
  };
}

/**
 * Messages to `groups` groups in turn, as a flood spread over them reaches the journal. Their
 * EventTimes rise with their order, as the times of events a stream reports do; `shuffled`
 * spreads each second's 35,000 messages over its 1,000 ms out of order instead, as the load
 * bench's wrk script did before it read a ms clock (`_group_message_writers`, keyed by time,
 * then takes its rows at random places rather than at its end).
 */
function sendMsgEvents(groups: number, shuffled = false): CallbackEvent[] {
  const events: CallbackEvent[] = [];
  for (let i = 1; i <= COUNT; i++) {
    const eventTime = shuffled
      ? START + Math.floor(i / 35_000) * 1000 + (i * 64) % 1000
      : START + i;
    events.push(callback(i, "Group.CallbackAfterSendMsg", {
      GroupId: `@TGS#g${i % groups}`,
      Type: "Public",
      From_Account: `user${i % 97}`,
      Operator_Account: "admin",
      Random: (i * 2654435761) % 4294967296,
      MsgSeq: Math.floor(i / groups) + 1,
      MsgTime: Math.floor(eventTime / 1000),
      OnlineOnlyFlag: 0,
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message number ${i}` } }],
      CloudCustomData: "",
      EventTime: String(eventTime),
    }));
  }
  return events;
}

/** Group-state callbacks of every handled kind; every 10th has an EventTime from the past. */
function mixedEvents(): CallbackEvent[] {
  const events: CallbackEvent[] = [];
  for (let i = 1; i <= COUNT; i++) {
    const g = i % GROUPS;
    const round = Math.floor(i / GROUPS);
    const base = {
      GroupId: `@TGS#g${g}`,
      Type: "Public",
      Operator_Account: "admin",
      EventTime: START + i - (i % 10 === 0 ? 5_000 : 0),
    };
    const member = `user${(round * 7 + g) % 50}`;
    switch (round % 8) {
      case 0:
        events.push(callback(i, "Group.CallbackAfterCreateGroup", {
          ...base,
          Owner_Account: "owner",
          Name: `group ${g}`,
          MemberList: [{ Member_Account: "owner" }, { Member_Account: member }],
          UserDefinedDataList: [{ Key: "level", Value: "1" }],
        }));
        break;
      case 1:
        events.push(callback(i, "Group.CallbackAfterGroupInfoChanged", {
          ...base,
          Name: `group ${g} r${round}`,
          Notification: "",
          UserDefinedDataList: [{ Key: "level", Value: String(round) }],
        }));
        break;
      case 2:
      case 3:
        events.push(callback(i, "Group.CallbackAfterGroupAttrChanged", {
          ...base,
          OptionType: ["set", "modify", "delete", "clear"][round % 4],
          GroupAttr: [{ key: `k${round % 5}`, value: "v" }, { key: "k9", value: String(i) }],
        }));
        break;
      case 4:
        events.push(callback(i, "Group.CallbackAfterNewMemberJoin", {
          ...base,
          JoinType: "Invited",
          NewMemberList: [{ Member_Account: member }, { Member_Account: `${member}x` }],
        }));
        break;
      case 5:
        events.push(callback(i, "Group.CallbackAfterMemberExit", {
          ...base,
          ExitType: "Quit",
          ExitMemberList: [{ Member_Account: member }],
        }));
        break;
      case 6:
        events.push(callback(i, "Group.CallbackAfterChangeGroupOwner", {
          ...base,
          OldOwner_Account: "owner",
          NewOwner_Account: member,
        }));
        break;
      default:
        events.push(callback(i, "Group.CallbackAfterRecallMsg", {
          ...base,
          MsgSeqList: [{ MsgSeq: round }, { MsgSeq: round + 1 }],
        }));
    }
  }
  return events;
}

async function applyRate(
  dir: string,
  file: string,
  events: CallbackEvent[],
  workers: number,
): Promise<number> {
  const instance = await sqliteSync.create(
    sqliteSync.parseOptions!({ path: file }, { name: "bench", configDir: dir }),
    {
      name: "bench",
      configDir: dir,
      logger: getLogger(["imhookd", "bench"]),
      signal: new AbortController().signal,
    },
  ) as Handler & AsyncDisposable;
  await using plugin = instance;
  const signal = new AbortController().signal;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < events.length) await plugin.handle(events[next++]!, signal);
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, worker));
  const seconds = (performance.now() - started) / 1000;
  return Math.round(events.length / seconds);
}

/** Measures the apply rates; data lives in a temp dir that is removed afterwards. */
export async function run(): Promise<BenchResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "sqlite_sync_bench_" });
  try {
    const messages = sendMsgEvents(GROUPS);
    const mixed = mixedEvents();
    const results: BenchResult[] = [];
    for (const workers of [1, 16, 64]) {
      results.push({
        name: `sqlite_sync AfterSendMsg x${COUNT}, ${workers} in flight`,
        value: await applyRate(dir, join(dir, `messages-${workers}.db`), messages, workers),
        unit: "callbacks/s",
        target: TARGET,
      });
      results.push({
        name: `sqlite_sync mixed group state x${COUNT}, ${workers} in flight`,
        value: await applyRate(dir, join(dir, `mixed-${workers}.db`), mixed, workers),
        unit: "callbacks/s",
        target: TARGET,
      });
    }
    // The load bench's flood as its drain hands it over: `ordering: none` and
    // `concurrency: 512`, so each transaction holds 512 messages that touch every group.
    results.push({
      name: `sqlite_sync AfterSendMsg x${COUNT} over ${FLOOD_GROUPS} groups, 512 in flight`,
      value: await applyRate(dir, join(dir, "flood.db"), sendMsgEvents(FLOOD_GROUPS), 512),
      unit: "callbacks/s",
      target: TARGET,
    });
    results.push({
      name: `sqlite_sync AfterSendMsg x${COUNT} over ${FLOOD_GROUPS} groups, EventTimes shuffled ` +
        "within each second, 512 in flight",
      value: await applyRate(dir, join(dir, "shuffled.db"), sendMsgEvents(FLOOD_GROUPS, true), 512),
      unit: "callbacks/s",
    });
    return results;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  // deno-lint-ignore no-console
  console.table(await run());
}
