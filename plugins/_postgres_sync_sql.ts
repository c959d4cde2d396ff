/**
 * The PostgreSQL schema of `builtin:postgres_sync`, its migrations and the function that
 * applies a batch of changes. Private to `plugins/`.
 *
 * The public tables are those of `sqlite_sync` (DESIGN.md, Built-in plugins) with PostgreSQL
 * types: `bigint` for times in ms and numbers from payloads, `integer` 0/1 for `destroyed` and
 * `recalled`, `text` for the rest (`msg_body` stays JSON text, as in SQLite). The `_` tables
 * hold the versions and tombstones that make the result independent of arrival order, as
 * `_sqlite_sync_store.ts` explains; here a version is `EVENTTIME.TIEBREAK` (see
 * `_postgres_sync_batch.ts`), compared byte by byte (`COLLATE "C"`) whatever the database's
 * locale. A message keeps no version row: its row's `event_time_ms` and a digest of its columns
 * are its version.
 *
 * `_imhookd_apply(groups, changes, messages)` applies a whole batch in one round trip and one
 * transaction. It first takes a transaction-scoped advisory lock on every group the batch touches, in one
 * global order: two instances (or two batches of one) that touch the same group run one after
 * the other, and since each statement of a function in READ COMMITTED sees what committed
 * before it, the second reads the first one's versions. Sorted locks cannot deadlock.
 *
 * @module
 */

