import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import fc from "fast-check";
import type { CallbackEvent, PluginInstance } from "../plugin.ts";
import sqliteSync, { type SqliteSyncOptions } from "./sqlite_sync.ts";
import { MIGRATIONS } from "./_sqlite_sync_schema.ts";

const APP = "1400000000";
const TABLES = ["groups", "group_custom_fields", "group_attrs", "group_members", "group_messages"];

let nextId = 1;

function event(
  command: string,
  payload: Record<string, unknown>,
  fields: Partial<CallbackEvent> = {},
): CallbackEvent {
  const id = fields.id ?? String(nextId++);
  return {
    id,
    command,
    sdkAppId: APP,
    receivedAt: 1_700_000_000_000,
    attempt: 1,
    payload: { CallbackCommand: command, ...payload },
    rawBody: JSON.stringify({ CallbackCommand: command, ...payload }),
    ...fields,
  };
}

function parse(raw: unknown, configDir = "/etc/imhookd"): SqliteSyncOptions {
  return sqliteSync.parseOptions!(raw, { name: "state", configDir });
}

async function start(dir: string, file = "im.db"): Promise<PluginInstance & AsyncDisposable> {
  const options = parse({ path: file }, dir);
  const instance = await sqliteSync.create(options, {
    name: "state",
    configDir: dir,
    logger: getLogger(["imhookd", "test"]),
    signal: new AbortController().signal,
  });
  return instance as PluginInstance & AsyncDisposable;
}

async function handleAll(plugin: PluginInstance, events: CallbackEvent[]): Promise<void> {
  for (const e of events) await plugin.handle(e, new AbortController().signal);
}

/** Every row of every public table, sorted, read through a second connection. */
function dump(path: string): Record<string, unknown[]> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const tables: Record<string, unknown[]> = {};
    for (const table of TABLES) {
      const rows = db.prepare(`SELECT * FROM ${table}`).all().map((row) => ({ ...row }));
      tables[table] = rows.sort((a, b) =>
        JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0
      );
    }
    return tables;
  } finally {
    db.close();
  }
}

function rows(path: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(sql).all().map((row) => ({ ...row }));
  } finally {
    db.close();
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sqlite_sync_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sqlite_sync: parseOptions resolves path against configDir and fills defaults", () => {
  assert.deepEqual(parse({ path: "./data/im.db" }), {
    path: "/etc/imhookd/data/im.db",
    busyTimeoutMs: 5000,
    maxBatch: 512,
  });
  assert.deepEqual(parse({ path: "/var/lib/im.db", busy_timeout: "2s", max_batch: 10 }), {
    path: "/var/lib/im.db",
    busyTimeoutMs: 2000,
    maxBatch: 10,
  });
});

Deno.test("sqlite_sync: parseOptions rejects bad options naming the key", () => {
  assert.throws(() => parse(undefined), {
    name: "TypeError",
    message: 'options: expected a map with at least "path", got nothing',
  });
  assert.throws(() => parse({}), {
    name: "TypeError",
    message: "options.path: expected a file path, got nothing",
  });
  assert.throws(() => parse({ path: 42 }), {
    name: "TypeError",
    message: "options.path: expected a file path, got 42",
  });
  assert.throws(() => parse({ path: "a.db", pth: "b.db" }), {
    name: "TypeError",
    message: "options.pth: unknown option; expected one of path, busy_timeout, max_batch",
  });
  assert.throws(() => parse({ path: "a.db", busy_timeout: "soon" }), {
    name: "RangeError",
    message: /^options\.busy_timeout: Cannot parse duration "soon"/,
  });
  assert.throws(() => parse({ path: "a.db", busy_timeout: true }), {
    name: "TypeError",
    message: "options.busy_timeout: expected a duration such as 5s, got true",
  });
  assert.throws(() => parse({ path: "a.db", max_batch: 0 }), {
    name: "RangeError",
    message: "options.max_batch: expected a whole number of at least 1, got 0",
  });
});

Deno.test("sqlite_sync: create makes the folder, WAL database and schema version", async () => {
  await withDir(async (dir) => {
    const plugin = await start(dir, "nested/state/im.db");
    const path = join(dir, "nested/state/im.db");
    try {
      // A second connection reads while the plugin holds the database open.
      const reader = new DatabaseSync(path, { readOnly: true });
      try {
        assert.deepEqual({ ...reader.prepare("PRAGMA journal_mode").get() }, {
          journal_mode: "wal",
        });
        assert.deepEqual({ ...reader.prepare("PRAGMA user_version").get() }, { user_version: 3 });
        const names = reader.prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
        ).all().map((row) => row.name);
        assert.deepEqual(names, [...TABLES].sort());
        const plan = (sql: string): string =>
          reader.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((row) => row.detail).join("; ");
        // The latest messages of a group (or topic) come from the primary key, in order.
        assert.equal(
          plan(
            `SELECT * FROM group_messages WHERE sdk_app_id = 'a' AND group_id = 'g'
               AND topic_id = '' ORDER BY msg_seq DESC LIMIT 20`,
          ),
          "SEARCH group_messages USING INDEX sqlite_autoindex_group_messages_1 (sdk_app_id=? AND group_id=? AND topic_id=?)",
        );
        assert.match(
          plan("SELECT * FROM group_members WHERE sdk_app_id = 'a' AND group_id = 'g'"),
          /^SEARCH group_members USING INDEX \S+ \(sdk_app_id=\? AND group_id=\?\)$/,
        );
      } finally {
        reader.close();
      }
    } finally {
      await plugin[Symbol.asyncDispose]();
    }
    // Reopening an up-to-date database keeps its data and version.
    const again = await start(dir, "nested/state/im.db");
    await again[Symbol.asyncDispose]();
  });
});

