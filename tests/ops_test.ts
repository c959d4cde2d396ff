/**
 * Operations, end to end against the real `serve` process: the admin listener, graceful
 * shutdown on SIGTERM/SIGINT, reload on SIGHUP, systemd notifications and TLS.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  APP,
  cli,
  eventually,
  hasTool,
  recorded,
  ROOT,
  serve,
  type Served,
  signedQuery,
  TOKEN,
  workspace,
} from "./_helpers.ts";

const COMMAND = "Group.CallbackAfterSendMsg";
const LIFECYCLE = `${ROOT}tests/fixtures/lifecycle.ts`;

function body(seq: number, group = `@TGS#ops${seq % 8}`): string {
  return JSON.stringify({
    CallbackCommand: COMMAND,
    GroupId: group,
    Type: "Public",
    From_Account: "jared",
    MsgSeq: seq,
    MsgTime: 1490686222,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `message ${seq}` } }],
    EventTime: Date.now(),
  });
}

/** POSTs callback `seq`; resolves with the status and the answer's text. */
async function post(
  url: string,
  seq: number,
  options: { group?: string; query?: Record<string, string>; client?: Deno.HttpClient } = {},
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}?${signedQuery(COMMAND, options.query)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body(seq, options.group),
    ...(options.client ? { client: options.client } : {}),
  });
  return { status: response.status, text: await response.text() };
}

async function get(url: string): Promise<{ status: number; text: string; type: string }> {
  const response = await fetch(url);
  return {
    status: response.status,
    text: await response.text(),
    type: response.headers.get("content-type") ?? "",
  };
}

function lifecyclePlugin(name: string, options: string, on = '["*"]'): string {
  return `
  - name: ${name}
    use: ${LIFECYCLE}
    permissions: { read: [.], write: [.] }
    on: ${on}
    options: { path: ./${name}.jsonl, ${options} }`;
}

function config(plugins: string, extra = "", apps = ""): string {
  return `
server:
  listen: 127.0.0.1:0
  path: /im/callback
admin:
  listen: 127.0.0.1:0
apps:
  - sdk_app_id: ${APP}
    token: ${TOKEN}
${apps}
journal:
  path: ./journal.db
log:
  level: debug
  format: json
${extra}
plugins:${plugins}
`;
}

type Line = Record<string, unknown> & { event: string };

function lines(dir: string, plugin: string): Promise<Line[]> {
  return recorded(`${dir}/${plugin}.jsonl`) as Promise<Line[]>;
}

function logged(served: Served, pattern: RegExp): boolean {
  return served.logs.some((line) => pattern.test(line));
}

