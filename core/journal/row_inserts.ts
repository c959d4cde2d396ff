/**
 * Multi-row `INSERT`s: a batch of rows goes into a table with as few statements as possible,
 * each statement prepared once per row count.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";

/**
 * Rows per statement, largest first: a batch goes in as few statements as these sizes allow.
 * One statement per row costs measurably more per callback (see docs/performance.md).
 */
const ROW_CHUNKS = [64, 16, 4, 1] as const;

/**
 * Multi-row `INSERT`s into one table's `columns`: rows go in with statements of
 * {@linkcode ROW_CHUNKS} rows, each prepared on first use.
 */
export class RowInserts {
  #db: DatabaseSync;
  #head: string;
  #width: number;
  #statements = new Map<number, StatementSync>();

  constructor(db: DatabaseSync, table: string, columns: readonly string[]) {
    this.#db = db;
    this.#head = `INSERT INTO ${table} (${columns.join(", ")})`;
    this.#width = columns.length;
  }

  /**
   * Inserts `params` (one value per column and row, flattened). Returns the rowid of the
   * first row: SQLite numbers the rows of one write transaction's inserts one after another
   * (max + 1 each, no other writer meanwhile), so row k has that rowid + k.
   */
  run(params: SQLInputValue[]): number {
    const width = this.#width;
    const rows = params.length / width;
    let first = 0;
    let done = 0;
    for (const size of ROW_CHUNKS) {
      while (rows - done >= size) {
        const last = Number(
          this.#statement(size).run(...params.slice(done * width, (done + size) * width))
            .lastInsertRowid,
        );
        if (done === 0) first = last - size + 1;
        done += size;
      }
    }
    return first;
  }

  #statement(size: number): StatementSync {
    let statement = this.#statements.get(size);
    if (statement === undefined) {
      const row = `(${new Array(this.#width).fill("?").join(", ")})`;
      statement = this.#db.prepare(`${this.#head} VALUES ${new Array(size).fill(row).join(", ")}`);
      this.#statements.set(size, statement);
    }
    return statement;
  }
}