Deno.test("sqlite_sync: a database from a newer schema is refused", async () => {
  await withDir(async (dir) => {
    const db = new DatabaseSync(join(dir, "im.db"));
    db.exec("PRAGMA user_version = 99");
    db.close();
    await assert.rejects(async () => await start(dir), {
      name: "RangeError",
      message: `Cannot open "${
        join(dir, "im.db")
      }": schema version 99 is newer than 3, the newest this imhookd knows`,
    });
  });
});

Deno.test("sqlite_sync: a version 1 database migrates to 3, keeping rows, versions and recalls", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "im.db");
    const v1 = new DatabaseSync(path);
    v1.exec(MIGRATIONS[0]!);
    v1.exec("PRAGMA user_version = 1");
    const insert = v1.prepare(
      `INSERT INTO group_messages (sdk_app_id, group_id, msg_seq, msg_body, text, event_time_ms,
         recalled) VALUES (?, 'g', ?, '[]', ?, 1000, ?)`,
    );
    insert.run(APP, 7, "seven", 0);
    insert.run(APP, 9, "nine", 1);
    // Versions as version 1 wrote them: EventTime and journal id, zero-padded to 16 digits.
    const version = (id: number) => `${"1000".padStart(16, "0")}.${String(id).padStart(16, "0")}`;
    const versions = v1.prepare(
      `INSERT INTO _group_message_versions (sdk_app_id, group_id, topic_id, msg_seq, version,
         recalled) VALUES (?, 'g', '', ?, ?, ?)`,
    );
    versions.run(APP, 7, version(5), 0);
    versions.run(APP, 8, null, 1); // recalled before it arrived
    versions.run(APP, 9, version(6), 1);
    v1.close();

    {
      await using plugin = await start(dir);
      const message = (MsgSeq: number, id: string, Text: string) =>
        event("Group.CallbackAfterSendMsg", {
          GroupId: "g",
          MsgSeq,
          MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text } }],
          EventTime: 1000,
        }, { id });
      // Same EventTime: the journal id kept from version 1 decides.
      await handleAll(plugin, [message(7, "4", "older"), message(9, "8", "newer")]);
      await handleAll(plugin, [message(8, "9", "eight")]);
    }
    const reader = new DatabaseSync(path, { readOnly: true });
    try {
      assert.deepEqual({ ...reader.prepare("PRAGMA user_version").get() }, { user_version: 3 });
      const gone = reader.prepare(
        `SELECT name FROM sqlite_master
         WHERE name IN ('group_messages_by_seq', '_group_message_versions')`,
      ).all();
      assert.deepEqual(gone, []);
    } finally {
      reader.close();
    }
    assert.deepEqual(rows(path, "SELECT msg_seq, text, recalled FROM group_messages ORDER BY 1"), [
      { msg_seq: 7, text: "seven", recalled: 0 },
      { msg_seq: 8, text: "eight", recalled: 1 },
      { msg_seq: 9, text: "newer", recalled: 1 },
    ]);
    assert.deepEqual(
      rows(
        path,
        "SELECT msg_seq, event_time_ms, journal_id FROM _group_message_writers ORDER BY 1",
      ),
      [
        { msg_seq: 7, event_time_ms: 1000, journal_id: 5 },
        { msg_seq: 8, event_time_ms: 1000, journal_id: 9 },
        { msg_seq: 9, event_time_ms: 1000, journal_id: 8 },
      ],
    );
  });
});

