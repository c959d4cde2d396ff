import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import fc from "fast-check";
import type { CallbackEvent, PluginInstance } from "../plugin.ts";
import postgresSync, { type PostgresSyncOptions } from "./postgres_sync.ts";
import { applyParameters, changeVersion } from "./_postgres_sync_batch.ts";
import sqliteSync from "./sqlite_sync.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./_postgres_sync_sql.ts";
import { parseChange } from "./_sqlite_sync_change.ts";
import { startPostgres } from "../tests/_services.ts";
import {
  connect,
  postgresTables,
  sqliteTables,
  SYNC_TABLES,
  truncatePostgresTables,
} from "../tests/_sync_tables.ts";

const APP = "1400000000";
const CTX = { name: "shared", configDir: "/etc/imhookd" };

function parse(raw: unknown): PostgresSyncOptions {
  return postgresSync.parseOptions!(raw, CTX);
}

type Started = PluginInstance & AsyncDisposable;

/** What a call rejected with, or undefined when it succeeded. */
// deno-lint-ignore no-explicit-any
async function failure(call: Promise<void> | void): Promise<any> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return error;
  }
}

function tag(command: string) {
  return (payload: Record<string, unknown>): [string, Record<string, unknown>] => [
    command,
    payload,
  ];
}

async function start(raw: Record<string, unknown>): Promise<Started> {
  const instance = await postgresSync.create(parse(raw), {
    ...CTX,
    logger: getLogger(["imhookd", "test"]),
    signal: new AbortController().signal,
  });
  return instance as Started;
}

function event(
  id: number,
  command: string,
  payload: Record<string, unknown>,
  sdkAppId = APP,
): CallbackEvent {
  const body = { CallbackCommand: command, ...payload };
  return {
    id: String(id),
    command,
    sdkAppId,
    receivedAt: 1_700_000_000_000,
    attempt: 1,
    payload: body,
    rawBody: JSON.stringify(body),
  };
}

function message(id: number, group: string, seq: number, text = `m${seq}`): CallbackEvent {
  return event(id, "Group.CallbackAfterSendMsg", {
    GroupId: group,
    MsgSeq: seq,
    From_Account: "ann",
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: text } }],
    EventTime: 1_700_000_000_000 + id,
  });
}

const signal = new AbortController().signal;

Deno.test("postgres_sync: parseOptions fills defaults and rejects bad options without the URL", () => {
  assert.deepEqual(parse({ url: "postgres://u:secret@db.example:6432/im" }), {
    url: "postgres://u:secret@db.example:6432/im",
    schema: "public",
    poolSize: 4,
    maxBatch: 128,
  });
  assert.deepEqual(
    parse({ url: "postgresql://db/im", schema: "imhookd", pool_size: 2, max_batch: 64 }),
    { url: "postgresql://db/im", schema: "imhookd", poolSize: 2, maxBatch: 64 },
  );
  assert.throws(() => parse(undefined), {
    name: "TypeError",
    message: 'options: expected a mapping with at least "url", got undefined',
  });
  assert.throws(() => parse({ url: "mysql://u:hunter2@db/im" }), (error: unknown) => {
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /^options\.url: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    assert.doesNotMatch(error.message, /hunter2/);
    return true;
  });
  assert.throws(() => parse({ url: "postgres://u:p@db/im", schema: "Bad-Name" }), {
    name: "RangeError",
    message: 'options.schema: expected a lowercase name of letters, digits and _, got "Bad-Name"',
  });
  assert.throws(() => parse({ url: "postgres://db/im", pool_size: 0 }), {
    name: "RangeError",
    message: "options.pool_size: expected a whole number from 1 to 64, got 0",
  });
  assert.throws(() => parse({ url: "postgres://db/im", pool: 2 }), {
    name: "TypeError",
    message: "options.pool: unknown option; expected one of url, schema, pool_size, max_batch",
  });
});

