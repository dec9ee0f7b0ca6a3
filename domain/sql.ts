/**
 * Statements for D1 and the objects' SQLite, which both bind at most 100 parameters per statement: many
 * rows or ids go in chunks that stay under it.
 */
export const MAX_BOUND_PARAMETERS = 100;

/** A statement's text and what it binds. */
export interface Statement<V> {
  sql: string;
  params: V[];
}

/** `?, ?, ?`: n parameters. */
export const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(", ");

/** `items` in consecutive slices of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Multi-row INSERTs of `rows` (each row's values in `columns` order), as few as the parameter limit allows;
 * `suffix` follows the values (an ON CONFLICT clause, say). No rows, no statements.
 */
export function insertRows<V>(table: string, columns: readonly string[], rows: readonly (readonly V[])[], suffix = ""): Statement<V>[] {
  const row = `(${placeholders(columns.length)})`;
  return chunks(rows, Math.floor(MAX_BOUND_PARAMETERS / columns.length)).map((chunk) => ({
    sql: `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${chunk.map(() => row).join(", ")}${suffix ? ` ${suffix}` : ""}`,
    params: chunk.flat(),
  }));
}