function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("admin: /healthz, /readyz and /metrics answer on the admin listener, never on the callback one", async () => {
  await using ws = await workspace(config(lifecyclePlugin("life", "tag: v1")));
  await using served = await serve(ws.config);
  assert.ok(served.adminUrl, "the admin address is logged");
  const admin = served.adminUrl!;

  assert.equal((await post(served.url, 1)).status, 200);
  assert.equal((await post(served.url, 1)).status, 200); // duplicate
  const badSign = await post(served.url, 2, { query: { Sign: "0".repeat(64) } });
  assert.equal(badSign.status, 401);
  const unknownApp = await post(served.url, 3, { query: { SdkAppid: "1400000999" } });
  assert.equal(unknownApp.status, 403);
  await eventually(
    async () => (await lines(ws.dir, "life")).some((l) => l.event === "done"),
    "the callback is delivered",
  );

  assert.deepEqual(await get(`${admin}/healthz`), {
    status: 200,
    text: "ok\n",
    type: "text/plain; charset=utf-8",
  });
  const ready = await get(`${admin}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal(ready.text, "ready\n");

  // The delivery thread hands its metrics to the main thread in batches, after the plugin
  // returned: the snapshot is read once this delivery is in it.
  let metrics = await get(`${admin}/metrics`);
  await eventually(async () => {
    metrics = await get(`${admin}/metrics`);
    return (sample(metrics.text, 'imhookd_deliveries_total{plugin="life",result="ok"}') ?? 0) >=
        1 && sample(metrics.text, 'imhookd_pending{plugin="life"}') === 0;
  }, "/metrics counts the delivery");
  assert.equal(metrics.status, 200);
  assert.equal(metrics.type, "text/plain; version=0.0.4; charset=utf-8");
  const families: [string, string][] = [
    ["imhookd_callbacks_total", "counter"],
    ["imhookd_ack_seconds", "histogram"],
    ["imhookd_verify_failures_total", "counter"],
    ["imhookd_deliveries_total", "counter"],
    ["imhookd_delivery_seconds", "histogram"],
    ["imhookd_pending", "gauge"],
    ["imhookd_dead_letters", "gauge"],
    ["imhookd_config_reloads_total", "counter"],
  ];
  for (const [name, type] of families) {
    assert.match(metrics.text, new RegExp(`^# HELP ${name} \\S.*$`, "m"), `HELP of ${name}`);
    assert.match(metrics.text, new RegExp(`^# TYPE ${name} ${type}$`, "m"), `TYPE of ${name}`);
  }
  // Every sample line belongs to a family announced before it.
  let family = "";
  for (const line of metrics.text.trimEnd().split("\n")) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) family = type[1]!;
    if (line.startsWith("#")) continue;
    assert.match(line, /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$/);
    assert.ok(line.startsWith(family), `${line} is under # TYPE ${family}`);
  }
  const t = metrics.text;
  assert.equal(sample(t, `imhookd_callbacks_total{command="${COMMAND}",result="ok"}`), 1);
  assert.equal(sample(t, `imhookd_callbacks_total{command="${COMMAND}",result="duplicate"}`), 1);
  assert.equal(
    sample(t, `imhookd_callbacks_total{command="${COMMAND}",result="unauthorized"}`),
    1,
  );
  assert.equal(sample(t, `imhookd_callbacks_total{command="${COMMAND}",result="forbidden"}`), 1);
  assert.ok((sample(t, 'imhookd_deliveries_total{plugin="life",result="ok"}') ?? 0) >= 1);
  assert.equal(sample(t, 'imhookd_pending{plugin="life"}'), 0);
  assert.equal(sample(t, 'imhookd_dead_letters{plugin="life"}'), 0);
  assert.equal(sample(t, 'imhookd_config_reloads_total{result="ok"}'), 0);
  assert.equal(sample(t, 'imhookd_config_reloads_total{result="failed"}'), 0);
  assert.ok(/^imhookd_verify_failures_total\{reason="[a-z_]+"\} [1-9]/m.test(t));

  // Histograms: buckets from below a millisecond to beyond ten seconds, cumulative, +Inf = count.
  for (
    const [name, labels] of [["imhookd_ack_seconds", ""], [
      "imhookd_delivery_seconds",
      'plugin="life",',
    ]] as const
  ) {
    const buckets = [
      ...t.matchAll(new RegExp(`^${name}_bucket\\{${labels}le="([^"]+)"\\} (\\d+)$`, "gm")),
    ]
      .map((m) => [m[1]!, Number(m[2])] as const);
    assert.ok(buckets.length >= 10, `${name} has buckets`);
    const bounds = buckets.map(([le]) => le === "+Inf" ? Infinity : Number(le));
    assert.equal(bounds.at(-1), Infinity);
    assert.ok(bounds[0]! <= 0.001, `${name} starts at a millisecond or less`);
    assert.ok(bounds.at(-2)! >= 10, `${name} reaches ten seconds`);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(bounds[i]! > bounds[i - 1]!, `${name} bounds increase`);
      assert.ok(buckets[i]![1] >= buckets[i - 1]![1], `${name} counts are cumulative`);
    }
    const count = sample(t, `${name}_count${labels ? `{${labels.slice(0, -1)}}` : ""}`);
    assert.equal(buckets.at(-1)![1], count);
    assert.ok(count! >= 1);
  }

  // The callback listener knows nothing of the admin paths.
  for (const path of ["/healthz", "/readyz", "/metrics"]) {
    const answer = await get(new URL(path, served.url).href);
    assert.equal(answer.status, 404, `${path} on the callback listener`);
    assert.equal(JSON.parse(answer.text).ErrorCode, 404);
  }
  const post405 = await fetch(`${admin}/metrics`, { method: "POST", body: "x" });
  await post405.body?.cancel();
  assert.equal(post405.status, 405);
  assert.equal(await served.stop(), 0);
});

