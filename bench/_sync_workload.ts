/**
 * The workloads the scale-out benches hand to plugins, with the same runner for each plugin, so
 * that a rate is comparable to `sqlite_sync`'s measured in the same run.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { CallbackEvent, Plugin, PluginInstance } from "../plugin.ts";
import sqliteSync from "../plugins/sqlite_sync.ts";
import { FLOOD_GROUPS } from "./_wrk.ts";

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
 * `count` `Group.CallbackAfterSendMsg` over the load bench's 200 groups, EventTimes rising;
 * numbered from `first`.
 */
export function floodMessages(count: number, first = 1): CallbackEvent[] {
  return Array.from({ length: count }, (_, n) => {
    const i = n + first;
    return callback(i, "Group.CallbackAfterSendMsg", {
      GroupId: `@TGS#g${i % FLOOD_GROUPS}`,
      Type: "Public",
      From_Account: `user${i % 97}`,
      Operator_Account: "admin",
      Random: (i * 2654435761) % 4294967296,
      MsgSeq: Math.floor(i / FLOOD_GROUPS) + 1,
      MsgTime: Math.floor((START + i) / 1000),
      OnlineOnlyFlag: 0,
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message number ${i}` } }],
      CloudCustomData: "",
      EventTime: String(START + i),
    });
  });
}

/** `count` group-state callbacks of every kind over 1,000 groups; every 10th arrives late. */
export function mixedGroupState(count: number): CallbackEvent[] {
  const events: CallbackEvent[] = [];
  for (let i = 1; i <= count; i++) {
    const g = i % 1000;
    const round = Math.floor(i / 1000);
    const base = {
      GroupId: `@TGS#g${g}`,
      Type: "Public",
      EventTime: START + i - (i % 10 === 0 ? 5_000 : 0),
    };
    const member = `user${(round * 7 + g) % 50}`;
    const kinds: Array<[string, Record<string, unknown>]> = [
      ["Group.CallbackAfterCreateGroup", {
        Owner_Account: "owner",
        Name: `group ${g}`,
        MemberList: [{ Member_Account: "owner" }, { Member_Account: member }],
        UserDefinedDataList: [{ Key: "level", Value: "1" }],
      }],
      ["Group.CallbackAfterGroupInfoChanged", {
        Name: `group ${g} r${round}`,
        UserDefinedDataList: [{ Key: "level", Value: String(round) }],
      }],
      ["Group.CallbackAfterGroupAttrChanged", {
        OptionType: ["set", "modify", "delete", "clear"][round % 4],
        GroupAttr: [{ key: `k${round % 5}`, value: "v" }, { key: "k9", value: String(i) }],
      }],
      ["Group.CallbackAfterNewMemberJoin", { NewMemberList: [{ Member_Account: member }] }],
      ["Group.CallbackAfterMemberExit", { ExitMemberList: [{ Member_Account: member }] }],
      ["Group.CallbackAfterChangeGroupOwner", { NewOwner_Account: member }],
      ["Group.CallbackAfterRecallMsg", { MsgSeqList: [{ MsgSeq: round }] }],
    ];
    const [command, payload] = kinds[round % kinds.length]!;
    events.push(callback(i, command, { ...base, ...payload }));
  }
  return events;
}

/**
 * Starts `plugin` with `raw` options, hands it `events` from `inFlight` workers that each
 * await one `handle` at a time (as the delivery engine does), disposes it, and returns the
 * rate in callbacks per second (disposal included, so nothing is left unwritten).
 */
export async function handleRate<O>(
  plugin: Plugin<O>,
  raw: unknown,
  events: CallbackEvent[],
  inFlight: number,
  configDir = "/",
): Promise<number> {
  const ctx = { name: "bench", configDir };
  const options = plugin.parseOptions ? plugin.parseOptions(raw, ctx) : raw as O;
  const instance = await plugin.create(options, {
    ...ctx,
    logger: getLogger(["imhookd", "bench"]),
    signal: new AbortController().signal,
  }) as PluginInstance & AsyncDisposable;
  const signal = new AbortController().signal;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < events.length) await instance.handle(events[next++]!, signal);
  }
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: inFlight }, worker));
  } finally {
    await instance[Symbol.asyncDispose]();
  }
  return Math.round(events.length / ((performance.now() - started) / 1000));
}

/** `sqlite_sync`'s rate on `events` (a fresh file in a temporary folder). */
export async function sqliteSyncRate(events: CallbackEvent[], inFlight: number): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "sync_workload_" });
  try {
    return await handleRate(sqliteSync, { path: "im.db" }, events, inFlight, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs `first` and `second` alternately `rounds` times and returns the median rate of each:
 * on a shared machine, load that comes and goes then weighs on both alike.
 */
export async function alternating(
  first: () => Promise<number>,
  second: () => Promise<number>,
  rounds = 3,
): Promise<[number, number]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < rounds; i++) {
    a.push(await first());
    b.push(await second());
  }
  const median = (list: number[]) => list.sort((x, y) => x - y)[Math.floor(list.length / 2)]!;
  return [median(a), median(b)];
}