Deno.test("sqlite_sync: deploy/sqlite_sync_3_to_2.sql hands a database back to schema 2 and 3 again", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "im.db");
    const message = (MsgSeq: number, id: string) =>
      event("Group.CallbackAfterSendMsg", { GroupId: "g", MsgSeq, MsgBody: [], EventTime: 1000 }, {
        id,
      });
    const recall = event("Group.CallbackAfterRecallMsg", {
      GroupId: "g",
      MsgSeqList: [{ MsgSeq: 1 }, { MsgSeq: 2 }],
      EventTime: 900,
    }, { id: "30" });
    {
      await using plugin = await start(dir);
      await handleAll(plugin, [message(1, "10"), recall, message(3, "20")]);
    }
    const script = await Deno.readTextFile(
      new URL("../deploy/sqlite_sync_3_to_2.sql", import.meta.url),
    );
    const db = new DatabaseSync(path);
    db.exec(script);
    db.close();
    const version = (id: number) => `${"1000".padStart(16, "0")}.${String(id).padStart(16, "0")}`;
    assert.deepEqual(
      rows(path, "SELECT msg_seq, version, recalled FROM _group_message_versions ORDER BY 1"),
      [
        { msg_seq: 1, version: version(10), recalled: 1 },
        { msg_seq: 2, version: null, recalled: 1 },
        { msg_seq: 3, version: version(20), recalled: 0 },
      ],
    );
    assert.deepEqual(rows(path, "PRAGMA user_version"), [{ user_version: 2 }]);
    // The table as the first migration made it, which schema 2 reads.
    const v1 = join(dir, "v1.db");
    const made = new DatabaseSync(v1);
    made.exec(MIGRATIONS[0]!);
    made.close();
    const layout = (file: string) => rows(file, "PRAGMA table_xinfo(_group_message_versions)");
    assert.deepEqual(layout(path), layout(v1));

    // Started again, it migrates to 3 with the same bookkeeping.
    {
      await using plugin = await start(dir);
      await handleAll(plugin, [message(2, "40")]);
    }
    assert.deepEqual(rows(path, "PRAGMA user_version"), [{ user_version: 3 }]);
    assert.deepEqual(
      rows(path, "SELECT msg_seq, journal_id FROM _group_message_writers ORDER BY 1"),
      [
        { msg_seq: 1, journal_id: 10 },
        { msg_seq: 2, journal_id: 40 },
        { msg_seq: 3, journal_id: 20 },
      ],
    );
    assert.deepEqual(rows(path, "SELECT msg_seq, recalled FROM group_messages ORDER BY 1"), [
      { msg_seq: 1, recalled: 1 },
      { msg_seq: 2, recalled: 1 },
      { msg_seq: 3, recalled: 0 },
    ]);
  });
});

Deno.test("sqlite_sync: a reader sees committed rows while the plugin keeps writing", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    const path = join(dir, "im.db");
    const reader = new DatabaseSync(path, { readOnly: true });
    try {
      const count = reader.prepare("SELECT count(*) AS n FROM group_messages");
      for (let seq = 1; seq <= 3; seq++) {
        await plugin.handle(
          event("Group.CallbackAfterSendMsg", {
            GroupId: "@TGS#1",
            MsgSeq: seq,
            From_Account: "jared",
            MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `m${seq}` } }],
          }),
          new AbortController().signal,
        );
        assert.deepEqual({ ...count.get() }, { n: seq });
      }
    } finally {
      reader.close();
    }
  });
});

Deno.test("sqlite_sync: AfterSendMsg with EventTime as a string stores the message", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    // The Korean seed page's example, plus a second text element and a custom one.
    await handleAll(plugin, [
      event("Group.CallbackAfterSendMsg", {
        GroupId: "@TGS#2J4SZEAEL",
        Type: "Public",
        From_Account: "jared",
        Operator_Account: "admin",
        Random: 123456,
        MsgSeq: 123,
        MsgTime: 1490686222,
        OnlineOnlyFlag: 1,
        MsgBody: [
          { MsgType: "TIMTextElem", MsgContent: { Text: "red packet" } },
          { MsgType: "TIMCustomElem", MsgContent: { Data: "x" } },
          { MsgType: "TIMTextElem", MsgContent: { Text: " for you" } },
        ],
        CloudCustomData: "your cloud custom data",
        EventTime: "1670574414123",
      }),
      event("Group.CallbackAfterSendMsg", {
        GroupId: "@TGS#2J4SZEAEL",
        TopicId: "@TGS#_topic",
        MsgSeq: "7",
        MsgBody: [],
      }, { receivedAt: 1670574415000 }),
    ]);
    assert.deepEqual(
      rows(join(dir, "im.db"), "SELECT * FROM group_messages ORDER BY topic_id"),
      [{
        sdk_app_id: APP,
        group_id: "@TGS#2J4SZEAEL",
        topic_id: "",
        msg_seq: 123,
        from_account: "jared",
        operator_account: "admin",
        random: 123456,
        msg_time: 1490686222,
        online_only_flag: 1,
        msg_body: JSON.stringify([
          { MsgType: "TIMTextElem", MsgContent: { Text: "red packet" } },
          { MsgType: "TIMCustomElem", MsgContent: { Data: "x" } },
          { MsgType: "TIMTextElem", MsgContent: { Text: " for you" } },
        ]),
        text: "red packet for you",
        cloud_custom_data: "your cloud custom data",
        event_time_ms: 1670574414123,
        recalled: 0,
      }, {
        sdk_app_id: APP,
        group_id: "@TGS#2J4SZEAEL",
        topic_id: "@TGS#_topic",
        msg_seq: 7,
        from_account: null,
        operator_account: null,
        random: null,
        msg_time: null,
        online_only_flag: null,
        msg_body: "[]",
        text: "",
        cloud_custom_data: null,
        event_time_ms: 1670574415000,
        recalled: 0,
      }],
    );
  });
});