Deno.test("admin: /readyz is 503 with the reason while the journal cannot be written, and recovers", async () => {
  await using ws = await workspace(config(lifecyclePlugin("life", "tag: v1")));
  await using served = await serve(ws.config);
  const admin = served.adminUrl!;
  // Ready once the plugin runs: the listener does not wait for it.
  await eventually(async () => (await get(`${admin}/readyz`)).status === 200, "ready");

  const other = new DatabaseSync(`${ws.dir}/journal.db`);
  try {
    other.exec("BEGIN IMMEDIATE");
    const blocked = await get(`${admin}/readyz`);
    assert.equal(blocked.status, 503);
    assert.match(blocked.text, /^not ready:\n- journal .*journal\.db is not writable: .*locked/);
    // Callbacks are still stored, in the journal's inbox, and indexed once the lock is gone.
    const kept = await post(served.url, 1);
    assert.equal(kept.status, 200, kept.text);
    other.exec("COMMIT");
  } finally {
    other.close();
  }
  const back = await get(`${admin}/readyz`);
  assert.equal(back.status, 200, back.text);
  assert.equal((await post(served.url, 2)).status, 200);
  assert.equal(await served.stop(), 0);
});

Deno.test("reload: SIGHUP switches plugins, apps and routes while callbacks stream in; an invalid config keeps the running one", async () => {
  const before = config(
    lifecyclePlugin("keep", "tag: v1") + lifecyclePlugin("gone", "tag: v1"),
  );
  await using ws = await workspace(before);
  await using served = await serve(ws.config);
  const admin = served.adminUrl!;
  const app2 = { SdkAppid: "1400000001" };
  assert.equal((await post(served.url, 0, { query: app2 })).status, 403);

  // 0: before SIGHUP; 1: SIGHUP sent; 2: reload logged; 3: invalid SIGHUP sent; 4: logged.
  let phase = 0;
  let streaming = true;
  let seq = 0;
  const sent: { seq: number; status: number; from: number; to: number }[] = [];
  const stream = Array.from({ length: 4 }, async () => {
    while (streaming) {
      const mine = ++seq;
      const from = phase;
      const { status } = await post(served.url, mine);
      sent.push({ seq: mine, status, from, to: phase });
    }
  });
  const until = (n: number) => eventually(() => sent.length >= n, `${n} callbacks answered`);
  try {
    await until(20);
    await Deno.writeTextFile(
      ws.config,
      config(
        lifecyclePlugin("keep", "tag: v2") + lifecyclePlugin("fresh", "tag: v1"),
        "",
        `  - sdk_app_id: 1400000001\n    token: ${TOKEN}`,
      ).replace("listen: 127.0.0.1:0\n  path", "listen: 127.0.0.1:1\n  path"),
    );
    phase = 1;
    served.child.kill("SIGHUP");
    await eventually(() => logged(served, /"Reloaded .*config\.yaml/), "the reload is logged");
    phase = 2;
    const afterReload = sent.length;
    await until(afterReload + 20);

    await Deno.writeTextFile(
      ws.config,
      before.replace("path: /im/callback", "path: /im/callback\n  bogus_key: 1")
        .replace(LIFECYCLE, "builtin:no_such_plugin"),
    );
    phase = 3;
    served.child.kill("SIGHUP");
    await eventually(() => logged(served, /Reload failed/), "the failed reload is logged");
    phase = 4;
    const afterFailure = sent.length;
    await until(afterFailure + 20);
  } finally {
    streaming = false;
    await Promise.all(stream);
  }

  // Zero failed requests through both reloads.
  assert.deepEqual(sent.filter((s) => s.status !== 200), []);
  assert.equal((await post(served.url, 0, { query: app2 })).status, 200, "app added by reload");

  const delivered = async (plugin: string): Promise<Line[]> =>
    (await lines(ws.dir, plugin)).filter((l) => l.event === "done");
  // `keep` gets every callback (restarted with its new options), the later ones as v2.
  await eventually(
    async () => {
      const seqs = new Set((await delivered("keep")).map((l) => l.seq));
      return sent.every((s) => seqs.has(s.seq));
    },
    "keep has every callback",
    20_000,
  );
  const keep = await delivered("keep");
  for (const s of sent.filter((s) => s.from >= 2)) {
    assert.ok(keep.some((l) => l.seq === s.seq && l.tag === "v2"), `seq ${s.seq} reached keep v2`);
  }
  // `fresh` gets the callbacks sent after the reload, `gone` none of them.
  await eventually(async () => {
    const seqs = new Set((await delivered("fresh")).map((l) => l.seq));
    return sent.filter((s) => s.from >= 2).every((s) => seqs.has(s.seq));
  }, "fresh has every callback sent after the reload");
  const fresh = new Set((await delivered("fresh")).map((l) => l.seq));
  for (const s of sent.filter((s) => s.to === 0)) {
    assert.ok(!fresh.has(s.seq), `seq ${s.seq}, answered before SIGHUP, is not for fresh`);
  }
  const gone = await lines(ws.dir, "gone");
  for (const line of gone.filter((l) => l.event === "done")) {
    const s = sent.find((s) => s.seq === line.seq);
    assert.ok(s === undefined || s.from < 2, `seq ${line.seq} reached gone after the reload`);
  }
  assert.ok(gone.some((l) => l.event === "done"), "gone got callbacks before the reload");
  assert.equal(gone.at(-1)!.event, "dispose");

  const life = (await lines(ws.dir, "keep")).filter((l) =>
    l.event !== "start" && l.event !== "done"
  );
  // The old instance is disposed before the new one is created.
  assert.deepEqual(life.map((l) => `${l.event} ${l.tag}`), [
    "create v1",
    "dispose v1",
    "create v2",
  ]);

  // Restart-only settings and every error of the invalid config are logged.
  assert.ok(logged(served, /server\.listen changed in .*only after a restart/));
  assert.ok(logged(served, /Reload failed.*bogus_key/));
  assert.ok(logged(served, /Reload failed.*no_such_plugin/));
  const metrics = (await get(`${admin}/metrics`)).text;
  assert.equal(sample(metrics, 'imhookd_config_reloads_total{result="ok"}'), 1);
  assert.equal(sample(metrics, 'imhookd_config_reloads_total{result="failed"}'), 1);
  assert.equal(await served.stop(), 0);
  for (const line of served.logs) assert.doesNotMatch(line, new RegExp(TOKEN));
});

Deno.test("reload: a plugin that fails to start makes /readyz 503 until a reload starts it", async () => {
  await using ws = await workspace(config(lifecyclePlugin("life", "tag: v1")));
  await using served = await serve(ws.config);
  const admin = served.adminUrl!;
  const reloads = async (n: number): Promise<void> => {
    served.child.kill("SIGHUP");
    await eventually(
      () => served.logs.filter((l) => /"Reloaded /.test(l)).length >= n,
      `reload ${n} is logged`,
    );
  };

  await Deno.writeTextFile(
    ws.config,
    config(lifecyclePlugin("life", "tag: v1") + lifecyclePlugin("picky", "fail_create: true")),
  );
  await reloads(1);
  const notReady = await get(`${admin}/readyz`);
  assert.equal(notReady.status, 503);
  assert.match(notReady.text, /plugin "picky" failed to start: .*refuses to start on purpose/);
  // Its callbacks wait in the journal meanwhile.
  assert.equal((await post(served.url, 1)).status, 200);

  await Deno.writeTextFile(
    ws.config,
    config(lifecyclePlugin("life", "tag: v1") + lifecyclePlugin("picky", "fail_create: false")),
  );
  await reloads(2);
  const ready = await get(`${admin}/readyz`);
  assert.equal(ready.status, 200, ready.text);
  await eventually(
    async () => (await lines(ws.dir, "picky")).some((l) => l.event === "done" && l.seq === 1),
    "picky gets the callback journaled while it was down",
  );
  const metrics = (await get(`${admin}/metrics`)).text;
  assert.equal(sample(metrics, 'imhookd_config_reloads_total{result="failed"}'), 1);
  assert.equal(sample(metrics, 'imhookd_config_reloads_total{result="ok"}'), 1);
  assert.equal(await served.stop(), 0);
});

Deno.test("shutdown: SIGINT answers 503 to new callbacks and lets the request in flight finish", async () => {
  await using ws = await workspace(config(lifecyclePlugin("life", "tag: v1")));
  let served = await serve(ws.config);
  try {
    const url = new URL(served.url);
    const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
    const text = new TextEncoder().encode(body(1));
    const half = Math.floor(text.length / 2);
    await conn.write(
      new TextEncoder().encode(
        `POST ${url.pathname}?${signedQuery(COMMAND)} HTTP/1.1\r\nHost: ${url.host}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${text.length}\r\n\r\n`,
      ),
    );
    await conn.write(text.subarray(0, half));
    // A full round trip after the partial write: the partial request is being read by now.
    assert.equal((await post(served.url, 2)).status, 200);

    served.child.kill("SIGINT");
    await eventually(() => logged(served, /Shutting down/), "shutdown starts");
    const late = await post(served.url, 3);
    assert.equal(late.status, 503);
    assert.deepEqual(JSON.parse(late.text), {
      ActionStatus: "FAIL",
      ErrorCode: 503,
      ErrorInfo: "imhookd is shutting down",
    });

    await conn.write(text.subarray(half));
    let answer = "";
    const decoder = new TextDecoder();
    for await (const chunk of conn.readable) {
      answer += decoder.decode(chunk, { stream: true });
      if (answer.includes('"ErrorInfo":""}')) break;
    }
    assert.match(answer, /^HTTP\/1\.1 200 OK/);
    assert.ok(answer.endsWith('{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'));
    try {
      conn.close();
    } catch {
      // The server may have closed it first.
    }
    assert.equal(await served.stop(), 0);
    assert.ok(logged(served, /Received SIGINT/));
  } finally {
    await served[Symbol.asyncDispose]();
  }

  // The acknowledged in-flight callback was journaled; the refused one was not.
  served = await serve(ws.config);
  try {
    await eventually(async () => {
      const seqs = (await lines(ws.dir, "life")).filter((l) => l.event === "done").map((l) =>
        l.seq
      );
      return seqs.includes(1) && seqs.includes(2);
    }, "both acknowledged callbacks are delivered");
    assert.equal(await served.stop(), 0);
  } finally {
    await served[Symbol.asyncDispose]();
  }
  const done = (await lines(ws.dir, "life")).filter((l) => l.event === "done");
  assert.ok(!done.some((l) => l.seq === 3), "the callback refused with 503 was not kept");
});

Deno.test("shutdown: SIGTERM gives running handlers the grace period, exits 0, and a restart delivers the aborted ones", async () => {
  const slow = (ms: number): string =>
    config(
      lifecyclePlugin("slow", `slow_groups: ["@slow"], slow_ms: ${ms}, delay_ms: 300`),
      "delivery:\n  shutdown_grace: 1500ms\n  handler_timeout: 120s",
    );
  await using ws = await workspace(slow(60_000));
  let served = await serve(ws.config);
  let elapsed: number;
  try {
    assert.equal((await post(served.url, 1, { group: "@slow" })).status, 200);
    assert.equal((await post(served.url, 2, { group: "@quick" })).status, 200);
    await eventually(
      async () => (await lines(ws.dir, "slow")).filter((l) => l.event === "start").length === 2,
      "both handlers run",
    );
    const sentAt = performance.now();
    assert.equal(await served.stop(), 0);
    elapsed = performance.now() - sentAt;
  } finally {
    await served[Symbol.asyncDispose]();
  }
  // All of the grace period but the share kept to dispose the plugins (a fifth).
  assert.ok(elapsed >= 1150, `the slow handler got its grace period (${elapsed} ms)`);
  // Far below the 60 s the slow handler would take, whatever the machine's load.
  assert.ok(elapsed < 30_000, `shutdown took ${elapsed} ms for a 1500 ms grace`);
  const first = await lines(ws.dir, "slow");
  assert.deepEqual(
    first.filter((l) => l.event !== "start").map((l) => `${l.event} ${l.seq ?? ""}`.trim()),
    ["create", "done 2", "abort 1", "dispose"],
  );

  await Deno.writeTextFile(ws.config, slow(0));
  served = await serve(ws.config);
  try {
    await eventually(
      async () => (await lines(ws.dir, "slow")).some((l) => l.event === "done" && l.seq === 1),
      "the aborted callback is delivered after the restart",
    );
    assert.equal(await served.stop(), 0);
  } finally {
    await served[Symbol.asyncDispose]();
  }
  const all = await lines(ws.dir, "slow");
  assert.equal(all.filter((l) => l.event === "done" && l.seq === 2).length, 1, "2 ran once");
  const redone = all.find((l) => l.event === "done" && l.seq === 1)!;
  assert.equal(redone.attempt, 1, "an aborted attempt is not counted as a failure");
});

/** A unix datagram socket bound by a child process, printing what it receives. */
async function notifyListener(address: string): Promise<
  AsyncDisposable & { messages: string[] }
> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      `${ROOT}tests/fixtures/notify_listener.ts`,
      address,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const messages: string[] = [];
  const bound = Promise.withResolvers<void>();
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line === "bound") bound.resolve();
        else messages.push(JSON.parse(line));
      }
    }
    bound.reject(new Error("the notify listener exited before binding"));
  })();
  await bound.promise;
  return {
    messages,
    async [Symbol.asyncDispose]() {
      await child.stdin.close();
      await child.status;
      await reading;
    },
  };
}

