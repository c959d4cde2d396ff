/**
 * Reads the five public tables of `sqlite_sync` and `postgres_sync` in one comparable shape:
 * each table's rows as plain objects (PostgreSQL's `bigint` as numbers), sorted.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";

/** The public tables both plugins write. */
export const SYNC_TABLES: readonly string[] = [
  "groups",
  "group_custom_fields",
  "group_attrs",
  "group_members",
  "group_messages",
];

/** The `_` bookkeeping tables of `postgres_sync`, emptied with the public ones by {@linkcode truncatePostgresTables}. */
const PG_BOOKKEEPING = [
  "_group_versions",
  "_group_custom_field_versions",
  "_group_attr_resets",
  "_group_attr_versions",
  "_group_member_versions",
  "_group_message_recalls",
];

type Tables = Record<string, Record<string, unknown>[]>;

function sorted(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const keyed = rows.map((row) => [JSON.stringify(row), row] as const);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return keyed.map(([, row]) => row);
}

/** Every row of every public table of the SQLite file at `path`. */
export function sqliteTables(path: string): Tables {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const tables: Tables = {};
    for (const table of SYNC_TABLES) {
      tables[table] = sorted(db.prepare(`SELECT * FROM ${table}`).all().map((row) => ({ ...row })));
    }
    return tables;
  } finally {
    db.close();
  }
}

/** A postgres.js client. */
export type Sql = ReturnType<typeof postgres>;

/** A client of `url` for the tests (one connection, notices ignored); `end()` it. */
export function connect(url: string): Sql {
  return postgres(url, { max: 1, onnotice: () => {} });
}

/** Every row of every public table in `schema`. */
export async function postgresTables(sql: Sql, schema: string): Promise<Tables> {
  const tables: Tables = {};
  for (const table of SYNC_TABLES) {
    // JSON makes bigint columns numbers, as SQLite's integers are.
    const rows = await sql.unsafe(`SELECT row_to_json(t)::text AS j FROM "${schema}".${table} t`);
    tables[table] = sorted(rows.map((row) => JSON.parse(row.j as string)));
  }
  return tables;
}

/** Empties the public and bookkeeping tables in `schema`. */
export async function truncatePostgresTables(sql: Sql, schema: string): Promise<void> {
  const names = [...SYNC_TABLES, ...PG_BOOKKEEPING].map((table) => `"${schema}".${table}`);
  await sql.unsafe(`TRUNCATE ${names.join(", ")}`);
}