Deno.test("sqlite_sync: GroupInfoChanged changes only the fields present", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    await handleAll(plugin, [
      event("Group.CallbackAfterCreateGroup", {
        GroupId: "@TGS#2J4SZEAEL",
        Type: "Public",
        Operator_Account: "leckie",
        Owner_Account: "leckie",
        Name: "Old",
        MemberList: [{ Member_Account: "bob" }],
        UserDefinedDataList: [{ Key: "UserDefinedKey1", Value: "v0" }],
        EventTime: 1000,
      }),
      // The Chinese seed page's "basic fields and custom fields" example.
      event("Group.CallbackAfterGroupInfoChanged", {
        GroupId: "@TGS#2J4SZEAEL",
        Type: "Public",
        Operator_Account: "leckie",
        Name: "NewGroupName",
        Introduction: "NewIntroduction",
        Notification: "NewNotification",
        FaceUrl: "NewFaceUrl",
        UserDefinedDataList: [
          { Key: "UserDefinedKey1", Value: "UserDefinedValue1" },
          { Key: "UserDefinedKey2", Value: "UserDefinedValue2" },
        ],
        EventTime: "2000",
      }),
      // Only the notification changes, to an empty string; only one custom field.
      event("Group.CallbackAfterGroupInfoChanged", {
        GroupId: "@TGS#2J4SZEAEL",
        Type: "Public",
        Notification: "",
        UserDefinedDataList: [{ Key: "UserDefinedKey2", Value: "" }],
        EventTime: 3000,
      }),
    ]);
    const path = join(dir, "im.db");
    assert.deepEqual(rows(path, "SELECT * FROM groups"), [{
      sdk_app_id: APP,
      group_id: "@TGS#2J4SZEAEL",
      type: "Public",
      name: "NewGroupName",
      introduction: "NewIntroduction",
      notification: "",
      face_url: "NewFaceUrl",
      owner_account: "leckie",
      destroyed: 0,
      updated_at_ms: 3000,
    }]);
    assert.deepEqual(rows(path, "SELECT key, value, updated_at_ms FROM group_custom_fields"), [
      { key: "UserDefinedKey1", value: "UserDefinedValue1", updated_at_ms: 2000 },
      { key: "UserDefinedKey2", value: "", updated_at_ms: 3000 },
    ]);
    // The owner is not a member unless a member list names them.
    assert.deepEqual(rows(path, "SELECT member_account, joined_at_ms FROM group_members"), [
      { member_account: "bob", joined_at_ms: 1000 },
    ]);
  });
});

Deno.test("sqlite_sync: an older GroupInfoChanged arriving late does not undo a newer one", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    await handleAll(plugin, [
      event("Group.CallbackAfterGroupInfoChanged", { GroupId: "g", Name: "new", EventTime: 20 }),
      event("Group.CallbackAfterGroupInfoChanged", {
        GroupId: "g",
        Name: "old",
        FaceUrl: "face",
        EventTime: 10,
      }),
    ]);
    assert.deepEqual(
      rows(join(dir, "im.db"), "SELECT name, face_url, updated_at_ms FROM groups"),
      [{ name: "new", face_url: "face", updated_at_ms: 20 }],
    );
  });
});

Deno.test("sqlite_sync: AttrChanged set, modify, delete and clear", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    const path = join(dir, "im.db");
    const attrs = (): unknown[] =>
      rows(path, "SELECT key, value, updated_at_ms FROM group_attrs ORDER BY key");
    const attr = (OptionType: string, EventTime: number, GroupAttr: unknown[] = []) =>
      event("Group.CallbackAfterGroupAttrChanged", {
        GroupId: "@TGS#2J4SZEAEL",
        Type: "Public",
        Operator_Account: "leckie",
        OptionType,
        GroupAttr,
        EventTime,
      });
    await handleAll(plugin, [
      attr("modify", 5, [{ key: "stale", value: "s" }]),
      attr("set", 10, [{ key: "key1", value: "value1" }, { key: "key2", value: "values" }]),
    ]);
    assert.deepEqual(attrs(), [
      { key: "key1", value: "value1", updated_at_ms: 10 },
      { key: "key2", value: "values", updated_at_ms: 10 },
    ]);
    await handleAll(plugin, [attr("delete", 20, [{ key: "key1", value: "" }])]);
    assert.deepEqual(attrs(), [{ key: "key2", value: "values", updated_at_ms: 10 }]);
    // Late arrivals older than the set or the delete change nothing.
    await handleAll(plugin, [
      attr("modify", 15, [{ key: "key1", value: "resurrected" }]),
      attr("modify", 8, [{ key: "key3", value: "before the set" }]),
      attr("set", 9, [{ key: "key4", value: "older set" }]),
    ]);
    assert.deepEqual(attrs(), [{ key: "key2", value: "values", updated_at_ms: 10 }]);
    await handleAll(plugin, [attr("modify", 30, [{ key: "key2", value: "v2" }])]);
    assert.deepEqual(attrs(), [{ key: "key2", value: "v2", updated_at_ms: 30 }]);
    // A clear at 25 arriving late drops what was written before 25, keeps the modify at 30.
    await handleAll(plugin, [
      attr("modify", 22, [{ key: "key5", value: "gone" }]),
      attr("clear", 25),
    ]);
    assert.deepEqual(attrs(), [{ key: "key2", value: "v2", updated_at_ms: 30 }]);
    await handleAll(plugin, [attr("clear", 40)]);
    assert.deepEqual(attrs(), []);
  });
});

