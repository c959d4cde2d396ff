/**
 * Several imhookd instances sharing state, end to end: real `serve` processes, a throwaway
 * PostgreSQL cluster and a `nats-server -js`, no balancer in front (the test is the balancer).
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect as natsConnect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { baseConfig, eventually, serve, type Served, signedQuery, workspace } from "./_helpers.ts";
import { type NatsServer, type PostgresServer, startNats, startPostgres } from "./_services.ts";
import { connect, postgresTables, sqliteTables } from "./_sync_tables.ts";

const START = 1_765_000_000_000;

/** Delivery retried quickly and (almost) forever, so an outage never makes dead letters here. */
function config(plugins: string): string {
  return baseConfig(`admin:
  listen: 127.0.0.1:0
delivery:
  initial_backoff: 50ms
  max_backoff: 500ms
  max_attempts: 100000
log:
  level: info
  format: json
plugins:
${plugins}`);
}

function postgresPlugin(): string {
  return `  - name: shared
    use: builtin:postgres_sync
    on: ["Group.*"]
    options:
      url: \${PG_URL}
      schema: im
      pool_size: 2
`;
}

function natsPlugin(nats: NatsServer): string {
  return `  - name: stream
    use: builtin:nats_forwarder
    on: ["Group.*"]
    options:
      servers: ["${nats.server}"]
      stream: IM
      create_stream: true
      timeout: 2s
`;
}

const SQLITE_PLUGIN = `  - name: local
    use: builtin:sqlite_sync
    on: ["Group.*"]
    options:
      path: ./im.db
`;

interface Callback {
  command: string;
  body: string;
}

function callback(command: string, payload: Record<string, unknown>): Callback {
  return { command, body: JSON.stringify({ CallbackCommand: command, ...payload }) };
}

/**
 * Callbacks of every kind the sync plugins apply, over three groups, each with its own
 * EventTime (ties would be broken by journal order in sqlite_sync, by a hash in postgres_sync).
 */
function groupCallbacks(): Callback[] {
  const list: Callback[] = [];
  let time = START;
  for (let g = 0; g < 3; g++) {
    const GroupId = `@TGS#scale${g}`;
    const at = () => ({ GroupId, Type: "Public", EventTime: time += 7 });
    list.push(callback("Group.CallbackAfterCreateGroup", {
      ...at(),
      Owner_Account: "owner",
      Name: `group ${g}`,
      MemberList: [{ Member_Account: "owner" }, { Member_Account: "ann" }],
      UserDefinedDataList: [{ Key: "level", Value: "1" }],
    }));
    for (let round = 0; round < 3; round++) {
      list.push(callback("Group.CallbackAfterGroupInfoChanged", {
        ...at(),
        Name: `group ${g} r${round}`,
        UserDefinedDataList: [{ Key: "level", Value: String(round + 2) }],
      }));
      list.push(callback("Group.CallbackAfterGroupAttrChanged", {
        ...at(),
        OptionType: ["set", "modify", "delete"][round],
        GroupAttr: [{ key: `k${round}`, value: `v${round}` }, { key: "k0", value: "again" }],
      }));
      list.push(callback("Group.CallbackAfterNewMemberJoin", {
        ...at(),
        JoinType: "Invited",
        NewMemberList: [{ Member_Account: `user${round}` }],
      }));
      for (let seq = 1; seq <= 4; seq++) {
        list.push(callback("Group.CallbackAfterSendMsg", {
          ...at(),
          From_Account: "ann",
          MsgSeq: round * 4 + seq,
          MsgTime: Math.floor(time / 1000),
          MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `hello ${round * 4 + seq}` } }],
        }));
      }
    }
    list.push(callback("Group.CallbackAfterMemberExit", {
      ...at(),
      ExitType: "Quit",
      ExitMemberList: [{ Member_Account: "user1" }],
    }));
    list.push(callback("Group.CallbackAfterRecallMsg", {
      ...at(),
      MsgSeqList: [{ MsgSeq: 2 }, { MsgSeq: 5 }],
    }));
    list.push(callback("Group.CallbackAfterChangeGroupOwner", {
      ...at(),
      OldOwner_Account: "owner",
      NewOwner_Account: "ann",
    }));
    if (g === 2) {
      list.push(callback("Group.CallbackAfterGroupDestroyed", {
        ...at(),
        Owner_Account: "ann",
        MemberList: [{ Member_Account: "ann" }],
      }));
    }
  }
  return list;
}

/** `count` messages to a few groups, for the floods. */
function messages(count: number, first = 1): Callback[] {
  return Array.from({ length: count }, (_, i) =>
    callback("Group.CallbackAfterSendMsg", {
      GroupId: `@TGS#flood${(first + i) % 5}`,
      EventTime: START + first + i,
      From_Account: "ann",
      MsgSeq: first + i,
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `flood ${first + i}` } }],
    }));
}

