/**
 * Contained plugins, against the real `serve`: a plugin that blocks its thread, calls
 * `Deno.exit`, throws what cannot be printed, throws from its own timer, allocates without
 * bound or never finishes starting stops neither the listener nor the other plugins. It is
 * restarted alone, its poison callback ends as its dead letter with a clear error, a restart
 * of the daemon listens within seconds, and SIGTERM ends it within `shutdown_grace`.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  baseConfig,
  cli,
  eventually,
  recorded,
  ROOT,
  serve,
  type Served,
  signedQuery,
  workspace,
} from "./_helpers.ts";

const COMMAND = "Group.CallbackAfterSendMsg";
/** Tencent waits this long for an answer. */
const TENCENT_WINDOW_MS = 2_000;
const GRACE_MS = 3_000;

interface Options {
  /** Extra keys of the `bad` plugin's entry, e.g. `isolation: process`. */
  bad?: string;
  /** Extra `delivery` keys. */
  delivery?: string;
  /** Options of the `bad` plugin besides its path. */
  badOptions?: string;
  /** `delivery.plugin_stall` (default 1s). */
  stall?: string;
}

/** Two plugins: `bad` (tests/fixtures/misbehave.ts) and `good` (the recorder), an admin listener. */
function config(options: Options = {}): string {
  return baseConfig(`admin:
  listen: 127.0.0.1:0
delivery:
  plugin_stall: ${options.stall ?? "1s"}
  max_attempts: 4
  initial_backoff: 10ms
  max_backoff: 100ms
  shutdown_grace: ${GRACE_MS}ms
${options.delivery ?? ""}
log:
  level: info
  format: json
plugins:
  - name: bad
    use: ${ROOT}tests/fixtures/misbehave.ts
    permissions: { read: [.], write: [.] }
    options: { path: ./bad.jsonl${options.badOptions ?? ""} }
${options.bad ?? ""}
  - name: good
    use: ${ROOT}tests/fixtures/recorder.ts
    permissions: { read: [.], write: [.] }
    options: { path: ./good.jsonl }
`);
}

/** POSTs message `seq` (its text picks what `bad` does); asserts a 200 within Tencent's window. */
async function post(url: string, seq: number, text = `message ${seq}`): Promise<void> {
  const started = performance.now();
  const response = await fetch(`${url}?${signedQuery(COMMAND)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      CallbackCommand: COMMAND,
      GroupId: `@TGS#iso${seq}`,
      From_Account: "jared",
      MsgSeq: seq,
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: text } }],
    }),
  });
  const answer = await response.text();
  const elapsed = performance.now() - started;
  assert.equal(response.status, 200, answer);
  assert.ok(
    elapsed < TENCENT_WINDOW_MS,
    `callback ${seq} answered after ${Math.round(elapsed)} ms`,
  );
}

/** The MsgSeq of every callback a recorder-like plugin wrote to `file`. */
async function seqs(file: string): Promise<Set<number>> {
  return new Set((await recorded(file)).map((e) => (e.payload as { MsgSeq: number }).MsgSeq));
}

interface Delivery {
  seq: number;
  state: string;
  attempts: number;
  error: string | null;
}

/** The deliveries of `plugin` in the journal, by MsgSeq. */
function deliveries(dir: string, plugin: string): Map<number, Delivery> {
  const db = new DatabaseSync(`${dir}/journal.db`, { readOnly: true });
  try {
    const rows = db.prepare(
      `SELECT c.body AS body, d.state AS state, d.attempts AS attempts, d.last_error AS error
       FROM deliveries d JOIN callbacks c ON c.id = d.callback_id WHERE d.plugin = ?`,
    ).all(plugin) as unknown as { body: string; state: string; attempts: number; error: string }[];
    return new Map(rows.map((row) => {
      const seq = JSON.parse(row.body).MsgSeq as number;
      return [seq, { seq, state: row.state, attempts: row.attempts, error: row.error }];
    }));
  } finally {
    db.close();
  }
}