Deno.test("sqlite_sync: members join, leave and rejoin; destroy keeps them", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    const path = join(dir, "im.db");
    await handleAll(plugin, [
      event("Group.CallbackAfterNewMemberJoin", {
        GroupId: "g",
        JoinType: "Apply",
        NewMemberList: [{ Member_Account: "ann" }, { Member_Account: "ben" }],
        EventTime: 100,
      }),
      event("Group.CallbackAfterMemberExit", {
        GroupId: "g",
        ExitType: "Quit",
        ExitMemberList: [{ Member_Account: "ann" }, { Member_Account: "cat" }],
        EventTime: 200,
      }),
      event("Group.CallbackAfterMemberExit", {
        GroupId: "g",
        ExitType: "Kicked",
        ExitMemberList: [{ Member_Account: "ben" }],
        EventTime: 400,
      }),
      // Arrives late: ben rejoined at 300, but left again at 400.
      event("Group.CallbackAfterNewMemberJoin", {
        GroupId: "g",
        NewMemberList: [{ Member_Account: "ben" }, { Member_Account: "cat" }],
        EventTime: 300,
      }),
      event("Group.CallbackAfterChangeGroupOwner", {
        GroupId: "g",
        OldOwner_Account: "ann",
        NewOwner_Account: "dan",
        EventTime: 500,
      }),
      event("Group.CallbackAfterGroupDestroyed", {
        GroupId: "g",
        Type: "Public",
        Owner_Account: "dan",
        MemberList: [{ Member_Account: "cat" }],
        EventTime: 600,
      }),
      // A late info change does not revive the group.
      event("Group.CallbackAfterGroupInfoChanged", { GroupId: "g", Name: "n", EventTime: 450 }),
    ]);
    assert.deepEqual(
      rows(path, "SELECT member_account, joined_at_ms, left_at_ms FROM group_members ORDER BY 1"),
      [
        { member_account: "ann", joined_at_ms: 100, left_at_ms: 200 },
        { member_account: "ben", joined_at_ms: 300, left_at_ms: 400 },
        { member_account: "cat", joined_at_ms: 300, left_at_ms: null },
      ],
    );
    assert.deepEqual(
      rows(path, "SELECT type, name, owner_account, destroyed, updated_at_ms FROM groups"),
      [{ type: "Public", name: "n", owner_account: "dan", destroyed: 1, updated_at_ms: 600 }],
    );
  });
});

Deno.test("sqlite_sync: a recall that arrives before its message marks it recalled", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    const message = (MsgSeq: number, TopicId?: string) =>
      event("Group.CallbackAfterSendMsg", {
        GroupId: "g",
        MsgSeq,
        ...(TopicId === undefined ? {} : { TopicId }),
        From_Account: "a",
        MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }],
        EventTime: 100,
      });
    await handleAll(plugin, [
      message(1),
      event("Group.CallbackAfterRecallMsg", {
        GroupId: "g",
        MsgSeqList: [{ MsgSeq: 1 }, { MsgSeq: "2" }],
        EventTime: 50,
      }),
      message(2),
      message(2, "topic"),
      message(3),
    ]);
    assert.deepEqual(
      rows(
        join(dir, "im.db"),
        "SELECT topic_id, msg_seq, recalled FROM group_messages ORDER BY topic_id, msg_seq",
      ),
      [
        { topic_id: "", msg_seq: 1, recalled: 1 },
        { topic_id: "", msg_seq: 2, recalled: 1 },
        { topic_id: "", msg_seq: 3, recalled: 0 },
        { topic_id: "topic", msg_seq: 2, recalled: 0 },
      ],
    );
  });
});

