/**
 * SQLite with a meter: every statement's rows written and read (`SqlStorageCursor.rowsWritten` /
 * `rowsRead`, what Cloudflare bills) added up per kind of statement ("INSERT log", "DELETE keys", …).
 * Results are read in full at once, so the counts are final when a statement returns; the objects run
 * few statements per batch, so this costs nothing that matters. The ops view and `npm run bench:storage`
 * read the totals.
 */
export interface StatementCost {
  calls: number;
  rows_written: number;
  rows_read: number;
}

export interface Rows<T> extends Iterable<T> {
  toArray(): T[];
  one(): T;
  readonly rowsWritten: number;
  readonly rowsRead: number;
}

export interface Sql {
  exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: SqlStorageValue[]): Rows<T>;
}

const LABEL =
  /^\s*(INSERT(?:\s+OR\s+\w+)?\s+INTO|DELETE\s+FROM|UPDATE|SELECT[\s\S]*?\bFROM|CREATE\s+\w+(?:\s+IF\s+NOT\s+EXISTS)?|DROP\s+\w+(?:\s+IF\s+EXISTS)?)\s+(\w+)/i;

function labelOf(query: string): string {
  const m = LABEL.exec(query);
  if (!m) return query.trim().split(/\s+/)[0].toUpperCase();
  return `${m[1].split(/\s+/)[0].toUpperCase()} ${m[2]}`;
}

export class MeteredSql implements Sql {
  readonly costs = new Map<string, StatementCost>();

  constructor(readonly sql: SqlStorage) {}

  exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: SqlStorageValue[]): Rows<T> {
    const cursor = this.sql.exec<T>(query, ...bindings);
    const rows = cursor.toArray();
    const label = labelOf(query);
    const cost = this.costs.get(label) ?? { calls: 0, rows_written: 0, rows_read: 0 };
    cost.calls++;
    cost.rows_written += cursor.rowsWritten;
    cost.rows_read += cursor.rowsRead;
    this.costs.set(label, cost);
    return {
      toArray: () => rows,
      one: () => {
        if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
        return rows[0];
      },
      rowsWritten: cursor.rowsWritten,
      rowsRead: cursor.rowsRead,
      [Symbol.iterator]: () => rows[Symbol.iterator](),
    };
  }

  /** Totals per kind of statement since this object started. */
  report(): Record<string, StatementCost> {
    return Object.fromEntries([...this.costs].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Rows now in each of these tables (rows that retention will delete, one write each, are still to be paid). */
  tableRows(tables: string[]): Record<string, number> {
    return Object.fromEntries(tables.map((t) => [t, this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`).one().n]));
  }
}