Deno.test("postgres_sync: parseOptions reports every bad option at once, never the URL", () => {
  assert.throws(
    () => parse({ url: "mysql://u:hunter2@db/im", schema: "Bad-Name", pool_size: 0 }),
    (error: unknown) => {
      assert.ok(error instanceof AggregateError);
      const messages = error.errors.map((e: Error) => e.message);
      assert.deepEqual(messages.map((m: string) => m.split(":")[0]), [
        "options.url",
        "options.schema",
        "options.pool_size",
      ]);
      assert.ok(!messages.join(" ").includes("hunter2"));
      return true;
    },
  );
});

Deno.test("postgres_sync: permissions name the URL's host and port and the PG* variables", () => {
  const permissions = postgresSync.permissions!;
  assert.deepEqual(permissions(parse({ url: "postgres://u:p@db.internal/im" }), CTX), {
    net: ["db.internal:5432"],
    env: ["PG*"],
    read: false,
  });
  assert.deepEqual(
    permissions(
      parse({ url: "postgres://u:p@10.0.0.5:6432/im?sslmode=verify-full&sslrootcert=/etc/ca.pem" }),
      CTX,
    ),
    { net: ["10.0.0.5:6432"], env: ["PG*"], read: ["/etc/ca.pem"] },
  );
});