Deno.test("sqlite_sync: a message sent twice keeps the newer EventTime, then the later journal id", async () => {
  await withDir(async (dir) => {
    const message = (id: string, EventTime: number, Text: string) =>
      event("Group.CallbackAfterSendMsg", {
        GroupId: "g",
        MsgSeq: 1,
        MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text } }],
        EventTime,
      }, { id });
    const cases: Array<[CallbackEvent[], string]> = [
      [[message("1", 10, "a"), message("2", 10, "b")], "b"],
      [[message("2", 10, "b"), message("1", 10, "a")], "b"],
      [[message("2", 10, "b"), message("1", 20, "a")], "a"],
      [[message("1", 20, "a"), message("2", 10, "b")], "a"],
      [[message("1", 10, "a"), message("3", 10, "c"), message("2", 10, "b")], "c"],
    ];
    for (const [i, [events, text]] of cases.entries()) {
      const file = `case-${i}.db`;
      {
        await using plugin = await start(dir, file);
        await handleAll(plugin, events);
      }
      const stored = rows(join(dir, file), "SELECT text, event_time_ms FROM group_messages");
      assert.deepEqual(stored.map((row) => row.text), [text], `case ${i}`);
    }
  });
});

Deno.test("sqlite_sync: a duplicate delivery changes nothing", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    const path = join(dir, "im.db");
    const events = [
      event("Group.CallbackAfterGroupAttrChanged", {
        GroupId: "g",
        OptionType: "set",
        GroupAttr: [{ key: "k", value: "v" }],
        EventTime: 10,
      }),
      event("Group.CallbackAfterGroupAttrChanged", {
        GroupId: "g",
        OptionType: "modify",
        GroupAttr: [{ key: "k", value: "w" }],
        EventTime: 20,
      }),
      event("Group.CallbackAfterSendMsg", {
        GroupId: "g",
        MsgSeq: 1,
        MsgBody: [],
        EventTime: 30,
      }),
    ];
    await handleAll(plugin, events);
    const before = dump(path);
    await handleAll(plugin, [events[0]!, { ...events[2]!, attempt: 2 }, events[1]!]);
    assert.deepEqual(dump(path), before);
    assert.equal(before.group_attrs!.length, 1);
  });
});

Deno.test("sqlite_sync: other commands are ignored", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    await handleAll(plugin, [
      event("C2C.CallbackAfterSendMsg", { From_Account: "a", To_Account: "b", MsgBody: [] }),
      event("Group.CallbackOnMemberStateChange", { GroupId: "g", EventType: "Online" }),
      event("Group.CallbackBeforeSendMsg", { GroupId: "g", MsgBody: [] }),
    ]);
    const tables = dump(join(dir, "im.db"));
    for (const table of TABLES) assert.deepEqual(tables[table], [], table);
  });
});

Deno.test("sqlite_sync: a payload it cannot apply is a permanent error", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    const signal = new AbortController().signal;
    await assert.rejects(
      async () =>
        await plugin.handle(
          event("Group.CallbackAfterSendMsg", { GroupId: "g", MsgSeq: "x1", MsgBody: [] }, {
            id: "77",
          }),
          signal,
        ),
      {
        name: "ChangeError",
        message: 'Cannot apply Group.CallbackAfterSendMsg "77": MsgSeq: expected an integer or ' +
          'a digit string, got "x1"',
        permanent: true,
      },
    );
    await assert.rejects(
      async () =>
        await plugin.handle(
          event("Group.CallbackAfterGroupAttrChanged", { GroupId: "g", OptionType: "wipe" }, {
            id: "78",
          }),
          signal,
        ),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message === 'Cannot apply Group.CallbackAfterGroupAttrChanged "78": OptionType: ' +
            'expected one of set, modify, clear, delete, got "wipe"',
    );
    await assert.rejects(
      async () => await plugin.handle(event("Group.CallbackAfterCreateGroup", {}), signal),
      { name: "ChangeError", message: /: GroupId: expected a non-empty string, got nothing$/ },
    );
  });
});

Deno.test("sqlite_sync: concurrent calls all commit and a bad one fails alone", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    const signal = new AbortController().signal;
    const calls = [];
    for (let seq = 1; seq <= 50; seq++) {
      calls.push(plugin.handle(
        event("Group.CallbackAfterSendMsg", { GroupId: `g${seq % 5}`, MsgSeq: seq, MsgBody: [] }),
        signal,
      ));
    }
    calls.push(
      plugin.handle(event("Group.CallbackAfterSendMsg", { GroupId: "g", MsgBody: [] }), signal),
    );
    const results = await Promise.allSettled(calls);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 50);
    assert.equal(results.at(-1)!.status, "rejected");
    assert.deepEqual(
      rows(join(dir, "im.db"), "SELECT count(*) AS n FROM group_messages"),
      [{ n: 50 }],
    );
  });
});

/**
 * How many transactions have committed into the WAL file since it was last reset: frames
 * whose salts match the header's and whose "database size after commit" field is set.
 */
function walCommits(path: string): number {
  const wal = Deno.readFileSync(`${path}-wal`);
  if (wal.length < 32) return 0;
  const view = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
  const pageSize = view.getUint32(8);
  const salts = [view.getUint32(16), view.getUint32(20)];
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (view.getUint32(at + 8) !== salts[0] || view.getUint32(at + 12) !== salts[1]) break;
    if (view.getUint32(at + 4) !== 0) commits++;
  }
  return commits;
}

