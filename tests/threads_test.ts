/**
 * Plugins run on threads of their own, not on the one that answers callbacks: a plugin that
 * never yields must not hold up the answers, and what it handles still reaches the journal as
 * delivered. On Linux the delivery threads run nicer than the rest of the daemon, except those
 * of plugins that may decide: Tencent waits for their answers.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  baseConfig,
  eventually,
  recorded,
  ROOT,
  serve,
  signedQuery,
  workspace,
} from "./_helpers.ts";

const COMMAND = "Group.CallbackAfterSendMsg";

function post(url: string, seq: number, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}?${signedQuery(COMMAND)}`, {
    method: "POST",
    ...(signal ? { signal } : {}),
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      CallbackCommand: COMMAND,
      GroupId: `@TGS#busy${seq}`,
      From_Account: "jared",
      MsgSeq: seq,
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message ${seq}` } }],
    }),
  });
}

Deno.test("threads: a plugin that never yields does not hold up the answers", async () => {
  await using ws = await workspace(baseConfig(`plugins:
  - name: busy
    use: ${ROOT}tests/fixtures/busy.ts
    permissions: { read: [.], write: [.] }
    options: { path: ./busy.jsonl, spin_while: ./hold }
`));
  const hold = `${ws.dir}/hold`;
  await Deno.writeTextFile(hold, "");
  await using served = await serve(ws.config);
  const first = await post(served.url, 1);
  assert.equal(first.status, 200, await first.text());
  // The plugin's thread now spins on the first callback until `hold` is removed: answers
  // that waited for that thread would never come.
  await eventually(() => exists(`${hold}.spinning`), "the plugin spins on the first callback");
  for (let seq = 2; seq <= 3; seq++) {
    const response = await post(served.url, seq, AbortSignal.timeout(30_000));
    assert.equal(response.status, 200, await response.text());
  }
  assert.deepEqual(await recorded(`${ws.dir}/busy.jsonl`), [], "answered while it spun");
  await Deno.remove(hold);
  await eventually(
    async () => (await recorded(`${ws.dir}/busy.jsonl`)).length >= 1,
    "the plugin handled the first callback",
  );
  const db = new DatabaseSync(`${ws.dir}/journal.db`, { readOnly: true });
  try {
    const pending = db.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE plugin = 'busy'");
    await eventually(
      () => (pending.get() as { n: number }).n <= 2,
      "the first delivery is committed as done",
    );
  } finally {
    db.close();
  }
  assert.equal(await served.stop(), 0);
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The nice value of each thread of process `pid`, by thread name (`/proc/PID/task/TID/stat`). */
async function niceByThread(pid: number): Promise<Map<string, number[]>> {
  const threads = new Map<string, number[]>();
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const stat = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/stat`);
    // "tid (name) state ...": the fields after the name start at field 3; nice is field 19.
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
    threads.set(name, [...threads.get(name) ?? [], nice]);
  }
  return threads;
}

Deno.test({
  name:
    "threads: the engine's and each handling plugin's thread run 10 nicer than the thread that answers, a decider's does not (Linux)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await using ws = await workspace(baseConfig(`plugins:
  - name: busy
    use: ${ROOT}tests/fixtures/busy.ts
    on: ["Group.*"]
    permissions: { read: [.], write: [.] }
    options: { path: ./busy.jsonl, spin_ms: 0 }
  - name: logger
    use: builtin:file_logger
    options: { path: ./callbacks.jsonl }
  - name: decider
    use: ${ROOT}tests/fixtures/decider.ts
    on: ["Group.CallbackAfterSendMsg", "Group.CallbackBeforeSendMsg"]
    options: { rules: [] }
`));
    await using served = await serve(ws.config);
    const response = await post(served.url, 1);
    assert.equal(response.status, 200, await response.text());
    const threads = await niceByThread(served.child.pid);
    const main = threads.get("deno") ?? threads.get("main.ts");
    assert.ok(main !== undefined, `no main thread among ${[...threads.keys()]}`);
    const base = Math.min(...main);
    // The engine's worker and the plugins': Deno names their threads worker-N. "busy" matches
    // decision commands (Group.*) but has no say before it runs: it is a handler all the same,
    // unlike the built-in file_logger (`on: *`), which is known not to decide.
    const workers = [...threads].filter(([name]) => /^worker-\d+$/.test(name)).flatMap(([, n]) => n)
      .sort((a, b) => a - b);
    const nicer = Math.min(19, base + 10);
    assert.deepEqual(workers, [base, base, nicer, nicer], [...threads].join("; "));
    assert.equal(await served.stop(), 0);
  },
});
