/**
 * The admin listener's status page (`GET /`): one self-contained HTML document, its style
 * and script inline, no external asset. Every 2 s its script reads `status.json` (the
 * figures of `status.ts`) and draws them: tiles, inline SVG charts and tables. Text from the
 * daemon (errors, commands, plugin names) is set as text, never parsed as HTML.
 *
 * @module
 */

/** The status page. */
export const STATUS_PAGE: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imhookd status</title>
<style>
  :root { color-scheme: light; --fg: #1d2430; --muted: #6b7480; --line: #e3e6ea; --bg: #f6f7f9;
    --ok: #2e7d32; --bad: #c62828; --warn: #ef6c00; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
    background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 12px; padding: 14px 20px; background: #fff;
    border-bottom: 1px solid var(--line); flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  .muted { color: var(--muted); }
  .badge { padding: 2px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; }
  .badge.ready { background: var(--ok); } .badge.unready { background: var(--bad); }
  .badge.stale { background: var(--warn); }
  main { padding: 16px 20px; display: grid; gap: 16px; max-width: 1400px; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
  .tile { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
  .tile .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
  .tile.alert .value { color: var(--bad); }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  section h2 { font-size: 14px; margin: 0 0 8px; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; }
  td.num, th.num { text-align: right; white-space: nowrap; }
  td.error { color: var(--bad); font-family: ui-monospace, monospace; font-size: 12px; word-break: break-word; }
  td.alert { color: var(--bad); font-weight: 600; }
  .legend { display: flex; gap: 12px; flex-wrap: wrap; font-size: 12px; margin-top: 4px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
  svg { width: 100%; height: auto; display: block; }
  svg text { font-size: 10px; fill: var(--muted); }
  .problems { color: var(--bad); margin: 0; padding-left: 18px; }
</style>
</head>
<body>
<header>
  <h1>imhookd</h1>
  <span id="version" class="muted"></span>
  <span id="state" class="badge stale">loading</span>
  <span id="uptime" class="muted"></span>
  <span id="updated" class="muted"></span>
</header>
<main>
  <ul id="problems" class="problems"></ul>
  <div id="tiles" class="tiles"></div>
  <div class="charts">
    <section><h2>Callbacks per second, by result</h2><div id="callbacks-chart"></div></section>
    <section><h2>Decisions per second, by verdict</h2><div id="decisions-chart"></div></section>
  </div>
  <section><h2 id="callbacks-title">Callbacks by command and result</h2><div id="callbacks"></div></section>
  <section><h2>Decisions by command and verdict</h2><div id="decisions"></div></section>
  <section><h2>Plugins</h2><div id="plugins"></div></section>
  <section><h2>Recent dead letters</h2><div id="dead"></div></section>
</main>
<script>
"use strict";
const COLORS = { ok: "#2e7d32", duplicate: "#1565c0", bad_request: "#ef6c00",
  unauthorized: "#c62828", forbidden: "#ad1457", too_large: "#6a1b9a", overloaded: "#f9a825",
  unavailable: "#4e342e", allow: "#2e7d32", reject: "#c62828", drop: "#ef6c00" };
const SPARE = ["#00838f", "#5d4037", "#7b1fa2", "#455a64"];
const ACCEPTED = new Set(["ok", "duplicate"]);
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}
function color(name, i) { return COLORS[name] || SPARE[i % SPARE.length]; }
function rate(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }
function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? s + "s" : s < 7200 ? Math.round(s / 60) + "m" : (s / 3600).toFixed(1) + "h";
}
function bytes(n) {
  return n >= 1048576 ? (n / 1048576).toFixed(1) + " MiB" : (n / 1024).toFixed(1) + " KiB";
}
function sum(list, pick) { return list.reduce((total, item) => total + pick(item), 0); }
function replace(id, ...nodes) { document.getElementById(id).replaceChildren(...nodes); }

function table(headers, rows, empty) {
  if (rows.length === 0) return el("p", { class: "muted" }, empty);
  const head = el("tr", {}, ...headers.map(([title, cls]) => el("th", cls ? { class: cls } : {}, title)));
  const body = rows.map((cells) =>
    el("tr", {}, ...cells.map(([text, cls]) => el("td", cls ? { class: cls } : {}, text))));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
}

function tile(label, value, alert, id) {
  return el("div", { class: "tile" + (alert ? " alert" : ""), "data-tile": id },
    el("div", { class: "value" }, value), el("div", { class: "label" }, label));
}

function chart(series, empty) {
  if (!series) return el("p", { class: "muted" }, "Not counted by this build.");
  const lines = series.lines.filter((line) => line.values.some((v) => v > 0));
  if (series.times.length < 1 || lines.length === 0) return el("p", { class: "muted" }, empty);
  const W = 640, H = 170, L = 40, R = 8, T = 8, B = 20;
  const t0 = series.times[0] - 5000, t1 = series.times[series.times.length - 1];
  const max = Math.max(1, ...lines.flatMap((line) => line.values));
  const x = (t) => L + (t - t0) / Math.max(1, t1 - t0) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
  for (const v of [0, max / 2, max]) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e3e6ea" }));
    const label = svg("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" });
    label.textContent = rate(v);
    root.append(label);
  }
  const left = svg("text", { x: L, y: H - 4 });
  left.textContent = "-" + age(t1 - t0);
  const right = svg("text", { x: W - R, y: H - 4, "text-anchor": "end" });
  right.textContent = "now";
  root.append(left, right);
  const legend = el("div", { class: "legend" });
  lines.forEach((line, i) => {
    const points = line.values.map((v, j) => x(series.times[j]).toFixed(1) + "," + y(v).toFixed(1));
    if (points.length === 1) points.unshift(x(t0).toFixed(1) + "," + y(line.values[0]).toFixed(1));
    root.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: color(line.name, i),
      "stroke-width": 2, "data-line": line.name }));
    legend.append(el("span", {}, el("i", { style: "background:" + color(line.name, i) }),
      line.name + " " + rate(line.values[line.values.length - 1]) + "/s"));
  });
  return el("div", {}, root, legend);
}