function uptimeUsec(): bigint {
  const [seconds, hundredths] = Deno.readTextFileSync("/proc/uptime").split(" ")[0]!.split(".");
  return BigInt(seconds!) * 1_000_000n + BigInt(hundredths!.padEnd(6, "0"));
}

Deno.test("notify: READY, RELOADING with MONOTONIC_USEC, READY, STOPPING and watchdog pings reach NOTIFY_SOCKET in order", async () => {
  await using ws = await workspace(config(lifecyclePlugin("life", "tag: v1")));
  const socket = `${ws.dir}/notify.sock`;
  await using listener = await notifyListener(socket);
  await using served = await serve(ws.config, { NOTIFY_SOCKET: socket, WATCHDOG_USEC: "200000" });
  const states = () => listener.messages.filter((m) => m !== "WATCHDOG=1");
  await eventually(() => states().length === 1, "READY=1 arrives");
  await eventually(
    () => listener.messages.filter((m) => m === "WATCHDOG=1").length >= 2,
    "watchdog pings arrive every WATCHDOG_USEC/2",
  );
  const low = uptimeUsec();
  served.child.kill("SIGHUP");
  await eventually(() => states().length === 3, "RELOADING=1 and READY=1 arrive");
  const high = uptimeUsec();
  assert.equal(await served.stop(), 0);
  await eventually(() => states().length === 4, "STOPPING=1 arrives");

  const [ready, reloading, readyAgain, stopping] = states();
  assert.equal(ready, "READY=1");
  const match = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(reloading!);
  assert.ok(match, `RELOADING message: ${JSON.stringify(reloading)}`);
  const usec = BigInt(match[1]!);
  assert.ok(usec >= low, `MONOTONIC_USEC ${usec} is not before the SIGHUP (${low})`);
  assert.ok(usec <= high + 1_100_000n, `MONOTONIC_USEC ${usec} is close to the clock (${high})`);
  assert.equal(readyAgain, "READY=1");
  assert.equal(stopping, "STOPPING=1");
  assert.equal(listener.messages.at(-1), "STOPPING=1", "nothing after STOPPING=1");
  const firstPing = listener.messages.indexOf("WATCHDOG=1");
  assert.ok(firstPing > 0, "pings start after READY=1");
});