async function text(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

function sample(metrics: string, series: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Sends 1..n, with `poison` (seq → text) among them; returns the seqs of the plain ones. */
async function stream(served: Served, n: number, poison: Map<number, string>): Promise<number[]> {
  const plain: number[] = [];
  for (let seq = 1; seq <= n; seq++) {
    await post(served.url, seq, poison.get(seq));
    if (!poison.has(seq)) plain.push(seq);
  }
  return plain;
}

/** SIGTERM; asserts the exit code and that it came within the grace period (plus start-up slack). */
async function stopWithin(served: Served, code = 0): Promise<void> {
  const started = performance.now();
  assert.equal(await served.stop(), code);
  const elapsed = performance.now() - started;
  // The process's own exit takes about a second after the daemon stopped (Deno's teardown).
  assert.ok(elapsed < GRACE_MS + 2_000, `SIGTERM took ${Math.round(elapsed)} ms`);
}

async function everyone(dir: string, plain: number[], all: number): Promise<void> {
  await eventually(
    async () => (await seqs(`${dir}/good.jsonl`)).size === all,
    "good has all",
    30_000,
  );
  await eventually(
    async () => {
      const got = await seqs(`${dir}/bad.jsonl`);
      return plain.every((seq) => got.has(seq));
    },
    "bad has every plain callback",
    30_000,
  );
}

Deno.test("isolation: a handler stuck in a backtracking regular expression is dead-lettered; the listener and the other plugins never notice", async () => {
  await using ws = await workspace(config());
  const poison = new Map([[6, "regex"]]);
  let plain: number[];
  {
    await using served = await serve(ws.config);
    plain = await stream(served, 12, poison);
    await everyone(ws.dir, plain, 12);
    await eventually(
      () => deliveries(ws.dir, "bad").get(6)?.state === "dead",
      "the poison is a dead letter",
      30_000,
    );
    const dead = deliveries(ws.dir, "bad").get(6)!;
    assert.match(
      dead.error ?? "",
      /^plugin "bad" stopped answering its heartbeat for 1s while handling this callback; its thread cannot be reclaimed, so it is not retried$/,
    );
    const metrics = (await text(`${served.adminUrl}/metrics`)).text;
    assert.equal(sample(metrics, 'imhookd_plugin_restarts_total{plugin="bad",reason="stall"}'), 1);
    // Running again, but degraded: the stuck thread spins until the daemon restarts.
    await eventually(async () => {
      const ready = await text(`${served.adminUrl}/readyz`);
      return ready.status === 503 && /1 plugin thread\(s\) stuck/.test(ready.text) &&
        !/plugin "bad" is (starting|restarting)/.test(ready.text);
    }, "/readyz says a thread is stuck, bad runs again");
    assert.ok(served.logs.some((l) => /Plugin bad stopped answering its heartbeat/.test(l)));
    // `status` shows the restart and the stuck thread too.

    const status = await cli(["status", "--config", ws.config]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /^bad +running +1 {2}is restarting after it stopped answering its heartbeat for 1s$/m,
    );
    assert.match(status.stdout, /^good +running +0 {2}-$/m);
    assert.match(status.stdout, /^1 plugin thread\(s\) stuck beyond reclaim/m);
    await stopWithin(served);
  }
  // A restart listens at once and does not run into the poison again.
  await using again = await serve(ws.config);
  await post(again.url, 13);
  await eventually(async () => (await seqs(`${ws.dir}/bad.jsonl`)).has(13), "bad gets 13");
  await eventually(async () => (await text(`${again.adminUrl}/readyz`)).status === 200, "ready");
  assert.equal(deliveries(ws.dir, "bad").get(6)?.state, "dead");
  await stopWithin(again);
});

Deno.test("isolation: past delivery.max_stuck_threads serve stops gracefully with exit 1, the poison already dead-lettered", async () => {
  await using ws = await workspace(config({ delivery: "  max_stuck_threads: 0" }));
  {
    await using served = await serve(ws.config);
    await post(served.url, 1);
    await post(served.url, 2, "loop");
    const code = await served.child.status;
    assert.equal(code.code, 1, served.logs.join("\n"));
    assert.ok(
      served.logs.some((l) => /plugin threads are stuck .*stopping, to be restarted/.test(l)),
    );
    await served.stop();
  }
  const poison = deliveries(ws.dir, "bad").get(2)!;
  assert.equal(poison.state, "dead");
  assert.match(poison.error ?? "", /stopped answering its heartbeat.*cannot be reclaimed/);
  // As systemd would: start again. It listens, and every other callback gets through.
  await using again = await serve(ws.config);
  await post(again.url, 3);
  await everyone(ws.dir, [1, 3], 3);
  await stopWithin(again);
});

Deno.test("isolation: Deno.exit in a handler restarts that plugin alone and dead-letters the callback", async () => {
  await using ws = await workspace(config());
  await using served = await serve(ws.config);
  const plain = await stream(served, 10, new Map([[4, "exit"]]));
  await everyone(ws.dir, plain, 10);
  await eventually(() => deliveries(ws.dir, "bad").get(4)?.state === "dead", "poison dead");
  assert.match(
    deliveries(ws.dir, "bad").get(4)!.error ?? "",
    /^plugin "bad" exited \(the plugin called Deno\.exit\(1\)\) while handling this callback; a callback that brings its plugin down is not retried$/,
  );
  const metrics = (await text(`${served.adminUrl}/metrics`)).text;
  assert.equal(sample(metrics, 'imhookd_plugin_restarts_total{plugin="bad",reason="exit"}'), 1);
  await eventually(async () => (await text(`${served.adminUrl}/readyz`)).status === 200, "ready");
  await stopWithin(served);
});

Deno.test("isolation: errors String() cannot print are dead letters with readable text, and nothing restarts", async () => {
  await using ws = await workspace(config());
  await using served = await serve(ws.config);
  const poison = new Map([[2, "throw-null-proto"], [4, "throw-proxy"], [6, "throw-tostring"]]);
  const plain = await stream(served, 8, poison);
  await everyone(ws.dir, plain, 8);
  await eventually(
    () => [2, 4, 6].every((seq) => deliveries(ws.dir, "bad").get(seq)?.state === "dead"),
    "the three are dead letters after their attempts",
    30_000,
  );
  const bad = deliveries(ws.dir, "bad");
  assert.equal(bad.get(2)!.error, '{"code":7}');
  assert.match(bad.get(4)!.error ?? "", /^an object that cannot be printed/);
  assert.match(bad.get(6)!.error ?? "", /^an object that cannot be printed/);
  for (const seq of [2, 4, 6]) assert.equal(bad.get(seq)!.attempts, 4);
  const metrics = (await text(`${served.adminUrl}/metrics`)).text;
  assert.doesNotMatch(metrics, /imhookd_plugin_restarts_total\{/);
  await stopWithin(served);
});

Deno.test("isolation: a plugin timer that throws restarts that plugin alone, named in the log; serve keeps running", async () => {
  await using ws = await workspace(config());
  await using served = await serve(ws.config);
  await post(served.url, 1, "timer-throw");
  await eventually(
    () =>
      served.logs.some((l) =>
        /Plugin bad threw outside a handler: RangeError: a timer of the plugin threw; restarting/
          .test(l)
      ),
    "the restart is logged with the plugin's name and error",
  );
  const plain = [2, 3, 4];
  for (const seq of plain) await post(served.url, seq);
  await everyone(ws.dir, plain, 4);
  const metrics = (await text(`${served.adminUrl}/metrics`)).text;
  assert.equal(
    sample(metrics, 'imhookd_plugin_restarts_total{plugin="bad",reason="uncaught_error"}'),
    1,
  );
  await stopWithin(served);
});

Deno.test("isolation: with isolation: process, a plugin that allocates without bound is killed at memory_limit and restarted", async () => {
  await using ws = await workspace(
    config({ bad: "    isolation: process\n    memory_limit: 128MiB" }),
  );
  await using served = await serve(ws.config);
  await eventually(async () => (await text(`${served.adminUrl}/readyz`)).status === 200, "ready");
  const plain = await stream(served, 6, new Map([[3, "alloc"]]));
  await everyone(ws.dir, plain, 6);
  await eventually(() => deliveries(ws.dir, "bad").get(3)?.state === "dead", "poison dead");
  assert.match(
    deliveries(ws.dir, "bad").get(3)!.error ?? "",
    /^plugin "bad" ran out of memory \(.*memory_limit.*\) while handling this callback; a callback that brings its plugin down is not retried$/,
  );
  const metrics = (await text(`${served.adminUrl}/metrics`)).text;
  assert.equal(
    sample(metrics, 'imhookd_plugin_restarts_total{plugin="bad",reason="out_of_memory"}'),
    1,
  );
  await stopWithin(served);
});

Deno.test("isolation: on a thread, a plugin that allocates without bound aborts serve once; the next start dead-letters its callback and runs", async () => {
  // A stall limit far beyond the allocation's run, so that on a busy machine the heap still
  // runs out before the heartbeat is missed (this test is about out-of-memory, not stalls).
  await using ws = await workspace(config({ stall: "300s" }));
  // A small V8 heap, so that the allocation ends quickly (the default is gigabytes).
  const env = { DENO_V8_FLAGS: "--max-old-space-size=300" };
  {
    await using served = await serve(ws.config, env);
    await post(served.url, 1);
    await post(served.url, 2, "alloc");
    const status = await served.child.status;
    assert.notEqual(status.code, 0, "V8 aborts the process");
    await served.stop();
  }
  await using again = await serve(ws.config, env);
  await post(again.url, 3);
  await everyone(ws.dir, [1, 3], 3);
  const poison = deliveries(ws.dir, "bad").get(2)!;
  assert.equal(poison.state, "dead");
  assert.match(
    poison.error ?? "",
    /^imhookd stopped abruptly while plugin "bad" handled this callback/,
  );
  assert.ok(
    again.logs.some((l) =>
      /Callback \d+ is a dead letter for bad: imhookd stopped abruptly/.test(l)
    ),
  );
  await stopWithin(again);
});

Deno.test("isolation: a plugin whose create never settles keeps neither the listener closed nor SIGTERM waiting", async () => {
  await using ws = await workspace(
    config({ badOptions: ", create: hang", delivery: "  start_timeout: 1s" }),
  );
  await using served = await serve(ws.config);
  await post(served.url, 1);
  await everyone(ws.dir, [], 1);
  await eventually(
    async () => {
      const ready = await text(`${served.adminUrl}/readyz`);
      return ready.status === 503 &&
        /plugin "bad" (is starting|failed to start|is restarting)/.test(ready.text);
    },
    "/readyz names the plugin that is not running",
  );
  await eventually(
    () =>
      served.logs.some((l) =>
        /Plugin bad did not start within delivery\.start_timeout \(1s\)/.test(l)
      ),
    "the start timeout is logged",
  );
  // Its callbacks wait in the journal meanwhile.
  assert.equal(deliveries(ws.dir, "bad").get(1)?.state, "pending");

  // A reload with a plugin whose create hangs fails after start_timeout; the others go on.
  await Deno.writeTextFile(
    ws.config,
    config({ badOptions: ", create: hang", delivery: "  start_timeout: 1s" }).replace(
      "  - name: good",
      `  - name: late
    use: ${ROOT}tests/fixtures/misbehave.ts
    permissions: { read: [.], write: [.] }
    options: { path: ./late.jsonl, create: hang }
  - name: good`,
    ),
  );
  served.child.kill("SIGHUP");
  await eventually(
    () => served.logs.some((l) => /Reloaded .* with errors|plugin "late" .*start/.test(l)),
    "the reload ends",
  );
  await post(served.url, 2);
  await everyone(ws.dir, [], 2);
  await stopWithin(served);
});

Deno.test("isolation: a plugin whose import never finishes keeps neither the listener closed nor a reload waiting forever", async () => {
  const hanging = `  - name: stuck_import
    use: ${ROOT}tests/fixtures/hangs_on_import.ts
`;
  await using ws = await workspace(
    config({ delivery: "  start_timeout: 2s" }).replace(
      "  - name: good",
      `${hanging}  - name: good`,
    ),
  );
  const started = performance.now();
  await using served = await serve(ws.config);
  // The listener waits a few seconds at most for plugin modules to load, then opens anyway.
  assert.ok(performance.now() - started < 15_000, "serve listens within seconds");
  await post(served.url, 1);
  await everyone(ws.dir, [1], 1);
  await eventually(
    () =>
      served.logs.some((l) =>
        /Plugin stuck_import did not start within delivery\.start_timeout/.test(l)
      ),
    "the start timeout is logged",
  );
  const ready = await text(`${served.adminUrl}/readyz`);
  assert.equal(ready.status, 503);
  assert.match(ready.text, /plugin "stuck_import" (is starting|is restarting)/);

  // A reload that brings a module whose import hangs fails after start_timeout; nothing changes.
  await Deno.writeTextFile(
    ws.config,
    (await Deno.readTextFile(ws.config)).replace(
      "  - name: good",
      `  - name: late\n    use: ${ROOT}tests/fixtures/hangs_on_import.ts\n  - name: good`,
    ),
  );
  served.child.kill("SIGHUP");
  await eventually(
    () =>
      served.logs.some((l) =>
        /Reload failed.*Cannot load plugin \\"late\\".* did not load within delivery\.start_timeout/
          .test(l)
      ),
    "the reload fails naming the plugin",
  );
  await post(served.url, 2);
  await everyone(ws.dir, [1, 2], 2);
  // check reports it too, as a config error.
  const checked = await cli(["check", "--config", ws.config]);
  assert.equal(checked.code, 78, checked.stderr);
  assert.match(
    checked.stderr,
    /Cannot load plugin "late": .* did not load within delivery\.start_timeout \(2s\)/,
  );
  await stopWithin(served);
});