/** Rows of a rate table: one per command, one column per value of \`label\`. */
function rateTable(rates, label, empty) {
  const columns = [...new Set(rates.map((r) => r.labels[label]))].sort();
  const commands = [...new Set(rates.map((r) => r.labels.command))].sort();
  const rows = commands.map((command) => [[command], ...columns.map((column) => {
    const found = rates.filter((r) => r.labels.command === command && r.labels[label] === column);
    if (found.length === 0) return ["", "num"];
    return [rate(sum(found, (r) => r.perSecond)) + "/s (" + sum(found, (r) => r.total) + ")", "num"];
  })]);
  return table([["command"], ...columns.map((c) => [c, "num"])], rows, empty);
}

function render(s) {
  document.getElementById("version").textContent = "v" + s.version;
  const state = document.getElementById("state");
  state.textContent = s.problems.length === 0 ? "ready" : "not ready";
  state.className = "badge " + (s.problems.length === 0 ? "ready" : "unready");
  document.getElementById("uptime").textContent = "up " + age(s.now - s.startedAt);
  document.getElementById("updated").textContent = "updated " + new Date(s.now).toLocaleTimeString();
  replace("problems", ...s.problems.map((p) => el("li", {}, p)));

  const accepted = sum(s.callbacks.filter((r) => ACCEPTED.has(r.labels.result)), (r) => r.perSecond);
  const rejected = sum(s.callbacks.filter((r) => !ACCEPTED.has(r.labels.result)), (r) => r.perSecond);
  const pending = sum(s.plugins, (p) => p.pending);
  const dead = sum(s.plugins, (p) => p.dead);
  const lag = Math.max(0, ...s.plugins.map((p) => p.lagMs || 0));
  replace("tiles",
    tile("accepted / s", rate(accepted), false, "accepted"),
    tile("rejected / s", rate(rejected), rejected > 0, "rejected"),
    tile("pending", String(pending), false, "pending"),
    tile("oldest pending", pending > 0 ? age(lag) : "-", lag > 60000, "lag"),
    tile("dead letters", String(dead), dead > 0, "dead"),
    tile("inbox backlog", s.journal ? String(s.journal.inbox) : "?", false, "inbox"),
    tile("quarantined", s.journal ? String(s.journal.quarantined) : "?", false, "quarantined"),
    tile("journal" + (s.journal ? " (" + bytes(s.journal.bytes) + ")" : ""),
      s.journal ? String(s.journal.callbacks) : "?", false, "journal"));

  document.getElementById("callbacks-title").textContent =
    "Callbacks by command and result (per second over the last " + s.windowSeconds + " s, total)";
  replace("callbacks-chart", chart(s.callbacksChart, "No callbacks yet."));
  replace("decisions-chart", chart(s.decisionsChart, "No decisions yet."));
  replace("callbacks", rateTable(s.callbacks, "result", "No callbacks yet."));
  replace("decisions", s.decisions === null
    ? el("p", { class: "muted" }, "Decisions are not counted by this build.")
    : rateTable(s.decisions, "verdict", "No decisions yet."));
  replace("plugins", table(
    [["plugin"], ["pending", "num"], ["lag", "num"], ["dead", "num"], ["restarts", "num"],
      ["delivered / s", "num"], ["failed / s", "num"], ["last error"]],
    s.plugins.map((p) => [[p.name], [String(p.pending), "num"],
      [p.lagMs === null ? "-" : age(p.lagMs), "num"],
      [String(p.dead), p.dead > 0 ? "num alert" : "num"],
      [p.restarts === null ? "-" : String(p.restarts), "num"],
      [rate(p.deliveredPerSecond), "num"], [rate(p.failedPerSecond), "num"],
      [p.lastError ? "#" + p.lastError.callbackId + " (" + p.lastError.state + ", " +
        p.lastError.attempts + " attempts): " + p.lastError.error : "", "error"]]),
    "No plugins."));
  replace("dead", table(
    [["id", "num"], ["plugin"], ["command"], ["group"], ["attempts", "num"], ["received"], ["died"], ["error"]],
    s.deadLetters.map((d) => [[String(d.id), "num"], [d.plugin], [d.command],
      [d.groupKey === null ? "-" : d.groupKey.replace(/^g:/, "")], [String(d.attempts), "num"],
      [age(s.now - d.receivedAt) + " ago"], [age(s.now - d.diedAt) + " ago"],
      [d.error || "", "error"]]),
    "No dead letters."));
  document.body.dataset.updated = String(s.now);
}

async function refresh() {
  try {
    const response = await fetch("status.json", { cache: "no-store" });
    if (!response.ok) throw new Error("status.json answered " + response.status);
    render(await response.json());
  } catch (error) {
    const state = document.getElementById("state");
    state.textContent = "unreachable: " + error.message;
    state.className = "badge stale";
  }
  setTimeout(refresh, 2000);
}
refresh();
</script>
</body>
</html>
`;
