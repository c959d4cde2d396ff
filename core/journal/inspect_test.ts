import assert from "node:assert/strict";
import { type CallbackRecord, JournalReader, JournalWriter } from "./mod.ts";
import { tempDir } from "../_testing.ts";

function record(n: number, plugins: string[]): CallbackRecord {
  return {
    sdkAppId: "1400000000",
    command: n % 2 ? "Group.CallbackAfterSendMsg" : "C2C.CallbackAfterSendMsg",
    receivedAt: 1_700_000_000_000 + n,
    clientIp: "203.0.113.7",
    body: JSON.stringify({ MsgSeq: n }),
    dedupKey: `key-${n}`,
    groupKey: `g:${n}`,
    plugins,
  };
}

Deno.test("inspect: dead letters, one callback whole, quarantine and last errors", async () => {
  await using dir = await tempDir("journal_inspect_");
  const path = `${dir.path}/journal.db`;
  {
    let now = 1_700_000_100_000;
    await using writer = JournalWriter.open(path, { now: () => now++ });
    for (let n = 1; n <= 4; n++) await writer.append(record(n, ["a", "b"]));
    await writer.markDead("a", 1, { attempts: 3, error: "TypeError: fetch failed: refused" });
    await writer.markDead("b", 3, { attempts: 1, error: "permanent" });
    await writer.markRetry("a", 2, { attempts: 1, nextAt: 5, error: "early" });
    await writer.markRetry("a", 4, { attempts: 2, nextAt: 9, error: "later" });
    await writer.markDeliveredMany("b", [1, 2]);
    await writer.quarantine({
      sdkAppId: "1400000000",
      command: "Group.CallbackAfterSendMsg",
      receivedAt: 1_700_000_000_100,
      query: "SdkAppid=1400000000",
      reason: "GroupId: expected a string",
      body: new TextEncoder().encode("{}"),
    });
  }
  await using reader = JournalReader.open(path);
  assert.deepEqual(reader.deadLetters(), [
    {
      id: 3,
      plugin: "b",
      command: "Group.CallbackAfterSendMsg",
      sdkAppId: "1400000000",
      groupKey: "g:3",
      attempts: 1,
      error: "permanent",
      receivedAt: 1_700_000_000_003,
      diedAt: 1_700_000_100_001,
    },
    {
      id: 1,
      plugin: "a",
      command: "Group.CallbackAfterSendMsg",
      sdkAppId: "1400000000",
      groupKey: "g:1",
      attempts: 3,
      error: "TypeError: fetch failed: refused",
      receivedAt: 1_700_000_000_001,
      diedAt: 1_700_000_100_000,
    },
  ]);
  assert.deepEqual(reader.deadLetters({ plugin: "a" }).map((d) => d.id), [1]);
  assert.deepEqual(reader.deadLetters({ limit: 1 }).map((d) => d.id), [3]);

  const detail = reader.callback(2)!;
  assert.equal(detail.command, "C2C.CallbackAfterSendMsg");
  assert.equal(detail.body, '{"MsgSeq":2}');
  assert.equal(detail.clientIp, "203.0.113.7");
  assert.deepEqual(detail.deliveries, [
    { plugin: "a", state: "pending", attempts: 1, nextAt: 5, error: "early" },
  ]);
  assert.deepEqual(reader.callback(3)!.deliveries.map((d) => [d.plugin, d.state]), [
    ["a", "pending"],
    ["b", "dead"],
  ]);
  assert.equal(reader.callback(99), undefined);

  const [kept] = reader.quarantined();
  assert.equal(kept!.reason, "GroupId: expected a string");
  assert.equal(new TextDecoder().decode(kept!.body), "{}");

  // a: the retry due last; b: its dead letter.
  assert.deepEqual(reader.lastErrors(), [
    { plugin: "a", callbackId: 4, state: "pending", attempts: 2, error: "later" },
    { plugin: "b", callbackId: 3, state: "dead", attempts: 1, error: "permanent" },
  ]);
});
