import assert from "node:assert/strict";
import type { CallbackEvent, PluginInstance } from "../../plugin.ts";
import { type Clock, ManualClock } from "../clock.ts";
import { Delivery, type DeliveryOptions } from "./engine.ts";
import { JournalWriter } from "../journal/mod.ts";

const OPTIONS: DeliveryOptions = {
  maxAttempts: 3,
  initialBackoffMs: 1000,
  maxBackoffMs: 60_000,
  handlerTimeoutMs: 5000,
  ordering: "per_group",
  random: () => 0.5,
};

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new assert.AssertionError({ message: `timed out: ${what}` });
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function withJournal(
  fn: (journal: JournalWriter, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await using journal = JournalWriter.open(`${dir}/journal.db`);
    await fn(journal, `${dir}/journal.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function append(
  journal: JournalWriter,
  n: number,
  group: string,
  plugins = ["a"],
): Promise<unknown> {
  return journal.append({
    sdkAppId: "1400000000",
    command: "Group.CallbackAfterSendMsg",
    receivedAt: n,
    body: JSON.stringify({ CallbackCommand: "Group.CallbackAfterSendMsg", GroupId: group, n }),
    dedupKey: `k${n}`,
    groupKey: `g:${group}`,
    plugins,
  });
}

function recorder(
  behave: (event: CallbackEvent, signal: AbortSignal) => Promise<void> | void = () => {},
): PluginInstance & { seen: CallbackEvent[] } {
  const seen: CallbackEvent[] = [];
  return {
    seen,
    async handle(event, signal) {
      seen.push(event);
      await behave(event, signal);
    },
  };
}

Deno.test("delivery: one group is handled in journal order, one at a time, groups in parallel", async () => {
  await withJournal(async (journal) => {
    let running = 0;
    let most = 0;
    const perGroup = new Map<string, number>();
    const order: Record<string, number[]> = {};
    const plugin = recorder(async (event) => {
      const group = String(event.payload.GroupId);
      assert.equal(perGroup.get(group) ?? 0, 0, "two handlers of one group ran at once");
      perGroup.set(group, 1);
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
      (order[group] ??= []).push(Number(event.payload.n));
      running--;
      perGroup.set(group, 0);
    });
    const delivery = new Delivery(journal, { ...OPTIONS, clock: new ManualClock() });
    delivery.add({ name: "a", instance: plugin, concurrency: 4 });
    const writes = [];
    for (let n = 0; n < 200; n++) writes.push(append(journal, n, `G${n % 8}`));
    await Promise.all(writes);
    await until(() => plugin.seen.length === 200, "all delivered");
    await delivery.close(1000);
    for (const [group, seen] of Object.entries(order)) {
      assert.deepEqual(seen, [...seen].sort((x, y) => x - y), `group ${group} out of order`);
    }
    assert.equal(most, 4);
    await until(() => journal.status().plugins.length === 0, "deliveries recorded");
  });
});

Deno.test("delivery: a plugin with ordering none takes callbacks of one group at once; the others keep order", async () => {
  await withJournal(async (journal) => {
    // Each handler waits until `concurrency` of them run: only possible for the plugin with
    // ordering none, since every callback is of one group.
    const gate = Promise.withResolvers<void>();
    let running = 0;
    let most = 0;
    const free = recorder(async () => {
      running++;
      most = Math.max(most, running);
      if (running === 4) gate.resolve();
      await gate.promise;
      running--;
    });
    let orderedRunning = 0;
    const ordered = recorder(async () => {
      orderedRunning++;
      assert.equal(orderedRunning, 1, "two handlers of one group ran at once");
      await new Promise((resolve) => setTimeout(resolve, 1));
      orderedRunning--;
    });
    const delivery = new Delivery(journal, { ...OPTIONS, clock: new ManualClock() });
    delivery.add({ name: "free", instance: free, concurrency: 4, ordering: "none" });
    delivery.add({ name: "ordered", instance: ordered, concurrency: 4 });
    const writes = [];
    for (let n = 0; n < 12; n++) writes.push(append(journal, n, "G", ["free", "ordered"]));
    await Promise.all(writes);
    await until(() => free.seen.length === 12 && ordered.seen.length === 12, "all delivered");
    await delivery.close(1000);
    assert.equal(most, 4);
    assert.deepEqual(ordered.seen.map((event) => event.payload.n), [...Array(12).keys()]);
  });
});

Deno.test("delivery: a failing plugin never delays a healthy one; retries back off, then dead-letter", async () => {
  await withJournal(async (journal) => {
    const clock = new ManualClock();
    const healthy = recorder();
    const failing = recorder(() => {
      throw new TypeError("downstream said no");
    });
    const delivery = new Delivery(journal, { ...OPTIONS, clock });
    delivery.add({ name: "healthy", instance: healthy, concurrency: 2 });
    delivery.add({ name: "failing", instance: failing, concurrency: 2 });
    for (let n = 0; n < 3; n++) await append(journal, n, "G", ["healthy", "failing"]);
    await until(() => healthy.seen.length === 3, "healthy got all three");
    // The failing plugin tried only the head of the group and waits to retry it.
    await until(() => failing.seen.length === 1, "first attempt");
    assert.equal(failing.seen[0]!.attempt, 1);
    clock.tick(499); // full jitter with random 0.5 of 1000ms = 500ms
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(failing.seen.length, 1);
    clock.tick(1);
    await until(() => failing.seen.length === 2, "second attempt");
    assert.equal(failing.seen[1]!.attempt, 2);
    assert.equal(failing.seen[1]!.id, failing.seen[0]!.id);
    clock.tick(1000); // 0.5 × 2000ms
    await until(() => failing.seen.length === 4, "third attempt dead-lettered, next one tried");
    assert.equal(failing.seen[2]!.attempt, 3);
    assert.equal(failing.seen[3]!.id, "2", "a dead letter does not block its group");
    await delivery.close(1000);
    await until(
      () => journal.status().plugins.find((p) => p.plugin === "failing")?.dead === 1,
      "dead recorded",
    );
    const status = journal.status().plugins.find((p) => p.plugin === "failing")!;
    assert.equal(status.pending, 2);
  });
});

Deno.test("delivery: a permanent error dead-letters at once and replay delivers it again", async () => {
  await withJournal(async (journal) => {
    let fail = true;
    const plugin = recorder(() => {
      if (fail) throw Object.assign(new RangeError("bad request"), { permanent: true });
    });
    const clock = new ManualClock();
    const delivery = new Delivery(journal, { ...OPTIONS, clock, replayPollMs: 100 });
    delivery.add({ name: "a", instance: plugin, concurrency: 1 });
    await append(journal, 1, "G");
    await until(() => journal.status().plugins[0]?.dead === 1, "dead letter");
    assert.equal(plugin.seen.length, 1);
    fail = false;
    assert.equal(journal.replay({ plugins: [{ name: "a", matches: () => true }], dead: true }), 1);
    clock.tick(100);
    await until(() => plugin.seen.length === 2, "replayed");
    assert.equal(plugin.seen[1]!.attempt, 1);
    await delivery.close(1000);
    await until(() => journal.status().plugins.length === 0, "delivered");
  });
});

Deno.test("delivery: a hung handler is aborted at handler_timeout and retried", async () => {
  await withJournal(async (journal) => {
    const clock = new ManualClock();
    let aborted: unknown;
    let calls = 0;
    const plugin = recorder((_event, signal) => {
      calls++;
      if (calls > 1) return;
      return new Promise<void>((resolve) => {
        signal.addEventListener("abort", () => {
          aborted = signal.reason;
          resolve();
        });
      });
    });
    const delivery = new Delivery(journal, { ...OPTIONS, clock });
    delivery.add({ name: "a", instance: plugin, concurrency: 1 });
    await append(journal, 1, "G");
    await until(() => calls === 1, "first call");
    clock.tick(5000);
    await until(() => aborted !== undefined, "aborted");
    assert.ok(aborted instanceof DOMException);
    assert.equal(aborted.message, "handler timed out after 5000ms");
    await until(() => journal.pending("a", 0, 1)[0]?.attempts === 1, "retry recorded");
    assert.equal(journal.pending("a", 0, 1)[0]?.nextAt, clock.now() + 500);
    clock.tick(500);
    await until(() => calls === 2, "retried");
    await delivery.close(1000);
    await until(() => journal.status().plugins.length === 0, "delivered");
  });
});

for (const hour of [0, 3_600_000]) {
  const wall = hour ? ", whatever the wall clock does" : "";
  Deno.test(`delivery: each handler awaited times out at its own deadline${wall}`, async () => {
    await withJournal(async (journal) => {
      const manual = new ManualClock();
      let step = 0;
      const clock: Clock = {
        now: () => manual.now() + step,
        monotonic: () => manual.monotonic(),
        setTimeout: (fn, ms) => manual.setTimeout(fn, ms),
      };
      // Two handlers that wait for their signal: G1, then G2 2 s later (timeout 5 s).
      const aborted = new Map<string, number>();
      const plugin = recorder((event, signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => {
            aborted.set(String(event.payload.GroupId), manual.now());
            resolve();
          });
        })
      );
      const delivery = new Delivery(journal, { ...OPTIONS, clock });
      delivery.add({ name: "a", instance: plugin, concurrency: 2 });
      const start = manual.now();
      await append(journal, 1, "G1");
      await until(() => plugin.seen.length === 1, "first call");
      manual.tick(2000);
      await append(journal, 2, "G2");
      await until(() => plugin.seen.length === 2, "second call");
      step = hour; // forward: G2 must not time out with G1
      manual.tick(3000);
      await until(() => aborted.has("G1"), "first aborted");
      assert.equal(aborted.get("G1"), start + 5000);
      manual.tick(1999);
      await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(aborted.has("G2"), false, "the second handler still has 1 ms");
      step = -hour; // back: G2 must not get the hour more
      manual.tick(1);
      await until(() => aborted.has("G2"), "second aborted");
      assert.equal(aborted.get("G2"), start + 7000);
      await delivery.close(10); // G1's retry is running by now, and hangs until shutdown
    });
  });
}

/**
 * Delivers one callback to `plugin` (concurrency 1) and lets its first attempt run past the
 * handler timeout (5 s on `clock`); resolves once the retry is recorded.
 */
async function timeOutOnce(
  journal: JournalWriter,
  clock: ManualClock,
  plugin: ReturnType<typeof recorder>,
): Promise<Delivery> {
  const delivery = new Delivery(journal, { ...OPTIONS, clock });
  delivery.add({ name: "a", instance: plugin, concurrency: 1 });
  await append(journal, 1, "G");
  await until(() => plugin.seen.length === 1, "first call");
  clock.tick(5000);
  await until(() => journal.pending("a", 0, 1)[0]?.attempts === 1, "retry recorded");
  return delivery;
}

Deno.test("delivery: a handler that ignores its signal is given up on at the timeout, and at shutdown", async () => {
  await withJournal(async (journal) => {
    const clock = new ManualClock();
    const signals: AbortSignal[] = [];
    const plugin = recorder((_event, signal) => {
      signals.push(signal);
      return new Promise<void>(() => {}); // never settles, never listens
    });
    const delivery = await timeOutOnce(journal, clock, plugin);
    assert.equal(signals[0]!.reason.name, "TimeoutError");
    clock.tick(500);
    await until(() => plugin.seen.length === 2, "retried");
    await delivery.close(10);
    assert.equal(signals[1]!.aborted, true);
    assert.equal(signals[1]!.reason.name, "AbortError");
    // Shutting down is not a failed attempt: the delivery stays as it was.
    assert.equal(journal.pending("a", 0, 1)[0]?.attempts, 1);
  });
});

Deno.test("delivery: a handler that settles after it was given up on changes nothing", async () => {
  await withJournal(async (journal) => {
    const clock = new ManualClock();
    const late: (() => void)[] = [];
    const plugin = recorder((event) => {
      if (event.attempt === 1) return new Promise<void>((resolve) => late.push(resolve));
    });
    const delivery = await timeOutOnce(journal, clock, plugin);
    late[0]!(); // the timed-out handler resolves after all
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(journal.pending("a", 0, 1)[0]?.attempts, 1, "still pending, one failed attempt");
    clock.tick(500);
    await until(() => journal.pending("a", 0, 1).length === 0, "delivered by the retry");
    await delivery.close(1000);
    assert.deepEqual(plugin.seen.map((event) => event.attempt), [1, 2]);
  });
});

Deno.test("delivery: the payload is parsed when first read, and is an own property of the event", async () => {
  await withJournal(async (journal) => {
    const events: CallbackEvent[] = [];
    const plugin = recorder((event) => {
      events.push(event);
    });
    const delivery = new Delivery(journal, { ...OPTIONS, clock: new ManualClock() });
    delivery.add({ name: "a", instance: plugin, concurrency: 1 });
    await append(journal, 1, "G");
    await append(journal, 2, "H");
    await until(() => events.length === 2, "delivered");
    await delivery.close(1000);
    const [event, other] = events as [CallbackEvent, CallbackEvent];
    const body = { CallbackCommand: "Group.CallbackAfterSendMsg", GroupId: "G", n: 1 };
    assert.equal(event.rawBody, JSON.stringify(body));
    assert.deepEqual(event.payload, body);
    assert.equal(event.payload, event.payload, "parsed once");
    assert.deepEqual({ ...event }.payload, body);
    assert.deepEqual(JSON.parse(JSON.stringify(event)).payload, body);
    assert.deepEqual(Object.keys(event), [
      "id",
      "command",
      "sdkAppId",
      "receivedAt",
      "attempt",
      "payload",
      "rawBody",
    ]);
    event.payload = { CallbackCommand: "X", replaced: true };
    assert.deepEqual(event.payload, { CallbackCommand: "X", replaced: true });
    // Each event keeps its own payload (the accessor is shared by all of them).
    assert.equal(other.payload.n, 2);
    assert.equal(other.payload.GroupId, "H");
  });
});

Deno.test("delivery: retryAfterMs waits at least that long", async () => {
  await withJournal(async (journal) => {
    const clock = new ManualClock();
    const plugin = recorder(() => {
      if (plugin.seen.length === 1) {
        throw Object.assign(new Error("busy"), { retryAfterMs: 30_000 });
      }
    });
    const delivery = new Delivery(journal, { ...OPTIONS, clock });
    delivery.add({ name: "a", instance: plugin, concurrency: 1 });
    await append(journal, 1, "G");
    await until(() => plugin.seen.length === 1, "first");
    clock.tick(29_999);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(plugin.seen.length, 1);
    clock.tick(1);
    await until(() => plugin.seen.length === 2, "second");
    await delivery.close(1000);
  });
});

Deno.test("delivery: a removed plugin's pending callbacks stay pending and resume when it comes back", async () => {
  await withJournal(async (journal) => {
    const gate = Promise.withResolvers<void>();
    const slow = recorder(() => gate.promise);
    const delivery = new Delivery(journal, { ...OPTIONS, clock: new ManualClock() });
    delivery.add({ name: "a", instance: slow, concurrency: 1 });
    for (let n = 0; n < 5; n++) await append(journal, n, "G");
    await until(() => slow.seen.length === 1, "first started");
    const removing = delivery.remove("a", 10);
    await removing;
    gate.resolve();
    assert.equal(journal.status().plugins[0]?.pending, 5, "nothing lost, nothing marked delivered");
    const again = recorder();
    delivery.add({ name: "a", instance: again, concurrency: 1 });
    await until(() => again.seen.length === 5, "resumed");
    assert.deepEqual(again.seen.map((e) => e.id), ["1", "2", "3", "4", "5"]);
    await delivery.close(1000);
  });
});

Deno.test("delivery: a group waiting on its retry does not hold back other groups while the window has room", async () => {
  await withJournal(async (journal) => {
    const clock = new ManualClock();
    const plugin = recorder((event) => {
      if (event.payload.GroupId === "stuck") throw new TypeError("stuck is down");
    });
    // Refills wait for a half-empty window, except when nothing is ready to run.
    const delivery = new Delivery(journal, { ...OPTIONS, clock, window: 8, maxAttempts: 100 });
    delivery.add({ name: "a", instance: plugin, concurrency: 2 });
    for (let n = 0; n < 6; n++) await append(journal, n, "stuck");
    for (let n = 6; n < 10; n++) await append(journal, n, "free");
    await until(
      () => plugin.seen.filter((e) => e.payload.GroupId === "free").length === 4,
      "the free group delivered while stuck waits for its retry",
    );
    assert.deepEqual(
      plugin.seen.filter((e) => e.payload.GroupId === "stuck").map((e) => e.id),
      ["1"],
      "stuck tried its head only",
    );
    await delivery.close(1000);
  });
});

Deno.test("delivery: handlers that finish at once still let the event loop run", async () => {
  await withJournal(async (journal) => {
    let handled = 0;
    const delivery = new Delivery(journal, { ...OPTIONS, clock: new ManualClock() });
    const writes = [];
    for (let n = 0; n < 20_000; n++) writes.push(append(journal, n, `G${n % 50}`));
    await Promise.all(writes);
    let handledWhenTimerRan = -1;
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        handledWhenTimerRan = handled;
        resolve();
      }, 0)
    );
    delivery.add({
      name: "a",
      instance: {
        handle() {
          handled++;
        },
      },
      concurrency: 8,
    });
    await timer;
    await until(() => handled === 20_000, "all delivered", 30_000);
    assert.ok(
      handledWhenTimerRan < 20_000,
      `a timer waited for the whole drain (${handledWhenTimerRan} handled first)`,
    );
    await delivery.close(1000);
    await until(() => journal.status().plugins.length === 0, "deliveries recorded");
  });
});

Deno.test("delivery: a handler that throws synchronously is retried, then dead-lettered", async () => {
  await withJournal(async (journal) => {
    const clock = new ManualClock();
    let calls = 0;
    const delivery = new Delivery(journal, { ...OPTIONS, clock, maxAttempts: 2 });
    delivery.add({
      name: "a",
      instance: {
        handle() {
          calls++;
          throw new RangeError("no");
        },
      },
      concurrency: 1,
    });
    await append(journal, 1, "G");
    await until(() => journal.pending("a", 0, 1)[0]?.attempts === 1, "retry recorded");
    clock.tick(1000);
    await until(() => journal.status().plugins[0]?.dead === 1, "dead letter");
    assert.equal(calls, 2);
    await delivery.close(1000);
  });
});

Deno.test("delivery: a thenable whose then throws, or cannot be read, fails its attempt and holds up no other", async () => {
  await withJournal(async (journal) => {
    const seen: number[] = [];
    const plugin: PluginInstance = {
      handle(event) {
        seen.push(Number(event.id));
        if (event.attempt > 1) return;
        if (event.payload.GroupId === "bad") {
          return {
            then() {
              throw new TypeError("not really a promise");
            },
          } as unknown as Promise<void>;
        }
        if (event.payload.GroupId === "worse") {
          return {
            get then() {
              throw new TypeError("no then to read");
            },
          } as unknown as Promise<void>;
        }
      },
    };
    const delivery = new Delivery(journal, { ...OPTIONS, clock: new ManualClock() });
    await append(journal, 1, "bad");
    await append(journal, 2, "worse");
    for (let n = 3; n <= 6; n++) await append(journal, n, `G${n}`);
    delivery.add({ name: "a", instance: plugin, concurrency: 8 });
    await until(() => journal.pending("a", 0, 10).length === 2, "the others delivered");
    const left = journal.pending("a", 0, 10);
    assert.deepEqual(left.map((row) => [row.id, row.attempts]), [[1, 1], [2, 1]]);
    await delivery.close(1000);
    assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5, 6]);
  });
});

Deno.test("delivery: a group stuck on retries cannot fill the window and stall other groups", async () => {
  await withJournal(async (journal) => {
    const clock = new ManualClock();
    let stuck = true;
    const plugin = recorder((event) => {
      if (stuck && event.payload.GroupId === "A") throw new Error("group A is stuck");
    });
    const delivery = new Delivery(journal, {
      ...OPTIONS,
      clock,
      maxAttempts: 100,
      window: 16,
      groupWindow: 4,
    });
    delivery.add({ name: "a", instance: plugin, concurrency: 2 });
    for (let n = 0; n < 40; n++) await append(journal, n, "A");
    for (let n = 40; n < 45; n++) await append(journal, n, "B");
    await until(
      () => plugin.seen.filter((e) => e.payload.GroupId === "B").length === 5,
      "group B delivered while group A retries",
    );
    stuck = false;
    // Let A's retries fall due until all of it is through.
    await until(() => {
      clock.tick(60_000);
      return new Set(plugin.seen.filter((e) => e.payload.GroupId === "A").map((e) => e.id)).size ===
        40;
    }, "group A delivered after it recovered");
    assert.equal(
      new Set(plugin.seen.filter((e) => e.payload.GroupId === "B").map((e) => e.id)).size,
      plugin.seen.filter((e) => e.payload.GroupId === "B").length,
      "no callback of group B was delivered twice",
    );
    const firstSeen = [
      ...new Set(plugin.seen.filter((e) => e.payload.GroupId === "A").map((e) => Number(e.id))),
    ];
    assert.deepEqual(firstSeen, [...firstSeen].sort((x, y) => x - y), "group A in journal order");
    await delivery.close(1000);
    await until(() => journal.status().plugins.length === 0, "all recorded");
  });
});