function shuffled<T>(list: T[], seed: number): T[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const order = [...list];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Posts `callbacks` to `served`, a few at a time, and expects each to be accepted. */
async function send(served: Served, callbacks: Callback[]): Promise<void> {
  for (let i = 0; i < callbacks.length; i += 8) {
    await Promise.all(
      callbacks.slice(i, i + 8).map(async ({ command, body }) => {
        const response = await fetch(`${served.url}?${signedQuery(command)}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const answer = await response.json();
        assert.equal(response.status, 200, JSON.stringify(answer));
      }),
    );
  }
}

/** Waits until `plugin` of `served` has delivered `count` callbacks successfully. */
async function delivered(served: Served, plugin: string, count: number): Promise<void> {
  const series = `imhookd_deliveries_total{plugin="${plugin}",result="ok"} `;
  let seen = 0;
  await eventually(
    async () => {
      const response = await fetch(`${served.adminUrl}/metrics`);
      const line = (await response.text()).split("\n").find((l) => l.startsWith(series));
      seen = line === undefined ? 0 : Number(line.slice(series.length));
      return seen >= count;
    },
    `${plugin} delivered ${count} callbacks (${seen} so far)`,
    180_000,
  );
}

/** The `Nats-Msg-Id` of every message in stream `IM`. */
async function streamIds(nats: NatsServer): Promise<string[]> {
  const nc = await natsConnect({ servers: [nats.server] });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info("IM");
    const ids: string[] = [];
    for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
      const stored = await jsm.streams.getMessage("IM", { seq });
      ids.push(stored!.header.get("Nats-Msg-Id"));
    }
    return ids;
  } finally {
    await nc.close();
  }
}

async function messageCount(pg: PostgresServer): Promise<number> {
  const sql = connect(pg.url);
  try {
    const [row] = await sql`SELECT count(*)::int AS n FROM im.group_messages`;
    return row!.n as number;
  } finally {
    await sql.end();
  }
}

function assertNoPassword(served: Served, pg: PostgresServer): void {
  const leaked = served.logs.filter((line) => line.includes(pg.password));
  assert.deepEqual(leaked, [], "the PostgreSQL password appears in the logs");
}

Deno.test("scale out: two instances fed the same callbacks in other orders share one state and one stream", async () => {
  await using pg = await startPostgres();
  await using nats = await startNats();
  const yaml = config(postgresPlugin() + natsPlugin(nats) + SQLITE_PLUGIN);
  await using a = await workspace(yaml);
  await using b = await workspace(yaml);
  await using first = await serve(a.config, { PG_URL: pg.url });
  await using second = await serve(b.config, { PG_URL: pg.url });
  const callbacks = groupCallbacks();
  // Each instance gets every callback (as Tencent's retries may land on either), in its own order.
  await Promise.all([
    send(first, shuffled(callbacks, 1)),
    send(second, shuffled(callbacks, 2)),
  ]);
  for (const served of [first, second]) {
    for (const plugin of ["shared", "stream", "local"]) {
      await delivered(served, plugin, callbacks.length);
    }
  }
  const sql = connect(pg.url);
  let shared;
  try {
    shared = await postgresTables(sql, "im");
  } finally {
    await sql.end();
  }
  const local = sqliteTables(`${a.dir}/im.db`);
  assert.ok(local.group_messages!.length > 30 && local.group_attrs!.length > 0);
  assert.deepEqual(shared, local);
  assert.deepEqual(sqliteTables(`${b.dir}/im.db`), local);
  const ids = await streamIds(nats);
  assert.equal(ids.length, callbacks.length);
  assert.equal(new Set(ids).size, callbacks.length);
  assert.equal(await first.stop(), 0);
  assert.equal(await second.stop(), 0);
  assertNoPassword(first, pg);
  assertNoPassword(second, pg);
});

Deno.test("scale out: PostgreSQL restarted mid-flood, the deliveries are retried and nothing is lost", async () => {
  await using pg = await startPostgres();
  await using ws = await workspace(config(postgresPlugin()));
  await using served = await serve(ws.config, { PG_URL: pg.url });
  const flood = messages(300);
  await send(served, flood.slice(0, 100));
  await delivered(served, "shared", 1); // the schema exists, writes are flowing
  await pg.stop();
  await send(served, flood.slice(100, 200));
  await eventually(
    () => served.logs.some((line) => /Cannot write .* to PostgreSQL/.test(line)),
    "a write failed while PostgreSQL was down",
    60_000,
  );
  await pg.start();
  await send(served, flood.slice(200));
  await delivered(served, "shared", flood.length);
  assert.equal(await messageCount(pg), flood.length);
  assert.equal(await served.stop(), 0);
  assertNoPassword(served, pg);
  // Nor in the errors the journal stored for the failed attempts.
  for await (const entry of Deno.readDir(ws.dir)) {
    if (!entry.name.startsWith("journal.db")) continue;
    const bytes = await Deno.readFile(`${ws.dir}/${entry.name}`);
    assert.ok(!new TextDecoder().decode(bytes).includes(pg.password), `${entry.name} holds it`);
  }
});

Deno.test("scale out: NATS down then up, the callbacks journaled meanwhile reach the stream once", async () => {
  await using nats = await startNats();
  await using ws = await workspace(config(natsPlugin(nats)));
  await using served = await serve(ws.config);
  const flood = messages(150);
  await send(served, flood.slice(0, 50));
  await delivered(served, "stream", 50);
  await nats.stop();
  await send(served, flood.slice(50, 100));
  await eventually(
    () => served.logs.some((line) => /Cannot publish callback/.test(line)),
    "a publish failed while NATS was down",
    60_000,
  );
  await nats.start();
  await send(served, flood.slice(100));
  await delivered(served, "stream", flood.length);
  const ids = await streamIds(nats);
  assert.equal(ids.length, flood.length);
  assert.equal(new Set(ids).size, flood.length);
  assert.equal(await served.stop(), 0);
});
