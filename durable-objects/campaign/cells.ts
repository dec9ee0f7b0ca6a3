/**
 * Real-time cells in memory: counters per granularity × bucket × ad × dimensions, with a HyperLogLog
 * sketch of the users who clicked. Cells are grouped in partitions (minute cells by 10 minutes, hour
 * cells by 6 hours, day cells by day); a checkpoint rewrites the partitions that changed as one blob each, a
 * query reads partitions from memory (loading an old one from its blob when asked), and expiry drops
 * whole partitions.
 *
 * Cells are stored by position (dimensions, then counters), so a partition says which layout it was
 * written in: layout 1 (a bare array of cells) had six dimensions and no conversion counters; layout 2
 * (`{v: 2, cells}`) added the variant and ad group dimensions and the conversion counters; layout 3 the
 * over_budget counter (after the counter set's first five). An old
 * partition is read by name into the current layout, and written back in it at its next change.
 */
import type { Sql } from "../meter";
import { CELL_DIMENSIONS, type CellPartial, type CellQuery } from "../../domain/cells";
import {
  CELL_REASONS,
  CONVERSION_COUNTERS,
  COUNTERS,
  eventsOf,
  eventCounts,
  zeroCounts,
  type CellReason,
  type Counts,
} from "../../domain/counters";
import type { Conversion } from "../../domain/conversion";
import { isClick, toMicros, type ClickEvent, type Outcome } from "../../domain/event";
import { HLL_M, hllPoint, sketchToBytes, type Sketch } from "../../domain/hll";
import { DAY, GRANULARITIES, GRANULARITY_MS, HOUR, MINUTE, floorTo, type Granularity } from "../../domain/time";
import { blobNames, deleteBlob, readJsonBlob, writeJsonBlob } from "./blobs";

/** Counter columns of a cell, in stored order: the counter set, one per reason, then the conversion counters. */
export const CELL_COUNTERS = [...COUNTERS, ...CELL_REASONS, ...CONVERSION_COUNTERS] as const;
const N = CELL_COUNTERS.length;
const REASON_AT = COUNTERS.length;
const CONVERSIONS_AT = COUNTERS.length + CELL_REASONS.length;
const CLICKS_AT = COUNTERS.indexOf("clicks");
const D = CELL_DIMENSIONS.length;

/** The layout partitions are written in now, and those an object may still hold (frozen: never edit one). */
const LAYOUT = 3;
const LAYOUTS: Record<number, { dims: readonly string[]; counters: readonly string[] }> = {
  1: {
    dims: ["ad_id", "country", "device_type", "os", "publisher_id", "ad_format"],
    counters: [
      ...["clicks", "cost_micros", "suspicious", "duplicates", "invalid"],
      ...["blocklisted_ip", "blocklisted_ua", "bot_ua", "ip_burst_second", "ip_rate_minute", "bad_signature", "rate_limited"],
      "geo_mismatch",
    ],
  },
  2: {
    dims: ["ad_id", "country", "device_type", "os", "publisher_id", "ad_format", "variant", "ad_group_id"],
    counters: [
      ...["clicks", "cost_micros", "suspicious", "duplicates", "invalid"],
      ...["blocklisted_ip", "blocklisted_ua", "bot_ua", "ip_burst_second", "ip_rate_minute", "bad_signature", "rate_limited"],
      "geo_mismatch",
      ...["conversions", "conversion_value_micros"],
    ],
  },
  3: { dims: CELL_DIMENSIONS, counters: CELL_COUNTERS },
};

/** A stored cell of any layout, in the current one: dimensions and counters moved by name, new ones empty. */
function fromLayout(v: number, s: StoredCell): StoredCell {
  if (v === LAYOUT) return s;
  const { dims, counters } = LAYOUTS[v];
  const dimAt = new Map(dims.map((d, i) => [d, 2 + i]));
  const counterAt = new Map(counters.map((k, i) => [k, 2 + dims.length + i]));
  return [
    s[0],
    s[1],
    ...CELL_DIMENSIONS.map((d) => (dimAt.has(d) ? s[dimAt.get(d)!] : "")),
    ...CELL_COUNTERS.map((k) => (counterAt.has(k) ? s[counterAt.get(k)!] : 0)),
    s[2 + dims.length + counters.length] ?? "",
  ];
}

