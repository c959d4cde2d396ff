import assert from "node:assert/strict";
import { adminHandler } from "./admin.ts";
import { JournalWriter } from "../journal/mod.ts";
import { Metrics } from "./metrics.ts";

async function withAdmin(
  problems: string[],
  fn: (handle: (path: string, method?: string) => Promise<[number, string]>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const journal = JournalWriter.open(`${dir}/journal.db`);
  try {
    await journal.append({
      sdkAppId: "1400000000",
      command: "Group.CallbackAfterSendMsg",
      receivedAt: Date.now(),
      body: "{}",
      dedupKey: "k1",
      plugins: ["audit"],
    });
    const handler = adminHandler({
      journal,
      metrics: new Metrics(),
      plugins: () => ["audit"],
      problems: () => problems,
    });
    await fn(async (path, method = "GET") => {
      const response = await handler(new Request(`http://127.0.0.1${path}`, { method }));
      return [response.status, await response.text()];
    });
  } finally {
    journal.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("admin: /healthz, /readyz and /metrics with the journal's pending counts", async () => {
  await withAdmin([], async (handle) => {
    assert.deepEqual(await handle("/healthz"), [200, "ok\n"]);
    assert.deepEqual(await handle("/readyz"), [200, "ready\n"]);
    const [status, text] = await handle("/metrics");
    assert.equal(status, 200);
    assert.match(text, /^imhookd_pending\{plugin="audit"\} 1$/m);
    assert.match(text, /^imhookd_dead_letters\{plugin="audit"\} 0$/m);
    assert.deepEqual(await handle("/nope"), [404, "Not found: /healthz /readyz /metrics\n"]);
    assert.equal((await handle("/metrics", "POST"))[0], 405);
  });
});

Deno.test("admin: /readyz lists every reason it is not ready", async () => {
  await withAdmin(['plugin "crm" failed to start: no database'], async (handle) => {
    assert.deepEqual(await handle("/readyz"), [
      503,
      'not ready:\n- plugin "crm" failed to start: no database\n',
    ]);
  });
});