/** Migrations run in a transaction with `search_path` set to the plugin's schema. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE groups (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    type text,
    name text,
    introduction text,
    notification text,
    face_url text,
    owner_account text,
    destroyed integer NOT NULL DEFAULT 0,
    updated_at_ms bigint NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id)
  );
  CREATE TABLE group_custom_fields (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    updated_at_ms bigint NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, key)
  );
  CREATE TABLE group_attrs (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    updated_at_ms bigint NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, key)
  );
  CREATE TABLE group_members (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    member_account text NOT NULL,
    joined_at_ms bigint,
    left_at_ms bigint,
    PRIMARY KEY (sdk_app_id, group_id, member_account)
  );
  CREATE TABLE group_messages (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    topic_id text NOT NULL DEFAULT '',
    msg_seq bigint NOT NULL,
    from_account text,
    operator_account text,
    random bigint,
    msg_time bigint,
    online_only_flag bigint,
    msg_body text NOT NULL,
    text text NOT NULL,
    cloud_custom_data text,
    event_time_ms bigint NOT NULL,
    recalled integer NOT NULL DEFAULT 0,
    PRIMARY KEY (sdk_app_id, group_id, topic_id, msg_seq)
  );

  -- Version of each field of a groups row (NULL: never set).
  CREATE TABLE _group_versions (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    type text COLLATE "C",
    name text COLLATE "C",
    introduction text COLLATE "C",
    notification text COLLATE "C",
    face_url text COLLATE "C",
    owner_account text COLLATE "C",
    PRIMARY KEY (sdk_app_id, group_id)
  );
  CREATE TABLE _group_custom_field_versions (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    key text NOT NULL,
    version text COLLATE "C" NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, key)
  );
  -- Version of the newest "set" or "clear" of a group's attributes.
  CREATE TABLE _group_attr_resets (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    version text COLLATE "C" NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id)
  );
  -- Newest write of each attribute not older than the group's reset; deleted = tombstone.
  CREATE TABLE _group_attr_versions (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    key text NOT NULL,
    version text COLLATE "C" NOT NULL,
    deleted boolean NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, key)
  );
  -- Newest join and newest exit of each member.
  CREATE TABLE _group_member_versions (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    member_account text NOT NULL,
    join_version text COLLATE "C",
    exit_version text COLLATE "C",
    PRIMARY KEY (sdk_app_id, group_id, member_account)
  );
  -- Recalled messages, also those not stored yet: a recall is for good.
  CREATE TABLE _group_message_recalls (
    sdk_app_id text NOT NULL,
    group_id text NOT NULL,
    topic_id text NOT NULL,
    msg_seq bigint NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, topic_id, msg_seq)
  );

  -- The tie-break of a message's version; _postgres_sync_batch.ts computes the same in messageDigest.
  CREATE FUNCTION _imhookd_message_digest(from_account text, operator_account text,
    random bigint, msg_time bigint, online_only_flag bigint, msg_body text, text text,
    cloud_custom_data text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $digest$
    SELECT md5(concat_ws(chr(31), coalesce(from_account, chr(30)),
      coalesce(operator_account, chr(30)), coalesce(random::text, chr(30)),
      coalesce(msg_time::text, chr(30)), coalesce(online_only_flag::text, chr(30)), msg_body,
      text, coalesce(cloud_custom_data, chr(30)))) COLLATE "C"
  $digest$;

  -- groups: [[sdk_app_id, group_id], ...] of every change; changes: the other changes as
  -- GroupChange JSON; messages: at most one per message, flat (see _postgres_sync_batch.ts).
  CREATE FUNCTION _imhookd_apply(groups jsonb, changes jsonb, messages json) RETURNS void
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
  AS $fn$
  DECLARE
    c jsonb;
    app text;
    grp text;
    ver text COLLATE "C";
    t bigint;
    f jsonb;
    item jsonb;
    old _group_versions%ROWTYPE;
    won_type boolean; won_name boolean; won_introduction boolean;
    won_notification boolean; won_face_url boolean; won_owner_account boolean;
    reset text COLLATE "C";
    opt text;
    del boolean;
    join_v text COLLATE "C";
    exit_v text COLLATE "C";
    topic text;
    seq bigint;
  BEGIN
    -- One statement: the locks are taken in the order the sort hands the keys over.
    PERFORM pg_advisory_xact_lock(lock_key) FROM (
      SELECT DISTINCT hashtextextended(value::text, 0) AS lock_key
      FROM jsonb_array_elements(groups) ORDER BY 1
    ) AS sorted;

    -- group_messages: the newest version wins. A message's version is its EventTime and a
    -- digest of what it stores (_postgres_sync_batch.ts, messageDigest), so the stored row carries its
    -- own version and a flood writes one row per message, not two. Messages touch nothing but
    -- their own rows and recalls (applied after them, below, with the same result in either
    -- order), so they go in one statement.
    IF json_array_length(messages) > 0 THEN
    INSERT INTO group_messages AS g
      SELECT m.a, m.g, m.p, m.s, m.f, m.o, m.r, m.mt, m.ol, m.b, m.x, m.cc, m.t,
        -- A message stored after its recall is recalled.
        coalesce((SELECT 1 FROM _group_message_recalls AS r
          WHERE r.sdk_app_id = m.a AND r.group_id = m.g AND r.topic_id = m.p
            AND r.msg_seq = m.s), 0)
      FROM json_to_recordset(messages) AS m(a text, g text, p text, s bigint, t bigint, f text,
        o text, r bigint, mt bigint, ol bigint, b text, x text, cc text)
    ON CONFLICT (sdk_app_id, group_id, topic_id, msg_seq) DO UPDATE SET
      from_account = excluded.from_account, operator_account = excluded.operator_account,
      random = excluded.random, msg_time = excluded.msg_time,
      online_only_flag = excluded.online_only_flag, msg_body = excluded.msg_body,
      text = excluded.text, cloud_custom_data = excluded.cloud_custom_data,
      event_time_ms = excluded.event_time_ms
    WHERE excluded.event_time_ms > g.event_time_ms
      OR (excluded.event_time_ms = g.event_time_ms
        AND _imhookd_message_digest(excluded.from_account, excluded.operator_account,
          excluded.random, excluded.msg_time, excluded.online_only_flag, excluded.msg_body,
          excluded.text, excluded.cloud_custom_data)
        > _imhookd_message_digest(g.from_account, g.operator_account, g.random, g.msg_time,
          g.online_only_flag, g.msg_body, g.text, g.cloud_custom_data));
    END IF;

    FOR c IN SELECT value FROM jsonb_array_elements(changes) LOOP
      app := c->>'sdkAppId';
      grp := c->>'groupId';
      ver := c->>'version';
      t := (c->>'eventTimeMs')::bigint;

      -- groups: last writer wins per field; destroyed is sticky.
      IF c ? 'info' THEN
        f := c->'info'->'fields';
        SELECT * INTO old FROM _group_versions WHERE sdk_app_id = app AND group_id = grp;
        won_type := f ? 'type' AND (old.type IS NULL OR old.type < ver);
        won_name := f ? 'name' AND (old.name IS NULL OR old.name < ver);
        won_introduction := f ? 'introduction'
          AND (old.introduction IS NULL OR old.introduction < ver);
        won_notification := f ? 'notification'
          AND (old.notification IS NULL OR old.notification < ver);
        won_face_url := f ? 'face_url' AND (old.face_url IS NULL OR old.face_url < ver);
        won_owner_account := f ? 'owner_account'
          AND (old.owner_account IS NULL OR old.owner_account < ver);
        INSERT INTO groups AS g (sdk_app_id, group_id, type, name, introduction, notification,
          face_url, owner_account, destroyed, updated_at_ms)
        VALUES (app, grp, f->>'type', f->>'name', f->>'introduction', f->>'notification',
          f->>'face_url', f->>'owner_account',
          CASE WHEN (c->'info'->>'destroyed')::boolean THEN 1 ELSE 0 END, t)
        ON CONFLICT (sdk_app_id, group_id) DO UPDATE SET
          type = CASE WHEN won_type THEN excluded.type ELSE g.type END,
          name = CASE WHEN won_name THEN excluded.name ELSE g.name END,
          introduction = CASE WHEN won_introduction THEN excluded.introduction
            ELSE g.introduction END,
          notification = CASE WHEN won_notification THEN excluded.notification
            ELSE g.notification END,
          face_url = CASE WHEN won_face_url THEN excluded.face_url ELSE g.face_url END,
          owner_account = CASE WHEN won_owner_account THEN excluded.owner_account
            ELSE g.owner_account END,
          destroyed = greatest(g.destroyed, excluded.destroyed),
          updated_at_ms = greatest(g.updated_at_ms, excluded.updated_at_ms);
        INSERT INTO _group_versions AS v (sdk_app_id, group_id, type, name, introduction,
          notification, face_url, owner_account)
        VALUES (app, grp,
          CASE WHEN won_type THEN ver ELSE old.type END,
          CASE WHEN won_name THEN ver ELSE old.name END,
          CASE WHEN won_introduction THEN ver ELSE old.introduction END,
          CASE WHEN won_notification THEN ver ELSE old.notification END,
          CASE WHEN won_face_url THEN ver ELSE old.face_url END,
          CASE WHEN won_owner_account THEN ver ELSE old.owner_account END)
        ON CONFLICT (sdk_app_id, group_id) DO UPDATE SET
          type = excluded.type, name = excluded.name, introduction = excluded.introduction,
          notification = excluded.notification, face_url = excluded.face_url,
          owner_account = excluded.owner_account;
      END IF;

      -- group_custom_fields: last writer wins per key.
      IF c ? 'customFields' THEN
        FOR item IN SELECT value FROM jsonb_array_elements(c->'customFields') LOOP
          INSERT INTO _group_custom_field_versions AS v VALUES (app, grp, item->>0, ver)
          ON CONFLICT (sdk_app_id, group_id, key) DO UPDATE SET version = excluded.version
            WHERE excluded.version > v.version;
          IF FOUND THEN
            INSERT INTO group_custom_fields VALUES (app, grp, item->>0, item->>1, t)
            ON CONFLICT (sdk_app_id, group_id, key) DO UPDATE SET
              value = excluded.value, updated_at_ms = excluded.updated_at_ms;
          END IF;
        END LOOP;
      END IF;

      -- group_attrs: a set or clear drops what was written before it; tombstones for deletes.
      IF c ? 'attrs' THEN
        opt := c->'attrs'->>'option';
        SELECT version INTO reset FROM _group_attr_resets
          WHERE sdk_app_id = app AND group_id = grp;
        IF reset IS NULL OR ver >= reset THEN
          IF opt IN ('set', 'clear') AND reset IS DISTINCT FROM ver THEN
            INSERT INTO _group_attr_resets VALUES (app, grp, ver)
            ON CONFLICT (sdk_app_id, group_id) DO UPDATE SET version = excluded.version;
            DELETE FROM group_attrs WHERE sdk_app_id = app AND group_id = grp AND key IN (
              SELECT key FROM _group_attr_versions
              WHERE sdk_app_id = app AND group_id = grp AND version < ver);
            DELETE FROM _group_attr_versions
              WHERE sdk_app_id = app AND group_id = grp AND version < ver;
          END IF;
          IF opt <> 'clear' THEN
            del := opt = 'delete';
            FOR item IN SELECT value FROM jsonb_array_elements(c->'attrs'->'entries') LOOP
              INSERT INTO _group_attr_versions AS v VALUES (app, grp, item->>0, ver, del)
              ON CONFLICT (sdk_app_id, group_id, key) DO UPDATE SET
                version = excluded.version, deleted = excluded.deleted
                WHERE excluded.version > v.version;
              IF FOUND THEN
                IF del THEN
                  DELETE FROM group_attrs
                    WHERE sdk_app_id = app AND group_id = grp AND key = item->>0;
                ELSE
                  INSERT INTO group_attrs VALUES (app, grp, item->>0, item->>1, t)
                  ON CONFLICT (sdk_app_id, group_id, key) DO UPDATE SET
                    value = excluded.value, updated_at_ms = excluded.updated_at_ms;
                END IF;
              END IF;
            END LOOP;
          END IF;
        END IF;
      END IF;

      -- group_members: the newest join and the newest exit decide the row.
      IF c ? 'members' THEN
        FOR item IN SELECT value FROM jsonb_array_elements(c->'members'->'accounts') LOOP
          IF (c->'members'->>'joined')::boolean THEN
            INSERT INTO _group_member_versions AS v (sdk_app_id, group_id, member_account,
              join_version) VALUES (app, grp, item #>> '{}', ver)
            ON CONFLICT (sdk_app_id, group_id, member_account) DO UPDATE
              SET join_version = excluded.join_version
              WHERE v.join_version IS NULL OR excluded.join_version > v.join_version
            RETURNING v.join_version, v.exit_version INTO join_v, exit_v;
          ELSE
            INSERT INTO _group_member_versions AS v (sdk_app_id, group_id, member_account,
              exit_version) VALUES (app, grp, item #>> '{}', ver)
            ON CONFLICT (sdk_app_id, group_id, member_account) DO UPDATE
              SET exit_version = excluded.exit_version
              WHERE v.exit_version IS NULL OR excluded.exit_version > v.exit_version
            RETURNING v.join_version, v.exit_version INTO join_v, exit_v;
          END IF;
          IF FOUND THEN
            INSERT INTO group_members VALUES (app, grp, item #>> '{}',
              left(join_v, 16)::bigint,
              CASE WHEN exit_v IS NOT NULL AND (join_v IS NULL OR exit_v > join_v)
                THEN left(exit_v, 16)::bigint END)
            ON CONFLICT (sdk_app_id, group_id, member_account) DO UPDATE SET
              joined_at_ms = excluded.joined_at_ms, left_at_ms = excluded.left_at_ms;
          END IF;
        END LOOP;
      END IF;

      IF c ? 'recall' THEN
        topic := c->'recall'->>'topicId';
        FOR item IN SELECT value FROM jsonb_array_elements(c->'recall'->'msgSeqs') LOOP
          seq := (item #>> '{}')::bigint;
          INSERT INTO _group_message_recalls VALUES (app, grp, topic, seq) ON CONFLICT DO NOTHING;
          UPDATE group_messages SET recalled = 1
            WHERE sdk_app_id = app AND group_id = grp AND topic_id = topic AND msg_seq = seq
              AND recalled = 0;
        END LOOP;
      END IF;
    END LOOP;
  END
  $fn$;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** The class of the advisory lock that serializes migrations (the other key is the schema's hash). */
export const MIGRATION_LOCK_CLASS = 0x696d6864;

/** `name` quoted as a PostgreSQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
