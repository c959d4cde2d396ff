/**
 * Outage drill, end to end: `builtin:webhook_forwarder` posts to a receiver on 127.0.0.1 that
 * refuses connections (its port is closed) for a while, then comes back on the same port.
 * The listener must answer 200 throughout, and every callback must arrive, none dead-lettered.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { baseConfig, eventually, serve, signedQuery, workspace } from "./_helpers.ts";
import { vacantPort } from "./_ports.ts";

const COMMAND = "Group.CallbackAfterSendMsg";

function body(seq: number): string {
  return JSON.stringify({
    CallbackCommand: COMMAND,
    GroupId: `@TGS#drill${seq % 4}`,
    From_Account: "jared",
    MsgSeq: seq,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message ${seq}` } }],
  });
}

async function post(url: string, seq: number): Promise<number> {
  const response = await fetch(`${url}?${signedQuery(COMMAND)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body(seq),
  });
  await response.body?.cancel();
  return response.status;
}

async function refused(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

Deno.test("drill: the forwarder's receiver refuses connections, then comes back; every callback arrives, none dead, every answer 200", async () => {
  const port = await vacantPort();
  await using ws = await workspace(baseConfig(`delivery:
  max_attempts: 1000
  initial_backoff: 50ms
  max_backoff: 500ms
log:
  level: info
  format: json
plugins:
  - name: forward
    use: builtin:webhook_forwarder
    options:
      url: http://127.0.0.1:${port}/hook
      format: envelope
      timeout: 2s
`));
  await using served = await serve(ws.config);
  assert.ok(await refused(port), "the receiver's port refuses connections");

  const answers: number[] = [];
  let seq = 0;
  const sendSome = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) answers.push(await post(served.url, ++seq));
  };

  // The outage: callbacks keep being acknowledged while every delivery fails.
  await sendSome(40);
  await eventually(
    () => served.logs.filter((line) => /failed in forward/.test(line)).length >= 8,
    "the forwarder has failed and retried a few times",
  );
  assert.ok(
    served.logs.some((line) => /failed in forward.*(refused|connect)/i.test(line)),
    "failures are connection refusals",
  );
  await sendSome(20);

  // The receiver comes back on the same port.
  const received = new Map<number, number>();
  const ids = new Set<string>();
  await using receiver = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (request) => {
      const envelope = await request.json() as { id: string; payload: { MsgSeq: number } };
      ids.add(request.headers.get("webhook-id") ?? "");
      const n = envelope.payload.MsgSeq;
      received.set(n, (received.get(n) ?? 0) + 1);
      return new Response("ok");
    },
  );
  await sendSome(20);
  await eventually(() => received.size === seq, `all ${seq} callbacks arrived`, 60_000);
  assert.deepEqual(
    [...received.keys()].sort((a, b) => a - b),
    Array.from({ length: seq }, (_, i) => i + 1),
  );
  assert.equal(ids.size, seq, "one webhook-id per callback");
  assert.deepEqual(answers.filter((status) => status !== 200), [], "every answer was 200");
  assert.equal(answers.length, 80);
  assert.equal(await served.stop(), 0);

  const db = new DatabaseSync(`${ws.dir}/journal.db`);
  try {
    const left = db.prepare(
      "SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state",
    ).all() as { state: string; n: number }[];
    assert.deepEqual(left, [], "nothing pending or dead");
  } finally {
    db.close();
  }
  assert.equal(
    served.logs.filter((line) => /dead letter/.test(line)).length,
    0,
    "nothing dead-lettered",
  );
  await receiver.shutdown();
});