Deno.test("notify: an abstract @name NOTIFY_SOCKET works, and no pings without WATCHDOG_USEC", async () => {
  await using ws = await workspace(config(lifecyclePlugin("life", "tag: v1")));
  const name = `@imhookd-test-${crypto.randomUUID()}`;
  await using listener = await notifyListener(name);
  await using served = await serve(ws.config, { NOTIFY_SOCKET: name });
  await eventually(() => listener.messages.length === 1, "READY=1 arrives");
  assert.equal(await served.stop(), 0);
  await eventually(() => listener.messages.length === 2, "STOPPING=1 arrives");
  assert.deepEqual(listener.messages, ["READY=1", "STOPPING=1"]);
});

const OPENSSL = hasTool("openssl");
if (!OPENSSL) {
  Deno.stderr.writeSync(
    new TextEncoder().encode("ops_test: TLS test skipped: openssl is not installed\n"),
  );
}

Deno.test({
  name: "tls: server.tls serves HTTPS with the configured certificate",
  ignore: !OPENSSL,
  fn: async () => {
    await using ws = await workspace(
      config(lifecyclePlugin("life", "tag: v1")).replace(
        "path: /im/callback",
        "path: /im/callback\n  tls: { cert_file: ./tls/cert.pem, key_file: ./tls/key.pem }",
      ),
    );
    const tls = `${ws.dir}/tls`;
    await Deno.mkdir(tls);
    await Deno.writeTextFile(
      `${tls}/leaf.ext`,
      "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    );
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    // A throw-away CA, and the server's certificate signed by it.
    for (
      const args of [
        ["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=imhookd test CA"]
          .concat(["-keyout", `${tls}/ca.key`, "-out", `${tls}/ca.pem`]),
        ["req", ...ec, "-subj", "/CN=localhost", "-keyout", `${tls}/key.pem`]
          .concat(["-out", `${tls}/leaf.csr`]),
        ["x509", "-req", "-in", `${tls}/leaf.csr`, "-CA", `${tls}/ca.pem`, "-CAkey"]
          .concat([`${tls}/ca.key`, "-CAcreateserial", "-days", "2", "-extfile"])
          .concat([`${tls}/leaf.ext`, "-out", `${tls}/cert.pem`]),
      ]
    ) {
      const made = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
        .output();
      assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
    }
    const ca = await Deno.readTextFile(`${tls}/ca.pem`);

    await using served = await serve(ws.config);
    assert.match(served.url, /^https:\/\/127\.0\.0\.1:\d+\/im\/callback$/);
    using client = Deno.createHttpClient({ caCerts: [ca] });
    const answer = await post(served.url, 1, { client });
    assert.equal(answer.status, 200);
    assert.equal(answer.text, '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}');
    // Without the certificate's CA the client refuses the server.
    await assert.rejects(() => post(served.url, 2), TypeError);
    // `send` trusts it through DENO_CERT, like an operator would.
    const sent = await cli(
      ["send", "--config", ws.config, "--command", COMMAND, "--url", served.url],
      { DENO_CERT: `${tls}/ca.pem` },
    );
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    await eventually(
      async () => (await lines(ws.dir, "life")).filter((l) => l.event === "done").length === 2,
      "both HTTPS callbacks are delivered",
    );
    assert.equal(await served.stop(), 0);
  },
});
