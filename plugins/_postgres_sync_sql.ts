/**
 * The PostgreSQL schema of `builtin:postgres_sync`, its migrations and the function that
 * applies a batch of changes. Private to `plugins/`.
 *
 * The public tables are those of `sqlite_sync` (docs/plugins.md) with PostgreSQL types:
 * `bigint` for times in ms and numbers from payloads, `integer` 0/1 for `destroyed` and
 * `recalled`, `text` for the rest (`msg_body` stays JSON text, as in SQLite). The `_` tables
 * hold the versions and tombstones that make the result independent of arrival order, as
 * `_sqlite_sync_store.ts` explains; here a version is `EVENTTIME.TIEBREAK` (see
 * `_postgres_sync_batch.ts`), compared byte by byte (`COLLATE "C"`) whatever the database's
 * locale. A message keeps no version row: its row's `event_time_ms` and a digest of its columns
 * are its version.
 *
 * `_imhookd_apply` applies a whole batch in one round trip and one transaction, with one
 * statement per table, not one per change: the client sends, per table, the batch's newest
 * write of each key, and each statement merges those with the stored versions by the rules
 * above. It first takes a transaction-scoped advisory lock on every group the batch touches, in
 * one global order: two instances (or two batches of one) that touch the same group run one
 * after the other, and since each statement of a function in READ COMMITTED sees what
 * committed before it, the second reads the first one's versions (which the statements join
 * and compare outside `ON CONFLICT` too, so they rely on the lock). Sorted locks cannot
 * deadlock.
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
  `,
  `
  -- Earlier code made version 1 with an _imhookd_apply(jsonb, jsonb, json) that applied a
  -- batch one change at a time (version 1 now makes none); this one goes table by table.
  DROP FUNCTION IF EXISTS _imhookd_apply(jsonb, jsonb, json);

  -- in_groups: [[sdk_app_id, group_id], ...] of every change; the others: flat rows, at most
  -- one per key, the batch's newest (applyParameters in _postgres_sync_batch.ts), or NULL.
  CREATE FUNCTION _imhookd_apply(in_groups jsonb, in_messages json, in_info json,
    in_fields json, in_resets json, in_attrs json, in_members json, in_recalls json)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
  AS $fn$
  BEGIN
    -- One statement: the locks are taken in the order the sort hands the keys over.
    PERFORM pg_advisory_xact_lock(lock_key) FROM (
      SELECT DISTINCT hashtextextended(value::text, 0) AS lock_key
      FROM jsonb_array_elements(in_groups) ORDER BY 1
    ) AS sorted;

    -- group_messages: the newest version wins. A message's version is its EventTime and a
    -- digest of what it stores (_postgres_sync_batch.ts, messageDigest), so the stored row
    -- carries its own version and a flood writes one row per message, not two.
    IF in_messages IS NOT NULL THEN
    INSERT INTO group_messages AS g
      SELECT m.a, m.g, m.p, m.s, m.f, m.o, m.r, m.mt, m.ol, m.b, m.x, m.cc, m.t,
        -- A message stored after its recall is recalled.
        coalesce((SELECT 1 FROM _group_message_recalls AS r
          WHERE r.sdk_app_id = m.a AND r.group_id = m.g AND r.topic_id = m.p
            AND r.msg_seq = m.s), 0)
      FROM json_to_recordset(in_messages) AS m(a text, g text, p text, s bigint, t bigint,
        f text, o text, r bigint, mt bigint, ol bigint, b text, x text, cc text)
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

    -- groups: last writer wins per field (a field's _v is the batch's newest version of it,
    -- NULL when no change sets it); destroyed is sticky.
    IF in_info IS NOT NULL THEN
    WITH i AS (
      SELECT i.a, i.g, i.t, i.d,
        i.type_v > coalesce(o.type, '') AS w_type, i.name_v > coalesce(o.name, '') AS w_name,
        i.introduction_v > coalesce(o.introduction, '') AS w_introduction,
        i.notification_v > coalesce(o.notification, '') AS w_notification,
        i.face_url_v > coalesce(o.face_url, '') AS w_face_url,
        i.owner_account_v > coalesce(o.owner_account, '') AS w_owner_account,
        i.type, i.name, i.introduction, i.notification, i.face_url, i.owner_account,
        i.type_v, i.name_v, i.introduction_v, i.notification_v, i.face_url_v,
        i.owner_account_v,
        o.type AS o_type, o.name AS o_name, o.introduction AS o_introduction,
        o.notification AS o_notification, o.face_url AS o_face_url,
        o.owner_account AS o_owner_account
      FROM json_to_recordset(in_info) AS i(a text, g text, t bigint, d integer, type text,
        name text, introduction text, notification text, face_url text, owner_account text,
        type_v text COLLATE "C", name_v text COLLATE "C", introduction_v text COLLATE "C",
        notification_v text COLLATE "C", face_url_v text COLLATE "C",
        owner_account_v text COLLATE "C")
      LEFT JOIN _group_versions AS o ON o.sdk_app_id = i.a AND o.group_id = i.g
    ), versions AS (
      INSERT INTO _group_versions AS v
      SELECT a, g,
        CASE WHEN w_type THEN type_v ELSE o_type END,
        CASE WHEN w_name THEN name_v ELSE o_name END,
        CASE WHEN w_introduction THEN introduction_v ELSE o_introduction END,
        CASE WHEN w_notification THEN notification_v ELSE o_notification END,
        CASE WHEN w_face_url THEN face_url_v ELSE o_face_url END,
        CASE WHEN w_owner_account THEN owner_account_v ELSE o_owner_account END
      FROM i
      ON CONFLICT (sdk_app_id, group_id) DO UPDATE SET
        type = excluded.type, name = excluded.name, introduction = excluded.introduction,
        notification = excluded.notification, face_url = excluded.face_url,
        owner_account = excluded.owner_account
    )
    INSERT INTO groups AS g (sdk_app_id, group_id, type, name, introduction, notification,
      face_url, owner_account, destroyed, updated_at_ms)
    SELECT i.a, i.g,
      CASE WHEN w_type THEN i.type ELSE c.type END,
      CASE WHEN w_name THEN i.name ELSE c.name END,
      CASE WHEN w_introduction THEN i.introduction ELSE c.introduction END,
      CASE WHEN w_notification THEN i.notification ELSE c.notification END,
      CASE WHEN w_face_url THEN i.face_url ELSE c.face_url END,
      CASE WHEN w_owner_account THEN i.owner_account ELSE c.owner_account END,
      i.d, i.t
    FROM i LEFT JOIN groups AS c ON c.sdk_app_id = i.a AND c.group_id = i.g
    ON CONFLICT (sdk_app_id, group_id) DO UPDATE SET
      type = excluded.type, name = excluded.name, introduction = excluded.introduction,
      notification = excluded.notification, face_url = excluded.face_url,
      owner_account = excluded.owner_account,
      destroyed = greatest(g.destroyed, excluded.destroyed),
      updated_at_ms = greatest(g.updated_at_ms, excluded.updated_at_ms);
    END IF;

    -- group_custom_fields: last writer wins per key.
    IF in_fields IS NOT NULL THEN
    WITH f AS (
      SELECT * FROM json_to_recordset(in_fields)
        AS f(a text, g text, k text, x text, v text COLLATE "C", t bigint)
    ), won AS (
      INSERT INTO _group_custom_field_versions AS v SELECT a, g, k, v FROM f
      ON CONFLICT (sdk_app_id, group_id, key) DO UPDATE SET version = excluded.version
        WHERE excluded.version > v.version
      RETURNING sdk_app_id, group_id, key
    )
    INSERT INTO group_custom_fields
    SELECT f.a, f.g, f.k, f.x, f.t
    FROM f JOIN won ON won.sdk_app_id = f.a AND won.group_id = f.g AND won.key = f.k
    ON CONFLICT (sdk_app_id, group_id, key) DO UPDATE SET
      value = excluded.value, updated_at_ms = excluded.updated_at_ms;
    END IF;

    -- group_attrs: a set or clear at R drops every key written before R (the group's reset,
    -- which only moves forward; what it holds is never older). Then writes at R or newer win
    -- per key; a delete leaves a tombstone.
    IF in_resets IS NOT NULL THEN
    WITH moved AS (
      INSERT INTO _group_attr_resets AS r
      SELECT * FROM json_to_recordset(in_resets) AS n(a text, g text, v text COLLATE "C")
      ON CONFLICT (sdk_app_id, group_id) DO UPDATE SET version = excluded.version
        WHERE excluded.version > r.version
      RETURNING sdk_app_id, group_id, version
    ), dropped AS (
      DELETE FROM _group_attr_versions AS v USING moved
      WHERE v.sdk_app_id = moved.sdk_app_id AND v.group_id = moved.group_id
        AND v.version < moved.version
      RETURNING v.sdk_app_id, v.group_id, v.key
    )
    DELETE FROM group_attrs AS ga USING dropped
    WHERE ga.sdk_app_id = dropped.sdk_app_id AND ga.group_id = dropped.group_id
      AND ga.key = dropped.key;
    END IF;
    IF in_attrs IS NOT NULL THEN
    WITH e AS (
      SELECT e.* FROM json_to_recordset(in_attrs)
        AS e(a text, g text, k text, x text, v text COLLATE "C", t bigint, del boolean)
      LEFT JOIN _group_attr_resets AS r ON r.sdk_app_id = e.a AND r.group_id = e.g
      WHERE r.version IS NULL OR e.v >= r.version
    ), won AS (
      INSERT INTO _group_attr_versions AS v SELECT a, g, k, v, coalesce(del, false) FROM e
      ON CONFLICT (sdk_app_id, group_id, key) DO UPDATE SET
        version = excluded.version, deleted = excluded.deleted
        WHERE excluded.version > v.version
      RETURNING sdk_app_id, group_id, key, deleted
    ), gone AS (
      DELETE FROM group_attrs AS ga USING won
      WHERE won.deleted AND ga.sdk_app_id = won.sdk_app_id AND ga.group_id = won.group_id
        AND ga.key = won.key
    )
    INSERT INTO group_attrs
    SELECT e.a, e.g, e.k, e.x, e.t
    FROM e JOIN won ON won.sdk_app_id = e.a AND won.group_id = e.g AND won.key = e.k
    WHERE NOT won.deleted
    ON CONFLICT (sdk_app_id, group_id, key) DO UPDATE SET
      value = excluded.value, updated_at_ms = excluded.updated_at_ms;
    END IF;

    -- group_members: the newest join and the newest exit decide the row.
    IF in_members IS NOT NULL THEN
    WITH won AS (
      INSERT INTO _group_member_versions AS v
      SELECT * FROM json_to_recordset(in_members)
        AS m(a text, g text, m text, j text COLLATE "C", e text COLLATE "C")
      ON CONFLICT (sdk_app_id, group_id, member_account) DO UPDATE SET
        join_version = greatest(v.join_version, excluded.join_version),
        exit_version = greatest(v.exit_version, excluded.exit_version)
        WHERE excluded.join_version > coalesce(v.join_version, '')
          OR excluded.exit_version > coalesce(v.exit_version, '')
      RETURNING v.*
    )
    INSERT INTO group_members
    SELECT sdk_app_id, group_id, member_account, left(join_version, 16)::bigint,
      CASE WHEN exit_version IS NOT NULL
        AND (join_version IS NULL OR exit_version > join_version)
        THEN left(exit_version, 16)::bigint END
    FROM won
    ON CONFLICT (sdk_app_id, group_id, member_account) DO UPDATE SET
      joined_at_ms = excluded.joined_at_ms, left_at_ms = excluded.left_at_ms;
    END IF;

    -- Recalls: after the messages, so that a message and its recall in one batch end recalled.
    IF in_recalls IS NOT NULL THEN
    WITH r AS (
      SELECT * FROM json_to_recordset(in_recalls) AS r(a text, g text, p text, s bigint)
    ), kept AS (
      INSERT INTO _group_message_recalls SELECT * FROM r ON CONFLICT DO NOTHING
    )
    UPDATE group_messages AS m SET recalled = 1 FROM r
    WHERE m.sdk_app_id = r.a AND m.group_id = r.g AND m.topic_id = r.p AND m.msg_seq = r.s
      AND m.recalled = 0;
    END IF;
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