/** A partition as stored: layout 1 was a bare array of cells. */
type StoredPartition = StoredCell[] | { v: number; cells: StoredCell[] };

/** The counter set of a cell's columns. */
const countsOf = (n: number[]): Counts => Object.fromEntries(COUNTERS.map((k, i) => [k, n[i]])) as Counts;

/**
 * A partition is rewritten whole when it changes, so the current ones are kept small: a checkpoint
 * rewrites at most ten minutes of minute cells, six hours of hour cells and one day of day cells.
 */
const PERIOD: Record<Granularity, number> = { minute: 10 * MINUTE, hour: 6 * HOUR, day: DAY };

/** A sketch stays a sparse map while small and becomes a dense register array (16 KB) past this. */
const DENSE_AT = 512;

type Users = Sketch | Uint8Array;

interface Cell {
  ts: number;
  late: boolean;
  dims: string[];
  n: number[];
  users: Users | null;
}

interface Partition {
  cells: Map<string, Cell>;
  dirty: boolean;
  chunks: number;
  touched: number;
}

/** A cell as stored: [ts, late, ...dims, ...counters, users] with users "" or "s…"/"d…" base64. */
type StoredCell = (string | number)[];

const b64 = (u8: Uint8Array) => Buffer.from(u8.buffer, u8.byteOffset, u8.length).toString("base64");
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

function addUser(users: Users | null, userId: string): Users {
  const { idx, rho } = hllPoint(userId);
  if (users instanceof Uint8Array) {
    if (users[idx] < rho) users[idx] = rho;
    return users;
  }
  const s = users ?? new Map<number, number>();
  if ((s.get(idx) ?? 0) < rho) s.set(idx, rho);
  if (s.size <= DENSE_AT) return s;
  const dense = new Uint8Array(HLL_M);
  for (const [i, r] of s) dense[i] = r;
  return dense;
}

function mergeUsers(into: Sketch, users: Users): void {
  if (users instanceof Uint8Array) {
    for (let i = 0; i < users.length; i++) if (users[i] && (into.get(i) ?? 0) < users[i]) into.set(i, users[i]);
  } else for (const [i, r] of users) if ((into.get(i) ?? 0) < r) into.set(i, r);
}

function encodeUsers(users: Users | null): string {
  if (!users) return "";
  return users instanceof Uint8Array ? `d${b64(users)}` : `s${b64(sketchToBytes(users))}`;
}

function decodeUsers(s: string): Users | null {
  if (!s) return null;
  const bytes = unb64(s.slice(1));
  if (s[0] === "d") return bytes;
  const m: Sketch = new Map();
  for (let i = 0; i + 2 < bytes.length; i += 3) m.set((bytes[i] << 8) | bytes[i + 1], bytes[i + 2]);
  return m;
}

/** A click's or a conversion's cell dimensions (a conversion carries its click's). */
const dimsOf = (e: ClickEvent | Conversion) => [
  e.ad_id,
  e.country,
  e.device_type,
  e.os,
  e.publisher_id ?? "",
  e.ad_format ?? "",
  e.variant ?? "",
  e.ad_group_id ?? "",
];

export class CellState {
  readonly #parts = new Map<string, Partition>();
  /** Names of partitions in storage (so a query never asks SQLite about a partition that does not exist). */
  readonly #stored: Set<string>;
  #now = 0;

  constructor(readonly sql: Sql) {
    this.#stored = new Set([...blobNames(sql, "c:"), ...blobNames(sql, "l:")]);
  }

  tick(now: number): void {
    this.#now = now;
  }