function message(group: string, seq: number): CallbackEvent {
  return event("Group.CallbackAfterSendMsg", { GroupId: group, MsgSeq: seq, MsgBody: [] });
}

Deno.test("sqlite_sync: calls made in different microtasks share one transaction", async () => {
  await withDir(async (dir) => {
    await using plugin = await start(dir);
    const path = join(dir, "im.db");
    const signal = new AbortController().signal;
    const before = walCommits(path);
    const calls = [plugin.handle(message("g", 1), signal)];
    for (let seq = 2; seq <= 4; seq++) {
      // Several microtask turns, as between deliveries of different workers.
      for (let i = 0; i < 5; i++) await Promise.resolve();
      assert.deepEqual(rows(path, "SELECT count(*) AS n FROM group_messages"), [{ n: 0 }]);
      calls.push(plugin.handle(message("g", seq), signal));
    }
    await Promise.all(calls);
    assert.equal(walCommits(path) - before, 1);
    assert.deepEqual(rows(path, "SELECT count(*) AS n FROM group_messages"), [{ n: 4 }]);
  });
});

Deno.test("sqlite_sync: a transaction holds at most max_batch changes", async () => {
  await withDir(async (dir) => {
    const instance = await sqliteSync.create(parse({ path: "im.db", max_batch: 3 }, dir), {
      name: "state",
      configDir: dir,
      logger: getLogger(["imhookd", "test"]),
      signal: new AbortController().signal,
    });
    await using plugin = instance as PluginInstance & AsyncDisposable;
    const path = join(dir, "im.db");
    const signal = new AbortController().signal;
    const before = walCommits(path);
    const calls = [];
    for (let seq = 1; seq <= 7; seq++) calls.push(plugin.handle(message("g", seq), signal));
    await Promise.all(calls);
    assert.equal(walCommits(path) - before, 3);
    assert.deepEqual(rows(path, "SELECT count(*) AS n FROM group_messages"), [{ n: 7 }]);
  });
});

Deno.test("sqlite_sync: a write lock held too long fails the calls for a retry", async () => {
  await withDir(async (dir) => {
    const instance = await sqliteSync.create(parse({ path: "im.db", busy_timeout: "20ms" }, dir), {
      name: "state",
      configDir: dir,
      logger: getLogger(["imhookd", "test"]),
      signal: new AbortController().signal,
    });
    await using plugin = instance as PluginInstance & AsyncDisposable;
    const signal = new AbortController().signal;
    const message = (seq: number) =>
      event("Group.CallbackAfterSendMsg", { GroupId: "g", MsgSeq: seq, MsgBody: [] });
    const other = new DatabaseSync(join(dir, "im.db"));
    try {
      other.exec("BEGIN IMMEDIATE");
      const results = await Promise.allSettled([
        plugin.handle(message(1), signal),
        plugin.handle(message(2), signal),
      ]);
      for (const result of results) {
        assert.equal(result.status, "rejected");
        const error = (result as PromiseRejectedResult).reason;
        assert.match(error.message, /database is locked/);
        assert.notEqual(error.permanent, true);
      }
      other.exec("ROLLBACK");
    } finally {
      other.close();
    }
    await plugin.handle(message(1), signal);
    assert.deepEqual(rows(join(dir, "im.db"), "SELECT msg_seq FROM group_messages"), [
      { msg_seq: 1 },
    ]);
  });
});

Deno.test("sqlite_sync: dispose closes the database and later calls fail", async () => {
  await withDir(async (dir) => {
    const plugin = await start(dir);
    const signal = new AbortController().signal;
    const pending = plugin.handle(
      event("Group.CallbackAfterSendMsg", { GroupId: "g", MsgSeq: 1, MsgBody: [] }),
      signal,
    );
    await plugin[Symbol.asyncDispose]();
    await pending; // written before the database closed
    // The last connection closing checkpoints and removes the WAL file.
    assert.equal(existsSync(join(dir, "im.db-wal")), false);
    assert.deepEqual(rows(join(dir, "im.db"), "SELECT msg_seq FROM group_messages"), [
      { msg_seq: 1 },
    ]);
    await assert.rejects(
      async () =>
        await plugin.handle(
          event("Group.CallbackAfterSendMsg", { GroupId: "g", MsgSeq: 2, MsgBody: [] }, {
            id: "9",
          }),
          signal,
        ),
      { name: "TypeError", message: 'Cannot handle callback "9": sqlite_sync is closed' },
    );
    await plugin[Symbol.asyncDispose](); // twice is harmless
  });
});

// ---- Order independence -------------------------------------------------------------

const GROUPS: ReadonlyArray<readonly [string, string]> = [
  [APP, "g1"],
  [APP, "g2"],
  ["1400000001", "g1"],
];
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

function tag(
  command: string,
): (payload: Record<string, unknown>) => [string, Record<string, unknown>] {
  return (payload) => [command, payload];
}

