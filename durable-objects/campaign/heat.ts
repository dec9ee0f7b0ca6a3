/**
 * Heatmap counts in memory: clean, on-time clicks per hour × ad × grid cell (domain/heatmap.ts). Like the
 * cells they are partitioned (by day), checkpointed as one blob per changed partition, loaded when a
 * query asks for an old day, and dropped whole when they expire.
 */
import { heatCell } from "../../domain/heatmap";
import type { ClickEvent, Outcome } from "../../domain/event";
import { DAY, HOUR, floorTo } from "../../domain/time";
import type { Sql } from "../meter";
import { blobNames, deleteBlob, readJsonBlob, writeJsonBlob } from "./blobs";

/** A stored partition: `[hour, ad_id, cell, clicks]` rows. */
interface Stored {
  v: 1;
  cells: [number, string, number, number][];
}

interface Partition {
  counts: Map<string, number>;
  dirty: boolean;
  chunks: number;
}

const PREFIX = "h:";

export class HeatState {
  readonly #parts = new Map<number, Partition>();
  readonly #stored: Set<number>;

  constructor(readonly sql: Sql) {
    this.#stored = new Set(blobNames(sql, PREFIX).map((n) => Number(n.slice(PREFIX.length))));
  }

  #part(day: number, create: boolean): Partition | null {
    let p = this.#parts.get(day);
    if (p) return p;
    const stored = this.#stored.has(day) ? readJsonBlob<Stored>(this.sql, `${PREFIX}${day}`) : null;
    if (!stored && !create) return null;
    p = { counts: new Map(), dirty: false, chunks: stored?.chunks ?? 0 };
    for (const [hour, ad, cell, n] of stored?.value.cells ?? []) p.counts.set(`${hour}|${ad}|${cell}`, n);
    this.#parts.set(day, p);
    return p;
  }

  /** Counts a judged click if it is clean, on time, and says where on the creative it landed. */
  add(e: ClickEvent, o: Outcome): void {
    if (o.verdict !== "clean" || o.late) return;
    const cell = heatCell(e);
    if (cell === null) return;
    const hour = floorTo(e.timestamp, HOUR);
    const p = this.#part(floorTo(hour, DAY), true)!;
    const key = `${hour}|${e.ad_id}|${cell}`;
    p.counts.set(key, (p.counts.get(key) ?? 0) + 1);
    p.dirty = true;
  }

  /** Clicks per grid cell of one ad, over the hours that start in [from, to). */
  query(adId: string, from: number, to: number): Map<number, number> {
    const out = new Map<number, number>();
    for (let day = floorTo(from, DAY); day < to; day += DAY) {
      for (const [key, n] of this.#part(day, false)?.counts ?? []) {
        const [hour, ad, cell] = key.split("|");
        if (ad !== adId || Number(hour) < from || Number(hour) >= to) continue;
        out.set(Number(cell), (out.get(Number(cell)) ?? 0) + n);
      }
    }
    return out;
  }

  checkpoint(): void {
    for (const [day, p] of this.#parts) {
      if (!p.dirty) continue;
      const cells = [...p.counts].map(([key, n]) => {
        const [hour, ad, cell] = key.split("|");
        return [Number(hour), ad, Number(cell), n] as [number, string, number, number];
      });
      p.chunks = writeJsonBlob(this.sql, `${PREFIX}${day}`, { v: 1, cells } satisfies Stored, p.chunks);
      this.#stored.add(day);
      p.dirty = false;
    }
  }

  /** Leaves memory: every clean partition but today's and yesterday's (old days are read back when asked). */
  evict(now: number): void {
    for (const [day, p] of this.#parts) if (!p.dirty && day < floorTo(now, DAY) - DAY) this.#parts.delete(day);
  }

  /** Drops whole days that end before `before`. */
  dropBefore(before: number): void {
    for (const day of new Set([...this.#stored, ...this.#parts.keys()])) {
      if (day + DAY > before) continue;
      this.#parts.delete(day);
      if (this.#stored.delete(day)) deleteBlob(this.sql, `${PREFIX}${day}`);
    }
  }
}
