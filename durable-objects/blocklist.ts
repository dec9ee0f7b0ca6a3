import { DurableObject } from "cloudflare:workers";
import type { BloomSnapshot } from "../domain/blocklist";
import { BLOOM_FORMAT, Bloom, newBloom } from "../domain/bloom";
import { concatBytes } from "../domain/bytes";
import { insertRows } from "../domain/sql";

const CHUNK = 1 << 20; // stored values stay well under the 2 MB limit

/**
 * The blocklist (one instance, named "global"): the exact set of blocked items and the Bloom filter
 * built from it, persisted so every campaign object can load it without a D1 read per click.
 */
export class Blocklist extends DurableObject<IngestEnv> {
  #filter: Bloom | null = null;

  constructor(ctx: DurableObjectState, env: IngestEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS item (item TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS bloom (i INTEGER PRIMARY KEY, bits BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
    `);
  }

  #meta(k: string): number {
    return this.ctx.storage.sql.exec<{ v: number }>("SELECT v FROM meta WHERE k = ?", k).toArray()[0]?.v ?? 0;
  }

  #loadFilter(): Bloom | null {
    if (this.#filter) return this.#filter;
    const size = this.#meta("size");
    if (!size) return null;
    // Bits stored in another format (an older release's library) are rebuilt from the exact set.
    if (this.#meta("format") !== BLOOM_FORMAT) return this.#rebuild();
    const parts = this.ctx.storage.sql.exec<{ bits: ArrayBuffer }>("SELECT bits FROM bloom ORDER BY i").toArray();
    const bits = concatBytes(parts.map((p) => new Uint8Array(p.bits)));
    this.#filter = new Bloom(size, this.#meta("hashes"), bits);
    return this.#filter;
  }

  #rebuild(): Bloom {
    const filter = newBloom();
    for (const { item } of this.ctx.storage.sql.exec<{ item: string }>("SELECT item FROM item")) filter.add(item);
    this.#store(filter, this.#meta("version"));
    return filter;
  }

  #store(filter: Bloom, version: number): void {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM bloom");
    for (let i = 0; i * CHUNK < filter.bits.length; i++) {
      sql.exec("INSERT INTO bloom (i, bits) VALUES (?, ?)", i, filter.bits.slice(i * CHUNK, (i + 1) * CHUNK).buffer);
    }
    for (const [k, v] of [
      ["version", version],
      ["size", filter.size],
      ["hashes", filter.hashes],
      ["format", BLOOM_FORMAT],
    ] as const) {
      sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", k, v);
    }
    this.#filter = filter;
  }

  /** Adds items (`ip:<hash>`, `ua:<user agent>`); returns the new version and how many were new. */
  add(items: string[]): { version: number; added: number } {
    const sql = this.ctx.storage.sql;
    let added = 0;
    const filter = this.#loadFilter() ?? newBloom();
    for (const s of insertRows(
      "item",
      ["item"],
      items.map((item) => [item]),
      "ON CONFLICT DO NOTHING",
    )) {
      added += sql.exec(s.sql, ...s.params).rowsWritten;
    }
    for (const item of items) filter.add(item);
    const version = this.#meta("version") + (added ? 1 : 0);
    if (added) this.#store(filter, version);
    return { version, added };
  }

  /**
   * Removes items; a Bloom filter cannot forget, so the filter is rebuilt from what remains and the version
   * moves on. Verdicts already recorded are history and stay as they were.
   */
  remove(items: string[]): { version: number; removed: number } {
    const sql = this.ctx.storage.sql;
    let removed = 0;
    for (const item of new Set(items)) removed += sql.exec("DELETE FROM item WHERE item = ?", item).rowsWritten;
    const version = this.#meta("version") + (removed ? 1 : 0);
    if (removed) {
      const filter = newBloom();
      for (const { item } of sql.exec<{ item: string }>("SELECT item FROM item")) filter.add(item);
      this.#store(filter, version);
    }
    return { version, removed };
  }

  /** Changes whenever the set does; 0 while it is empty (and stays above 0 once anything was added). */
  version(): number {
    return this.#meta("version");
  }

  snapshot(): BloomSnapshot | null {
    const filter = this.#loadFilter();
    if (!filter) return null;
    return { version: this.#meta("version"), size: filter.size, hashes: filter.hashes, bits: filter.bits };
  }

  /** Exact membership, for Bloom hits. */
  contains(items: string[]): boolean[] {
    return items.map((item) => this.ctx.storage.sql.exec("SELECT 1 FROM item WHERE item = ?", item).toArray().length > 0);
  }

  count(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM item").one().n;
  }
}
