/**
 * Real-time metrics from campaign objects: which buckets answer a question, how partial aggregates from
 * several shards merge, and the API's shape of a bucket.
 */
import type { CellPartial } from "./cells";
import { addCounts, invalidByReason, zeroCounts } from "./counters";
import { fromMicros, toMicros } from "./event";
import { sketchEstimate, sketchFromBytes, sketchMerge, type Sketch } from "./hll";
import { DAY, GRANULARITY_MS, HOUR, MINUTE, floorTo, isoMinute, type Granularity } from "./time";

export interface Segment {
  granularity: Granularity;
  from: number;
  to: number;
}

const ceilTo = (t: number, step: number) => Math.ceil(t / step) * step;

/**
 * Covers [from, to) with as few buckets as possible: minutes up to the first hour boundary, hours up to
 * the first day boundary, whole days, then hours and minutes to the end. A bucket counts when it
 * overlaps the range (real-time counts are per minute).
 */
export function segments(from: number, to: number): Segment[] {
  const a = floorTo(from, MINUTE);
  const b = ceilTo(to, MINUTE);
  const out: Segment[] = [];
  let t = a;
  const push = (granularity: Granularity, until: number) => {
    if (t < until) {
      out.push({ granularity, from: t, to: until });
      t = until;
    }
  };
  push("minute", Math.min(ceilTo(t, HOUR), b));
  push("hour", Math.min(ceilTo(t, DAY), floorTo(b, HOUR)));
  push("day", floorTo(b, DAY));
  push("hour", floorTo(b, HOUR));
  push("minute", b);
  return out;
}

/** A bucket with its parts from every shard merged. */
export type Merged = Omit<CellPartial, "reasons" | "users"> & {
  reasons: Record<string, number>;
  users: Sketch;
};

export function emptyMerged(ts: number, group: string | null): Merged {
  return {
    ts,
    group,
    ...zeroCounts(),
    conversions: 0,
    conversion_value_micros: 0,
    reasons: {},
    late_events: 0,
    late_clicks: 0,
    users: new Map(),
  };
}

function mergeInto(m: Merged, p: CellPartial): Merged {
  addCounts(m, p);
  m.conversions += p.conversions;
  m.conversion_value_micros += p.conversion_value_micros;
  m.late_events += p.late_events;
  m.late_clicks += p.late_clicks;
  for (const [reason, n] of Object.entries(p.reasons)) m.reasons[reason] = (m.reasons[reason] ?? 0) + (n ?? 0);
  if (p.users) sketchMerge(m.users, sketchFromBytes(p.users));
  return m;
}

/** Merges partials by (bucket, group); `bucketOf` maps a partial's bucket to the answer's bucket. */
export function mergePartials(parts: Iterable<CellPartial>, bucketOf: (ts: number) => number = (ts) => ts): Map<string, Merged> {
  const out = new Map<string, Merged>();
  for (const p of parts) {
    const ts = bucketOf(p.ts);
    const key = `${ts}|${p.group ?? ""}`;
    mergeInto(out.get(key) ?? out.set(key, emptyMerged(ts, p.group)).get(key)!, p);
  }
  return out;
}

/** One bucket of `GET /v1/metrics` (CONTRACT field names). */
export interface MetricBucket {
  timestamp: string;
  clicks: number;
  unique_users: number;
  cost: number;
  invalid_clicks: number;
  invalid_by_reason: Record<string, number>;
  suspicious_clicks: number;
  duplicates: number;
  over_budget_clicks: number;
  late_events: number;
  conversions: number;
  /** Sum of the conversions' values, in the advertiser's currency units. */
  conversion_value: number;
  /** conversions ÷ clicks (null without clicks). */
  conversion_rate: number | null;
  group?: string | null;
}

/** conversions ÷ clicks, to 6 decimals; null when there are no clicks to divide by. */
export function conversionRate(conversions: number, clicks: number): number | null {
  return clicks > 0 ? Math.round((conversions / clicks) * 1e6) / 1e6 : null;
}

export function toMetricBucket(m: Merged, withGroup: boolean): MetricBucket {
  const bucket: MetricBucket = {
    timestamp: isoMinute(m.ts),
    clicks: m.clicks,
    // An estimate never above its exact bound: each click has at most one user.
    unique_users: Math.min(sketchEstimate(m.users), m.clicks),
    cost: fromMicros(m.cost_micros),
    invalid_clicks: m.invalid,
    invalid_by_reason: invalidByReason(m.reasons),
    suspicious_clicks: m.suspicious,
    duplicates: m.duplicates,
    over_budget_clicks: m.over_budget,
    late_events: m.late_events,
    conversions: m.conversions,
    conversion_value: fromMicros(m.conversion_value_micros),
    conversion_rate: conversionRate(m.conversions, m.clicks),
  };
  if (withGroup) bucket.group = m.group === "" ? null : m.group;
  return bucket;
}

/** Bucket starts of [start, end) at a granularity; the zero-filled series a client plots. */
export function bucketStarts(start: number, end: number, granularity: Granularity): number[] {
  const step = GRANULARITY_MS[granularity];
  const out: number[] = [];
  for (let t = floorTo(start, step); t < end; t += step) out.push(t);
  return out;
}

/**
 * How fast a day's budget is being spent: the share of it spent over the share of the UTC day gone by, to 3
 * decimals (1: on track to spend it exactly by midnight; 1.2: 20 % fast). Null without a budget or with a
 * budget of 0, and in the day's first second (nothing to compare with yet).
 */
export function pacing(spentMicros: number, dailyBudget: number | null, now: number): number | null {
  const elapsed = (now - floorTo(now, DAY)) / DAY;
  if (dailyBudget === null || dailyBudget <= 0 || elapsed * DAY < 1_000) return null;
  return Math.round((spentMicros / toMicros(dailyBudget) / elapsed) * 1000) / 1000;
}
