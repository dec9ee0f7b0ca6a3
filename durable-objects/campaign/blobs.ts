/**
 * Named blobs in the object's SQLite: checkpointed state (cell partitions, small state). A blob over the
 * 2 MB row limit is split into chunks; rewriting a blob updates its rows in place, so a checkpoint costs
 * one row written per chunk.
 */
import { concatBytes } from "../../domain/bytes";
import type { Sql } from "../meter";
export const BLOBS_SCHEMA = `CREATE TABLE IF NOT EXISTS blob (
  name TEXT NOT NULL, chunk INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (name, chunk)) WITHOUT ROWID;`;

/** Well under Durable Objects' 2 MB per row. */
const CHUNK_BYTES = 1_500_000;

/** Writes a blob; `chunksBefore` is how many chunks it had (they are overwritten or deleted). Returns its chunks. */
function writeBlob(sql: Sql, name: string, bytes: Uint8Array, chunksBefore: number): number {
  const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
  for (let i = 0; i < chunks; i++) {
    sql.exec(
      "INSERT INTO blob (name, chunk, body) VALUES (?, ?, ?) ON CONFLICT (name, chunk) DO UPDATE SET body = excluded.body",
      name,
      i,
      bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES).buffer,
    );
  }
  if (chunksBefore > chunks) sql.exec("DELETE FROM blob WHERE name = ? AND chunk >= ?", name, chunks);
  return chunks;
}

/** A blob's bytes and chunk count, or null if there is none. */
function readBlob(sql: Sql, name: string): { bytes: Uint8Array; chunks: number } | null {
  const rows = sql.exec<{ body: ArrayBuffer }>("SELECT body FROM blob WHERE name = ? ORDER BY chunk", name).toArray();
  if (rows.length === 0) return null;
  return { bytes: concatBytes(rows.map((r) => new Uint8Array(r.body))), chunks: rows.length };
}

export function deleteBlob(sql: Sql, name: string): void {
  sql.exec("DELETE FROM blob WHERE name = ?", name);
}

/** Names of the stored blobs that start with `prefix`. */
export function blobNames(sql: Sql, prefix: string): string[] {
  return sql
    .exec<{ name: string }>("SELECT DISTINCT name FROM blob WHERE name >= ? AND name < ?", prefix, `${prefix}\uffff`)
    .toArray()
    .map((r) => r.name);
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function writeJsonBlob(sql: Sql, name: string, value: unknown, chunksBefore: number): number {
  return writeBlob(sql, name, utf8.encode(JSON.stringify(value)), chunksBefore);
}

export function readJsonBlob<T>(sql: Sql, name: string): { value: T; chunks: number } | null {
  const b = readBlob(sql, name);
  return b ? { value: JSON.parse(fromUtf8.decode(b.bytes)) as T, chunks: b.chunks } : null;
}