  /** Late events' cells live in partitions of their own ("l:"), so a late event never loads an old partition whole. */
  #name(g: Granularity, ts: number, late = false): string {
    return `${late ? "l" : "c"}:${g}:${floorTo(ts, PERIOD[g])}`;
  }

  #part(name: string, create: boolean): Partition | null {
    let p = this.#parts.get(name);
    if (!p) {
      const stored = this.#stored.has(name) ? readJsonBlob<StoredPartition>(this.sql, name) : null;
      if (!stored && !create) return null;
      p = { cells: new Map(), dirty: false, chunks: stored?.chunks ?? 0, touched: this.#now };
      const value = stored?.value ?? [];
      const [v, cells] = Array.isArray(value) ? [1, value] : [value.v, value.cells];
      for (const raw of cells) {
        const s = fromLayout(v, raw);
        const dims = s.slice(2, 2 + D).map(String);
        const cell: Cell = {
          ts: Number(s[0]),
          late: s[1] === 1,
          dims,
          n: s.slice(2 + D, 2 + D + N).map(Number),
          users: decodeUsers(String(s[2 + D + N] ?? "")),
        };
        p.cells.set(JSON.stringify([cell.ts, cell.late, dims]), cell);
      }
      this.#parts.set(name, p);
    }
    p.touched = this.#now;
    return p;
  }

  /** Counts one judged event in its minute, hour and day cells (late events in the late cells). */
  add(e: ClickEvent, o: Outcome): void {
    const dims = dimsOf(e);
    const userId = isClick(o.verdict) && e.user_id && !o.late ? e.user_id : null;
    const counts = eventCounts(o.verdict, toMicros(e.cost_per_click));
    const reason = o.reason === null ? -1 : CELL_REASONS.indexOf(o.reason as CellReason);
    for (const g of GRANULARITIES) {
      const ts = floorTo(e.timestamp, GRANULARITY_MS[g]);
      const p = this.#part(this.#name(g, ts, o.late), true)!;
      const key = JSON.stringify([ts, o.late, dims]);
      let cell = p.cells.get(key);
      if (!cell) p.cells.set(key, (cell = { ts, late: o.late, dims, n: new Array<number>(N).fill(0), users: null }));
      COUNTERS.forEach((k, i) => {
        cell.n[i] += counts[k];
      });
      if (reason >= 0) cell.n[REASON_AT + reason]++;
      if (userId) cell.users = addUser(cell.users, userId);
      p.dirty = true;
    }
  }

  /**
   * Counts a conversion in its click's minute, hour and day cells (never a late cell: it is real time's
   * figure). Buckets older than `keepAfter` of their granularity are left out (those cells are gone).
   */
  addConversion(c: Conversion, keepAfter: Record<Granularity, number>): void {
    const dims = dimsOf(c);
    for (const g of GRANULARITIES) {
      const ts = floorTo(c.click_timestamp, GRANULARITY_MS[g]);
      if (ts < keepAfter[g]) continue;
      const p = this.#part(this.#name(g, ts), true)!;
      const key = JSON.stringify([ts, false, dims]);
      let cell = p.cells.get(key);
      if (!cell) p.cells.set(key, (cell = { ts, late: false, dims, n: new Array<number>(N).fill(0), users: null }));
      cell.n[CONVERSIONS_AT] += 1;
      cell.n[CONVERSIONS_AT + 1] += toMicros(c.value ?? 0);
      p.dirty = true;
    }
  }

  /** Adds counters and registers to one cell (migrating cells stored by an older version). */
  merge(g: Granularity, ts: number, late: boolean, dims: string[], n: number[], users: Sketch | null): void {
    const p = this.#part(this.#name(g, ts, late), true)!;
    const key = JSON.stringify([ts, late, dims]);
    let cell = p.cells.get(key);
    if (!cell) p.cells.set(key, (cell = { ts, late, dims, n: new Array<number>(N).fill(0), users: null }));
    n.forEach((v, i) => {
      cell.n[i] += v;
    });
    for (const [idx, rho] of users ?? []) {
      if (cell.users instanceof Uint8Array) cell.users[idx] = Math.max(cell.users[idx], rho);
      else (cell.users ??= new Map()).set(idx, Math.max(cell.users.get(idx) ?? 0, rho));
    }
    p.dirty = true;
  }

  /** Sums cells matching the query, per bucket (and group); late events are reported apart. */
  query(q: CellQuery): CellPartial[] {
    const step = PERIOD[q.granularity];
    const ads = q.ad_ids ? new Set(q.ad_ids) : null;
    if (ads && ads.size === 0) return [];
    const filterAt = q.filter ? CELL_DIMENSIONS.indexOf(q.filter.dim as (typeof CELL_DIMENSIONS)[number]) : -1;
    const groupAt = q.group_by ? q.group_by.split(",").map((d) => CELL_DIMENSIONS.indexOf(d as (typeof CELL_DIMENSIONS)[number])) : null;
    const out = new Map<string, CellPartial & { sketch?: Sketch }>();
    const partitions = [];
    for (let start = floorTo(q.from, step); start < q.to; start += step) {
      for (const family of ["c", "l"]) {
        const p = this.#part(`${family}:${q.granularity}:${start}`, false);
        if (p) partitions.push(p);
      }
    }
    for (const p of partitions) {
      for (const c of p.cells.values()) {
        if (c.ts < q.from || c.ts >= q.to) continue;
        if (ads && !ads.has(c.dims[0])) continue;
        if (filterAt >= 0 && c.dims[filterAt] !== q.filter!.value) continue;
        const group = groupAt ? groupAt.map((i) => c.dims[i]).join(",") : null;
        const key = `${c.ts}|${group}`;
        let r = out.get(key);
        if (!r) {
          r = { ts: c.ts, group, ...zeroCounts(), conversions: 0, conversion_value_micros: 0, reasons: {}, late_events: 0, late_clicks: 0 };
          out.set(key, r);
        }
        if (c.late) {
          r.late_events += eventsOf(countsOf(c.n));
          r.late_clicks += c.n[CLICKS_AT];
          continue;
        }
        COUNTERS.forEach((k, i) => {
          r[k] += c.n[i];
        });
        CELL_REASONS.forEach((reason, i) => {
          if (c.n[REASON_AT + i]) r.reasons[reason] = (r.reasons[reason] ?? 0) + c.n[REASON_AT + i];
        });
        r.conversions += c.n[CONVERSIONS_AT];
        r.conversion_value_micros += c.n[CONVERSIONS_AT + 1];
        if (q.sketches && c.users) mergeUsers((r.sketch ??= new Map()), c.users);
      }
    }
    const parts = [...out.values()].map(({ sketch, ...r }) => (sketch ? { ...r, users: sketchToBytes(sketch) } : r));
    return parts.sort((a, b) => a.ts - b.ts || String(a.group).localeCompare(String(b.group)));
  }

  /** Per-ad clicks of one minute, most clicked first (what the leaderboards are told). */
  minuteClicks(ts: number, top: number): { ts: number; ad_id: string; clicks: number }[] {
    const p = this.#part(this.#name("minute", ts), false);
    const perAd = new Map<string, number>();
    for (const c of p?.cells.values() ?? []) if (c.ts === ts && !c.late) perAd.set(c.dims[0], (perAd.get(c.dims[0]) ?? 0) + c.n[CLICKS_AT]);
    return [...perAd]
      .map(([ad_id, clicks]) => ({ ts, ad_id, clicks }))
      .sort((a, b) => b.clicks - a.clicks || a.ad_id.localeCompare(b.ad_id))
      .slice(0, top);
  }

  get dirty(): boolean {
    for (const p of this.#parts.values()) if (p.dirty) return true;
    return false;
  }

  /** Rewrites each changed partition; call inside the checkpoint's transaction. */
  checkpoint(): void {
    for (const [name, p] of this.#parts) {
      if (!p.dirty) continue;
      const cells: StoredCell[] = [...p.cells.values()].map((c) => [c.ts, c.late ? 1 : 0, ...c.dims, ...c.n, encodeUsers(c.users)]);
      p.chunks = writeJsonBlob(this.sql, name, { v: LAYOUT, cells } satisfies StoredPartition, p.chunks);
      this.#stored.add(name);
      p.dirty = false;
    }
  }

  evict(idleMs: number): void {
    for (const [name, p] of this.#parts) if (!p.dirty && this.#now - p.touched > idleMs) this.#parts.delete(name);
  }

  /** Drops partitions of `g` that end before `before`. */
  dropBefore(g: Granularity, before: number): void {
    for (const name of new Set([...this.#stored, ...this.#parts.keys()])) {
      const [, granularity, start] = name.split(":");
      if (granularity !== g || Number(start) + PERIOD[g] > before) continue;
      this.#parts.delete(name);
      if (this.#stored.delete(name)) deleteBlob(this.sql, name);
    }
  }

  /** Whether minute or hour partitions exist (they expire; day partitions are kept). */
  hasExpiring(): boolean {
    for (const name of this.#stored) if (!name.includes(":day:")) return true;
    return false;
  }

  /** Partitions in memory and cells they hold. */
  stats(): { partitions: number; cells: number } {
    let cells = 0;
    for (const p of this.#parts.values()) cells += p.cells.size;
    return { partitions: this.#parts.size, cells };
  }
}
