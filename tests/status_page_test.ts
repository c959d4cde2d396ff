/**
 * The admin status page in a real headless Chromium, against a running `serve` with traffic
 * and a plugin that fails: the figures appear, drawn by the page's own script. Fails (never
 * skips) without `chromium`: CI installs it. Set IMHOOKD_SCREENSHOT_DIR to keep the screenshot.
 */
import assert from "node:assert/strict";
import { openPage } from "./_chromium.ts";
import {
  auditAndDownNotify,
  baseConfig,
  eventually,
  serve,
  signedQuery,
  workspace,
} from "./_helpers.ts";

const GROUP = "Group.CallbackAfterSendMsg";
const C2C = "C2C.CallbackAfterSendMsg";

async function post(url: string, command: string, body: unknown, query?: string): Promise<number> {
  const response = await fetch(`${url}?${query ?? signedQuery(command)}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  await response.body?.cancel();
  return response.status;
}

/** What the page shows, read from its DOM. */
interface Shown {
  state: string;
  tiles: Record<string, string>;
  callbacks: string[][];
  plugins: string[][];
  dead: string[][];
  chartLines: string[];
  decisions: string;
}

/** Null until the page's script has drawn the figures once. */
const READ_PAGE = `(() => {
  if (location.protocol !== "http:" || document.body?.dataset.updated === undefined) return null;
  const rows = (id) => [...document.querySelectorAll("#" + id + " tbody tr")]
    .map((tr) => [...tr.children].map((td) => td.textContent));
  return {
    state: document.getElementById("state").textContent,
    tiles: Object.fromEntries([...document.querySelectorAll("[data-tile]")]
      .map((tile) => [tile.dataset.tile, tile.querySelector(".value").textContent])),
    callbacks: rows("callbacks"),
    plugins: rows("plugins"),
    dead: rows("dead"),
    chartLines: [...document.querySelectorAll("#callbacks-chart polyline")].map((p) => p.dataset.line),
    decisions: document.getElementById("decisions").textContent,
  };
})()`;

Deno.test("status page: headless Chromium shows the callbacks, plugins, dead letters and their errors of a running serve", async () => {
  await using ws = await workspace(baseConfig(`admin:
  listen: 127.0.0.1:0
${await auditAndDownNotify()}`));
  await using served = await serve(ws.config);
  assert.ok(served.adminUrl, "the admin listener is up");
  for (let seq = 1; seq <= 4; seq++) {
    const group = {
      CallbackCommand: GROUP,
      GroupId: "@TGS#page",
      From_Account: "a",
      MsgSeq: seq,
      MsgBody: [],
    };
    assert.equal(await post(served.url, GROUP, group), 200);
  }
  for (let seq = 1; seq <= 3; seq++) {
    const c2c = {
      CallbackCommand: C2C,
      From_Account: "a",
      To_Account: "b",
      MsgKey: `k${seq}`,
      MsgBody: [],
    };
    assert.equal(await post(served.url, C2C, c2c), 200);
  }
  assert.equal(await post(served.url, GROUP, { CallbackCommand: GROUP }), 400);
  assert.equal(
    await post(served.url, GROUP, {}, signedQuery(GROUP, { Sign: "0".repeat(64) })),
    401,
  );
  let figures: {
    deadLetters: unknown[];
    plugins: { name: string; pending: number }[];
  } | undefined;
  await eventually(
    async () => {
      const response = await fetch(`${served.adminUrl}/status.json`);
      figures = await response.json();
      return figures!.deadLetters.length === 4 &&
        figures!.plugins.find((p) => p.name === "audit")!.pending === 0;
    },
    "four dead letters and audit done",
    30_000,
    () => `status.json: ${JSON.stringify(figures)}\nserve's log:\n${served.logs.join("\n")}`,
  );

  // Admin stays off the public listener.
  for (const path of ["/", "/status.json"]) {
    const response = await fetch(new URL(path, served.url));
    await response.body?.cancel();
    assert.equal(response.status, 404, `${path} on the callback listener`);
  }

  await using page = await openPage(`${served.adminUrl}/`);
  let shown: Shown | null = null;
  await eventually(
    async () => {
      shown = await page.evaluate<Shown | null>(READ_PAGE);
      return shown !== null && shown.dead.length === 4 && shown.plugins.length === 2;
    },
    "the page draws the figures",
    30_000,
  );
  const { state, tiles, callbacks, plugins, dead, chartLines, decisions } = shown!;
  assert.equal(state, "ready");
  assert.equal(tiles.dead, "4");
  assert.equal(tiles.pending, "0");
  assert.equal(tiles.quarantined, "1");
  assert.equal(tiles.journal, "7");
  assert.match(tiles.accepted!, /^\d+\.\d+$/);
  // By command and result: per second, then the total in parentheses.
  assert.deepEqual(
    callbacks.map((row) => row.map((cell) => cell.replace(/^\d+\.\d+\/s \((\d+)\)$/, "($1)"))),
    [
      [C2C, "", "(3)", ""],
      [GROUP, "(1)", "(4)", "(1)"],
    ],
  );
  assert.deepEqual(chartLines.sort(), ["bad_request", "ok", "unauthorized"]);
  assert.match(decisions, /Decisions are not counted by this build|No decisions yet/);
  const [audit, notify] = plugins;
  assert.deepEqual(audit!.slice(0, 4), ["audit", "0", "-", "0"]);
  assert.deepEqual(notify!.slice(0, 4), ["notify", "0", "-", "4"]);
  assert.match(
    notify![7]!,
    /^#\d+ \(dead, 2 attempts\): TypeError: fetch failed; caused by .*Connection refused/,
  );
  assert.deepEqual(dead.map((row) => row.slice(0, 5)), [
    ["4", "notify", GROUP, "@TGS#page", "2"],
    ["3", "notify", GROUP, "@TGS#page", "2"],
    ["2", "notify", GROUP, "@TGS#page", "2"],
    ["1", "notify", GROUP, "@TGS#page", "2"],
  ]);
  for (const row of dead) {
    assert.match(row[5]!, / ago$/, "when it was received");
    assert.match(row[6]!, / ago$/, "when it died");
    assert.match(row[7]!, /fetch failed; caused by /);
  }
  assert.deepEqual(page.errors, [], "no error in the page's script");

  const png = await page.screenshot(1280, 1200);
  assert.deepEqual([...png.slice(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "a PNG");
  assert.ok(png.length > 20_000, `a screenshot with content (${png.length} bytes)`);
  await Deno.writeFile(`${ws.dir}/status_page.png`, png);
  const keep = Deno.env.get("IMHOOKD_SCREENSHOT_DIR");
  if (keep) await Deno.copyFile(`${ws.dir}/status_page.png`, `${keep}/status_page.png`);
  assert.equal(await served.stop(), 0);
});