/** A payload without `GroupId`/`EventTime`, per command. */
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
      fc.oneof(
        fc.constantFrom(...VALUES).map((Text) => ({
          MsgType: "TIMTextElem",
          MsgContent: { Text },
        })),
        fc.constant({ MsgType: "TIMFaceElem", MsgContent: { Index: 1, Data: "smile" } }),
      ),
      { maxLength: 2 },
    ),
    Random: fc.integer({ min: 0, max: 9 }),
  }, { requiredKeys: ["MsgSeq", "MsgBody"] }).map(tag("Group.CallbackAfterSendMsg")),
  fc.record({
    TopicId: topic,
    MsgSeqList: fc.array(seqs.map((MsgSeq) => ({ MsgSeq })), { maxLength: 2 }),
  }, { requiredKeys: ["MsgSeqList"] }).map(tag("Group.CallbackAfterRecallMsg")),
  fc.constant<Record<string, unknown>>({ EventType: "Online" }).map(
    tag("Group.CallbackOnMemberStateChange"),
  ),
);

/** EventTime as a number, a digit string or absent (then the receive time counts). */
const generatedEvent = fc.record({
  group: fc.constantFrom(...GROUPS),
  command: payloads,
  eventTime: fc.option(fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom("2", "3")), {
    nil: undefined,
  }),
  receivedAt: fc.integer({ min: 1, max: 4 }),
});

function effectiveTime(e: CallbackEvent): number {
  const t = e.payload.EventTime;
  return t === undefined ? e.receivedAt : Number(t);
}

/** A small deterministic PRNG, so each permutation is reproducible from its seed. */
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

/** Every event at least once, some twice or three times, shuffled. */
function permuteWithDuplicates(events: CallbackEvent[], seed: number): CallbackEvent[] {
  const next = random(seed);
  const order = [...events];
  for (const e of events) {
    while (next() < 0.3) order.push({ ...e, attempt: e.attempt + 1 });
  }
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Hands events over in random-sized groups of concurrent calls, as the delivery engine may. */
async function deliverInBursts(
  plugin: PluginInstance,
  events: CallbackEvent[],
  seed: number,
): Promise<void> {
  const next = random(seed ^ 0x5bd1e995);
  const signal = new AbortController().signal;
  for (let i = 0; i < events.length;) {
    const size = 1 + Math.floor(next() * 4);
    await Promise.all(events.slice(i, i + size).map((e) => plugin.handle(e, signal)));
    i += size;
  }
}

Deno.test("sqlite_sync: any order with duplicates gives the tables of the EventTime-ordered fold", async () => {
  await withDir(async (dir) => {
    let run = 0;
    let nonEmpty = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(generatedEvent, { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer(), { minLength: 4, maxLength: 4 }),
        async (generated, seeds) => {
          run++;
          const events = generated.map((g, i): CallbackEvent => {
            const [command, payload] = g.command;
            return {
              id: String(i + 1),
              command,
              sdkAppId: g.group[0],
              receivedAt: g.receivedAt,
              attempt: 1,
              payload: {
                CallbackCommand: command,
                GroupId: g.group[1],
                ...payload,
                ...(g.eventTime === undefined ? {} : { EventTime: g.eventTime }),
              },
              rawBody: "",
            };
          });
          const ordered = [...events].sort((a, b) =>
            effectiveTime(a) - effectiveTime(b) || Number(a.id) - Number(b.id)
          );
          const foldFile = `fold-${run}.db`;
          {
            await using fold = await start(dir, foldFile);
            await handleAll(fold, ordered);
          }
          const expected = dump(join(dir, foldFile));
          if (TABLES.some((table) => expected[table]!.length > 0)) nonEmpty++;
          for (const [i, seed] of seeds.entries()) {
            const file = `run-${run}-${i}.db`;
            {
              await using plugin = await start(dir, file);
              await deliverInBursts(plugin, permuteWithDuplicates(events, seed), seed);
            }
            assert.deepEqual(dump(join(dir, file)), expected);
            await Deno.remove(join(dir, file));
          }
          await Deno.remove(join(dir, foldFile));
        },
      ),
      { seed: 20240611, numRuns: 150 },
    );
    assert.ok(nonEmpty > 100, `only ${nonEmpty} runs produced rows`);
  });
});

Deno.test("sqlite_sync: parseOptions reports every bad option at once", () => {
  assert.throws(
    () => parse({ path: "", busy_timeout: 5, max_batch: 0, size: 1 }),
    (error: unknown) => {
      assert.ok(error instanceof AggregateError);
      assert.deepEqual(error.errors.map((e: Error) => e.message), [
        "options.size: unknown option; expected one of path, busy_timeout, max_batch",
        'options.path: expected a file path, got ""',
        'options.busy_timeout: Cannot parse duration "5": a duration needs a unit (ms, s, m, h or d), e.g. 5s or 5ms',
        "options.max_batch: expected a whole number of at least 1, got 0",
      ]);
      return true;
    },
  );
});
