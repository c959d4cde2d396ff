import assert from "node:assert/strict";
import { adminHandler } from "./admin.ts";
import { JournalWriter } from "../journal/mod.ts";
import { Metrics } from "./metrics.ts";
import { StatusBoard } from "./status.ts";
import { STATUS_PAGE } from "./status_page.ts";

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

Deno.test("admin: with a status board, / is the self-contained status page and /status.json its figures", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/journal.db`;
  const journal = JournalWriter.open(path);
  const metrics = new Metrics();
  const status = new StatusBoard({
    metrics,
    journalPath: path,
    plugins: () => ["audit"],
    problems: () => [],
    now: () => 1_000,
  });
  try {
    const handler = adminHandler({
      journal,
      metrics,
      plugins: () => ["audit"],
      problems: () => [],
      status,
    });
    const page = await handler(new Request("http://127.0.0.1/"));
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
    const html = await page.text();
    assert.equal(html, STATUS_PAGE);
    // Self-contained: no external script, style, image or font.
    assert.doesNotMatch(html, /\b(src|href)=|@import|url\(/);
    // Its script parses (Chromium runs it in tests/status_page_test.ts).
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
    new Function(script);

    const json = await handler(new Request("http://127.0.0.1/status.json"));
    assert.equal(json.status, 200);
    assert.equal(json.headers.get("cache-control"), "no-store");
    const figures = await json.json();
    assert.deepEqual(figures.plugins.map((p: { name: string }) => p.name), ["audit"]);
    assert.equal(figures.journal.callbacks, 0);

    const missing = await handler(new Request("http://127.0.0.1/nope"));
    assert.equal(await missing.text(), "Not found: / /status.json /healthz /readyz /metrics\n");
    assert.equal(missing.status, 404);
  } finally {
    status.close();
    journal.close();
    await Deno.remove(dir, { recursive: true });
  }
});
