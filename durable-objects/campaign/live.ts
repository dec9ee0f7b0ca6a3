/**
 * Small state for live views: late events by the minute they arrived (a live view shows them as they
 * come, not in their old buckets) and the minutes whose per-ad clicks the leaderboards have not seen yet.
 */
import type { Sql } from "../meter";
import { isClick, type ClickEvent, type Outcome } from "../../domain/event";
import { MINUTE, floorTo } from "../../domain/time";
import { readJsonBlob, writeJsonBlob } from "./blobs";

interface Stored {
  late: [ts: number, events: number, clicks: number][];
  unpushed: number[];
}

export class LiveState {
  readonly #late = new Map<number, [number, number]>();
  #unpushed = new Set<number>();
  #chunks = 0;
  #changed = false;

  constructor(readonly sql: Sql) {
    const stored = readJsonBlob<Stored>(sql, "live");
    if (stored) {
      this.#chunks = stored.chunks;
      for (const [ts, events, clicks] of stored.value.late) this.#late.set(ts, [events, clicks]);
      this.#unpushed = new Set(stored.value.unpushed);
    }
  }

  /** Adds stored arrivals and unpushed minutes (migrating an older version's state). */
  restore(late: [number, number, number][], unpushed: number[]): void {
    for (const [ts, events, clicks] of late) this.#late.set(ts, [events, clicks]);
    for (const m of unpushed) this.#unpushed.add(m);
    this.#changed = true;
  }

  add(e: ClickEvent, o: Outcome): void {
    const click = isClick(o.verdict);
    if (o.late) {
      const ts = floorTo(e.received_at, MINUTE);
      const a = this.#late.get(ts) ?? [0, 0];
      a[0]++;
      if (click) a[1]++;
      this.#late.set(ts, a);
    } else if (click) this.#unpushed.add(floorTo(e.timestamp, MINUTE));
    this.#changed = true;
  }

  /** Late events (and late clicks) received in [from, to), by receive time. */
  lateArrivals(from: number, to: number): { events: number; clicks: number } {
    let events = 0;
    let clicks = 0;
    for (const [ts, [e, c]] of this.#late) {
      if (ts >= from && ts < to) {
        events += e;
        clicks += c;
      }
    }
    return { events, clicks };
  }

  /** Minutes with clicks the leaderboards have not been told about (oldest first, at most `max`); they are forgotten until `unpushed` gives them back. */
  takeUnpushed(max: number): number[] {
    const minutes = [...this.#unpushed].sort((a, b) => a - b).slice(0, max);
    for (const m of minutes) this.#unpushed.delete(m);
    if (minutes.length) this.#changed = true;
    return minutes;
  }

  unpushed(minutes: number[]): void {
    for (const m of minutes) this.#unpushed.add(m);
    if (minutes.length) this.#changed = true;
  }

  get hasUnpushed(): boolean {
    return this.#unpushed.size > 0;
  }

  get dirty(): boolean {
    return this.#changed;
  }

  checkpoint(): void {
    if (!this.#changed) return;
    const v: Stored = { late: [...this.#late].map(([ts, [e, c]]) => [ts, e, c]), unpushed: [...this.#unpushed] };
    this.#chunks = writeJsonBlob(this.sql, "live", v, this.#chunks);
    this.#changed = false;
  }

  dropBefore(ts: number): void {
    for (const t of this.#late.keys()) {
      if (t < ts) {
        this.#late.delete(t);
        this.#changed = true;
      }
    }
  }
}