Deno.test("postgres_sync: instances starting at once migrate once and both write", async () => {
  await using server = await startPostgres();
  const options = { url: server.url, schema: "im" };
  await using a = await start(options);
  await using b = await start(options);
  await Promise.all([
    a.handle(message(1, "g", 1), signal),
    b.handle(message(2, "g", 2), signal),
  ]);
  const sql = connect(server.url);
  try {
    const migrations = await sql`SELECT version FROM im._imhookd_migrations ORDER BY 1`;
    assert.deepEqual(
      migrations.map((row) => row.version),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
    const messages = await sql`SELECT msg_seq::int, text FROM im.group_messages ORDER BY 1`;
    assert.deepEqual(messages.map((row) => ({ ...row })), [
      { msg_seq: 1, text: "m1" },
      { msg_seq: 2, text: "m2" },
    ]);
    // A schema written by a newer imhookd is refused, and nothing is written to it.
    await sql`INSERT INTO im._imhookd_migrations (version) VALUES (${SCHEMA_VERSION + 1})`;
    await using c = await start(options);
    await assert.rejects(async () => await c.handle(message(3, "g", 3), signal), {
      name: "RangeError",
      message: `Cannot use schema "im" on "127.0.0.1:${server.port}/postgres": its version ${
        SCHEMA_VERSION + 1
      } is newer than ${SCHEMA_VERSION}, the newest this imhookd knows`,
    });
  } finally {
    await sql.end();
  }
});

Deno.test("postgres_sync: a flood is written in a few transactions, not one per callback", async () => {
  await using server = await startPostgres();
  await using plugin = await start({ url: server.url, pool_size: 2, max_batch: 100 });
  await plugin.handle(message(1, "g0", 1), signal); // creates the schema
  const sql = connect(server.url);
  try {
    // Each writing transaction takes a transaction id; nothing else writes to this cluster.
    const [before] = await sql`SELECT txid_current()::text AS id`;
    const calls = [];
    for (let i = 2; i <= 501; i++) calls.push(plugin.handle(message(i, `g${i % 7}`, i), signal));
    await Promise.all(calls);
    const [after] = await sql`SELECT txid_current()::text AS id`;
    const transactions = Number(after!.id) - Number(before!.id) - 1;
    assert.ok(transactions >= 5 && transactions <= 12, `${transactions} transactions for 500`);
    const [count] = await sql`SELECT count(*)::int AS n FROM public.group_messages`;
    assert.equal(count!.n, 501);
  } finally {
    await sql.end();
  }
});

Deno.test("postgres_sync: a value PostgreSQL refuses fails its callback for good, alone", async () => {
  await using server = await startPostgres();
  await using plugin = await start({ url: server.url });
  const results = await Promise.allSettled([
    plugin.handle(message(1, "g", 1), signal),
    plugin.handle(message(2, "g", 2, "nul \u0000 inside"), signal),
    plugin.handle(message(3, "g", 3), signal),
  ]);
  assert.deepEqual(results.map((result) => result.status), ["fulfilled", "rejected", "fulfilled"]);
  const error = (results[1] as PromiseRejectedResult).reason;
  assert.equal(error.name, "PostgresSyncError");
  assert.equal(error.permanent, true);
  assert.equal(error.code, "22P05");
  assert.match(
    error.message,
    /^Cannot write a callback to PostgreSQL "127\.0\.0\.1:\d+\/postgres": /,
  );
});

Deno.test("postgres_sync: errors never show the password, and a restarted server is written again", async () => {
  await using server = await startPostgres();
  const wrong = server.url.replace(server.password, "wrong-pass-1234");
  {
    await using plugin = await start({ url: wrong });
    const error = await failure(plugin.handle(message(1, "g", 1), signal));
    assert.equal(error?.name, "PostgresSyncError");
    assert.equal(error.code, "28P01");
    assert.equal(error.permanent, false);
    assert.doesNotMatch(`${error.message} ${JSON.stringify(error)}`, /wrong-pass-1234/);
  }
  await using plugin = await start({ url: server.url });
  await plugin.handle(message(1, "g", 1), signal);
  await server.stop();
  const down = await failure(plugin.handle(message(2, "g", 2), signal));
  assert.equal(down?.name, "PostgresSyncError");
  assert.equal(down.permanent, false);
  assert.match(
    down.message,
    /^Cannot write a callback to PostgreSQL "127\.0\.0\.1:\d+\/postgres": /,
  );
  assert.doesNotMatch(`${down.message} ${JSON.stringify(down)}`, new RegExp(server.password));
  await server.start();
  // The pool reconnects: the retried callback is written.
  await plugin.handle(message(2, "g", 2), signal);
  const sql = connect(server.url);
  try {
    const [count] = await sql`SELECT count(*)::int AS n FROM public.group_messages`;
    assert.equal(count!.n, 2);
  } finally {
    await sql.end();
  }
});

// ---- Order independence over two concurrent writers ---------------------------------

const GROUPS: ReadonlyArray<readonly [string, string]> = [[APP, "g1"], [APP, "g2"], [
  "1400000001",
  "g1",
]];
const ACCOUNTS = ["ann", "ben", "cat"];
const KEYS = ["k1", "k2", "k3"];
const VALUES = ["", "x", "y"];

const accountList = fc.uniqueArray(fc.constantFrom(...ACCOUNTS), { maxLength: 3 }).map((list) =>
  list.map((Member_Account) => ({ Member_Account }))
);
const keyValues = (keyName: string, valueName: string) =>
  fc.array(
    fc.record({ [keyName]: fc.constantFrom(...KEYS), [valueName]: fc.constantFrom(...VALUES) }),
    { maxLength: 3 },
  );
const optionalString = fc.option(fc.constantFrom(...VALUES), { nil: undefined });
const seqs = fc.integer({ min: 1, max: 3 });
const topic = fc.option(fc.constantFrom("", "t1"), { nil: undefined });

/** A command and its payload (without `GroupId`/`EventTime`): every kind sqlite_sync applies. */
const payloads: fc.Arbitrary<[string, Record<string, unknown>]> = fc.oneof(
  fc.record({
    Type: optionalString,
    Owner_Account: fc.option(fc.constantFrom(...ACCOUNTS), { nil: undefined }),
    Name: optionalString,
    MemberList: accountList,
    UserDefinedDataList: keyValues("Key", "Value"),
  }, { requiredKeys: [] }).map(tag("Group.CallbackAfterCreateGroup")),
  fc.record({
    Name: optionalString,
    Introduction: optionalString,
    Notification: optionalString,
    FaceUrl: optionalString,
    UserDefinedDataList: keyValues("Key", "Value"),
  }, { requiredKeys: [] }).map(tag("Group.CallbackAfterGroupInfoChanged")),
  fc.record({
    OptionType: fc.constantFrom("set", "modify", "clear", "delete"),
    GroupAttr: keyValues("key", "value"),
  }).map(tag("Group.CallbackAfterGroupAttrChanged")),
  fc.record({ NewMemberList: accountList }).map(tag("Group.CallbackAfterNewMemberJoin")),
  fc.record({ ExitMemberList: accountList }).map(tag("Group.CallbackAfterMemberExit")),
  fc.record({ NewOwner_Account: fc.constantFrom(...ACCOUNTS) }).map(
    tag("Group.CallbackAfterChangeGroupOwner"),
  ),
  fc.record({ Owner_Account: fc.constantFrom(...ACCOUNTS), Name: optionalString }, {
    requiredKeys: [],
  }).map(tag("Group.CallbackAfterGroupDestroyed")),
  fc.record({
    MsgSeq: fc.oneof(seqs, seqs.map(String)),
    TopicId: topic,
    From_Account: fc.constantFrom(...ACCOUNTS),
    MsgBody: fc.array(
      fc.constantFrom(...VALUES).map((Text) => ({ MsgType: "TIMTextElem", MsgContent: { Text } })),
      { maxLength: 2 },
    ),
    Random: fc.integer({ min: 0, max: 9 }),
  }, { requiredKeys: ["MsgSeq", "MsgBody"] }).map(tag("Group.CallbackAfterSendMsg")),
  fc.record({
    TopicId: topic,
    MsgSeqList: fc.array(seqs.map((MsgSeq) => ({ MsgSeq })), { maxLength: 2 }),
  }, { requiredKeys: ["MsgSeqList"] }).map(tag("Group.CallbackAfterRecallMsg")),
);

/** Few EventTimes, so that many callbacks tie and the tie-break is exercised. */
const generatedEvent = fc.record({
  group: fc.constantFrom(...GROUPS),
  command: payloads,
  eventTime: fc.integer({ min: 1, max: 4 }),
  /** Which writer gets it: 0 the first, 1 the second, 2 both (a duplicate across instances). */
  writer: fc.constantFrom(0, 1, 2),
  copies: fc.integer({ min: 1, max: 2 }),
});

/** Hands `events` over in random-sized groups of concurrent calls, as the delivery engine may. */
async function deliver(plugin: PluginInstance, events: CallbackEvent[], rng: () => number) {
  for (let i = 0; i < events.length;) {
    const size = 1 + Math.floor(rng() * 4);
    await Promise.all(events.slice(i, i + size).map((e) => plugin.handle(e, signal)));
    i += size;
  }
}

function shuffle<T>(list: T[], rng: () => number): T[] {
  const order = [...list];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * The oracle: the tables sqlite_sync makes when fed each callback once in (EventTime,
 * tie-break) order, with journal ids in that order, so that its journal-order tie-break matches
 * postgres_sync's. `file` is made and removed.
 */
async function fold(events: CallbackEvent[], file: string) {
  const ordered = events
    .map((e) => ({ e, version: changeVersion(e, parseChange(e)!) }))
    .sort((x, y) => (x.version < y.version ? -1 : x.version > y.version ? 1 : 0))
    .map(({ e }, i) => ({ ...e, id: String(i + 1) }));
  const configDir = dirname(file);
  {
    const fold = await sqliteSync.create(
      sqliteSync.parseOptions!({ path: file }, { name: "fold", configDir }),
      { name: "fold", configDir, logger: getLogger(["imhookd", "test"]), signal },
    ) as Started;
    await using _ = fold;
    for (const e of ordered) await fold.handle(e, signal);
  }
  const tables = sqliteTables(file);
  await Deno.remove(file);
  return tables;
}

type Generated = typeof generatedEvent extends fc.Arbitrary<infer T> ? T : never;

/** The callbacks `generated` describes, numbered from 1. */
function generatedEvents(generated: Generated[]): CallbackEvent[] {
  return generated.map((g, i) => {
    const [command, payload] = g.command;
    return event(
      i + 1,
      command,
      { GroupId: g.group[1], ...payload, EventTime: g.eventTime },
      g.group[0],
    );
  });
}

Deno.test("postgres_sync: two concurrent writers, shuffled, give sqlite_sync's EventTime-ordered fold", async () => {
  await using server = await startPostgres();
  const dir = await Deno.makeTempDir({ prefix: "postgres_sync_test_" });
  const sql = connect(server.url);
  try {
    const options = { url: server.url, schema: "prop", pool_size: 2 };
    await using a = await start(options);
    await using b = await start(options);
    await a.handle(message(1, "g", 1), signal); // creates the schema
    let run = 0;
    let nonEmpty = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(generatedEvent, { minLength: 1, maxLength: 40, size: "medium" }),
        fc.integer(),
        async (generated, seed) => {
          run++;
          await truncatePostgresTables(sql, "prop");
          const events = generatedEvents(generated);
          const expected = await fold(events, join(dir, `fold-${run}.db`));
          if (SYNC_TABLES.some((table) => expected[table]!.length > 0)) nonEmpty++;

          // Each callback goes to one writer or both, some twice (a retry), in shuffled orders.
          const rng = random(seed);
          const lists: CallbackEvent[][] = [[], []];
          for (const [i, g] of generated.entries()) {
            const targets = g.writer === 2 ? [0, 1] : [g.writer];
            for (const target of targets) {
              for (let copy = 0; copy < g.copies; copy++) lists[target]!.push(events[i]!);
            }
          }
          await Promise.all([
            deliver(a, shuffle(lists[0]!, rng), rng),
            deliver(b, shuffle(lists[1]!, rng), rng),
          ]);
          const got = await postgresTables(sql, "prop");
          assert.deepEqual(got, expected);
        },
      ),
      { seed: 20261207, numRuns: 120 },
    );
    assert.ok(nonEmpty > 80, `only ${nonEmpty} runs produced rows`);
  } finally {
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("postgres_sync: a whole shuffled list in one batch, duplicates included, gives the fold", async () => {
  // One batch holds many changes to the same rows: applyParameters keeps the newest of each,
  // and the database merges that with what it holds.
  await using server = await startPostgres();
  const dir = await Deno.makeTempDir({ prefix: "postgres_sync_test_" });
  const sql = connect(server.url);
  try {
    await using plugin = await start({ url: server.url, schema: "one", max_batch: 1000 });
    await plugin.handle(message(1, "g", 1), signal); // creates the schema
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(generatedEvent, { minLength: 1, maxLength: 60, size: "medium" }),
        fc.integer(),
        fc.boolean(),
        async (generated, seed, twoBatches) => {
          run++;
          await truncatePostgresTables(sql, "one");
          const events = generatedEvents(generated);
          const expected = await fold(events, join(dir, `fold-${run}.db`));
          const list = shuffle(
            events.flatMap((e, i) => Array(generated[i]!.copies).fill(e)),
            random(seed),
          );
          // All at once (one batch), or in two halves where the second merges with the first.
          const half = twoBatches ? list.length >> 1 : 0;
          await Promise.all(list.slice(0, half).map((e) => plugin.handle(e, signal)));
          await Promise.all(list.slice(half).map((e) => plugin.handle(e, signal)));
          assert.deepEqual(await postgresTables(sql, "one"), expected);
        },
      ),
      { seed: 20261208, numRuns: 100 },
    );
  } finally {
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("postgres_sync: applyParameters keeps one row per key, the newest, the first of a tie", () => {
  const change = (id: number, eventTime: number, command: string, payload: object) => {
    const e = event(id, command, { GroupId: "g", EventTime: eventTime, ...payload });
    const parsed = parseChange(e)!;
    parsed.version = changeVersion(e, parsed);
    return parsed;
  };
  const changes = [
    change(1, 5, "Group.CallbackAfterGroupInfoChanged", {
      Name: "new",
      UserDefinedDataList: [{ Key: "k", Value: "first" }, { Key: "k", Value: "second" }],
    }),
    change(2, 3, "Group.CallbackAfterGroupInfoChanged", {
      Name: "old",
      Introduction: "intro",
      UserDefinedDataList: [{ Key: "k", Value: "older" }],
    }),
    change(3, 4, "Group.CallbackAfterNewMemberJoin", {
      NewMemberList: [{ Member_Account: "ann" }],
    }),
    change(4, 6, "Group.CallbackAfterMemberExit", { ExitMemberList: [{ Member_Account: "ann" }] }),
    change(5, 2, "Group.CallbackAfterGroupAttrChanged", {
      OptionType: "set",
      GroupAttr: [{ key: "a", value: "1" }],
    }),
    change(6, 1, "Group.CallbackAfterGroupAttrChanged", { OptionType: "clear", GroupAttr: [] }),
  ];
  const v = changes.map((c) => c.version);
  const [groups, messages, info, fields, resets, attrs, members, recalls] = applyParameters(
    changes,
  );
  assert.deepEqual(JSON.parse(groups), [[APP, "g"]]);
  assert.equal(messages, null);
  assert.equal(recalls, null);
  assert.deepEqual(JSON.parse(info!), [
    {
      a: APP,
      g: "g",
      t: 5,
      d: 0,
      name: "new",
      name_v: v[0],
      introduction: "intro",
      introduction_v: v[1],
    },
  ]);
  assert.deepEqual(JSON.parse(fields!), [{ a: APP, g: "g", k: "k", x: "first", v: v[0], t: 5 }]);
  assert.deepEqual(JSON.parse(resets!), [{ a: APP, g: "g", v: v[4] }]);
  assert.deepEqual(JSON.parse(attrs!), [
    { a: APP, g: "g", k: "a", x: "1", v: v[4], t: 2, del: false },
  ]);
  assert.deepEqual(JSON.parse(members!), [{ a: APP, g: "g", m: "ann", j: v[2], e: v[3] }]);
});

Deno.test("postgres_sync: a schema of version 1 is migrated to the set-based apply function", async () => {
  await using server = await startPostgres();
  const sql = connect(server.url);
  try {
    // Version 1 as an earlier imhookd left it: its tables and its one-change-at-a-time
    // function, whose parameters differ from today's.
    await sql.begin(async (tx) => {
      await tx.unsafe(`CREATE SCHEMA old; SET LOCAL search_path TO old`);
      await tx.unsafe(MIGRATIONS[0]!);
      await tx.unsafe(`CREATE FUNCTION _imhookd_apply(groups jsonb, changes jsonb, messages json)
        RETURNS void LANGUAGE sql AS 'SELECT NULL'`);
      await tx.unsafe(`CREATE TABLE _imhookd_migrations (version integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO _imhookd_migrations VALUES (1)`);
    });
    await using plugin = await start({ url: server.url, schema: "old" });
    await plugin.handle(message(1, "g", 1), signal);
    const migrations = await sql`SELECT version FROM old._imhookd_migrations ORDER BY 1`;
    assert.deepEqual(migrations.map((row) => row.version), [1, 2]);
    const [found] = await sql`SELECT
      to_regprocedure('old._imhookd_apply(jsonb, jsonb, json)')::text AS old_apply,
      (SELECT text FROM old.group_messages) AS text`;
    assert.deepEqual({ ...found }, { old_apply: null, text: "m1" });
  } finally {
    await sql.end();
  }
});

/** A small deterministic PRNG, so each order is reproducible from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
