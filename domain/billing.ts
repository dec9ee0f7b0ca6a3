/**
 * Billing rows from archived events: per campaign x UTC date (of event time) x country x device_type.
 * Billing trusts the verdicts recorded by the campaign's Durable Object (the same rules, applied once,
 * in arrival order), includes late events, and counts unique users exactly. Anyone can reproduce the
 * rows from the Parquet archive (README, "Reproduce a bill").
 */
import { COUNTERS, CONTRACT_NAMES, addCounts, contractCounts, eventCounts, zeroCounts, type ContractCounts, type Counts } from "./counters";
import { isClick, toMicros, type RecordedEvent, type Verdict } from "./event";
import { DAY, HOUR, MAX_EVENT_AGE_MS, MAX_EVENT_SKEW_MS, dateStart, utcDate } from "./time";

/** The counter set by its contract names, and billing's own counts. */
export interface BillingRow extends ContractCounts {
  campaign_id: string;
  date: string;
  country: string;
  device_type: string;
  unique_users: number;
  late_events: number;
  /**
   * Events real time did not judge duplicates (its event_id dedup is scoped to the event's minute) that
   * billing does, because the same event_id came earlier in the campaign's day in another minute.
   */
  event_id_repeats: number;
}

/** A billing row's counts, in the order of its D1 columns (`billing_daily`). */
export const BILLING_COUNTS = [
  ...COUNTERS.map((k) => CONTRACT_NAMES[k]),
  "unique_users",
  "late_events",
  "event_id_repeats",
] as const satisfies readonly (keyof BillingRow)[];

export type BillingInput = Pick<
  RecordedEvent,
  | "uid"
  | "event_id"
  | "campaign_id"
  | "timestamp"
  | "received_at"
  | "country"
  | "device_type"
  | "user_id"
  | "cost_per_click"
  | "verdict"
  | "late"
>;

/** The archive columns billing reads. */
export const BILLING_COLUMNS = [
  "uid",
  "event_id",
  "campaign_id",
  "timestamp",
  "received_at",
  "country",
  "device_type",
  "user_id",
  "cost_per_click",
  "verdict",
  "late",
] as const satisfies readonly (keyof BillingInput)[];

interface Acc extends Pick<BillingRow, "campaign_id" | "date" | "country" | "device_type" | "late_events" | "event_id_repeats"> {
  counts: Counts;
  /** Clicks per user, so a click billing takes back also takes back its user when it was the only one. */
  users: Map<string, number>;
}

/** An event's place in arrival order: the earliest received (then the smallest uid) is the original. */
const before = (a: BillingInput, b: BillingInput) => a.received_at < b.received_at || (a.received_at === b.received_at && a.uid < b.uid);

/**
 * Accumulates archived events into billing rows; feed it file by file (any order), then call rows().
 * Billing trusts each recorded verdict, with one addition: of the events of a campaign and day that share
 * an event_id and that real time did not call duplicates (they fell in different minutes), only the first
 * received is billed as itself; the others are duplicates (`event_id_repeats`).
 */
export class BillingAccumulator {
  readonly #groups = new Map<string, Acc>();
  // An event is archived once per receipt; should a copy ever appear twice, it counts once.
  readonly #uids = new Set<string>();
  /** The billed original of each (campaign, date, event_id) among events not judged duplicates. */
  readonly #originals = new Map<string, BillingInput>();
  events = 0;

  #group(e: BillingInput): Acc {
    const date = utcDate(e.timestamp);
    const country = e.country || "XX";
    const device_type = e.device_type || "unknown";
    const key = JSON.stringify([e.campaign_id, date, country, device_type]);
    let g = this.#groups.get(key);
    if (!g) {
      g = {
        campaign_id: e.campaign_id,
        date,
        country,
        device_type,
        counts: zeroCounts(),
        late_events: 0,
        event_id_repeats: 0,
        users: new Map(),
      };
      this.#groups.set(key, g);
    }
    return g;
  }

  /** Adds (sign 1) or takes back (sign -1) an event's contribution under a verdict. */
  #count(e: BillingInput, verdict: Verdict, sign: 1 | -1): void {
    const g = this.#group(e);
    addCounts(g.counts, eventCounts(verdict, toMicros(e.cost_per_click)), sign);
    if (isClick(verdict) && e.user_id) {
      const n = (g.users.get(e.user_id) ?? 0) + sign;
      if (n > 0) g.users.set(e.user_id, n);
      else g.users.delete(e.user_id);
    }
  }

  #repeat(e: BillingInput): void {
    this.#count(e, e.verdict as Verdict, -1);
    this.#count(e, "duplicate", 1);
    this.#group(e).event_id_repeats++;
  }

  add(e: BillingInput): void {
    if (this.#uids.has(e.uid)) return;
    this.#uids.add(e.uid);
    this.events++;
    this.#count(e, e.verdict as Verdict, 1);
    if (e.late) this.#group(e).late_events++;
    if (e.verdict === "duplicate") return;
    const key = JSON.stringify([e.campaign_id, utcDate(e.timestamp), e.event_id]);
    const original = this.#originals.get(key);
    if (!original) this.#originals.set(key, e);
    else if (before(e, original)) {
      this.#originals.set(key, e);
      this.#repeat(original);
    } else this.#repeat(e);
  }

  /**
   * The billing rows. Over-budget clicks (the verdict the campaign object recorded, never decided again here)
   * are counted in over_budget_clicks, not in clicks or cost. A group with nothing billed or judged in it — only duplicates of events billed in
   * other groups — makes no row: a row of zeros would read as a bill for nothing.
   */
  rows(): BillingRow[] {
    return [...this.#groups.values()]
      .filter((g) => g.counts.clicks > 0 || g.counts.invalid > 0 || g.counts.over_budget > 0 || g.late_events > 0)
      .map(({ counts, users, ...row }) => ({ ...row, ...contractCounts(counts), unique_users: users.size }))
      .sort(
        (a, b) =>
          a.campaign_id.localeCompare(b.campaign_id) ||
          a.date.localeCompare(b.date) ||
          a.country.localeCompare(b.country) ||
          a.device_type.localeCompare(b.device_type),
      );
  }
}

/**
 * A date's bill is final once no event for it can still be accepted: events may arrive up to 7 days
 * after their time (CONTRACT), so a date closes 7 days (plus clock skew and an hour of pipeline slack)
 * after it ends.
 */
export function billingStatus(date: string, now: number): "final" | "provisional" {
  const start = dateStart(date);
  if (start === null) return "provisional";
  return now >= start + DAY + MAX_EVENT_AGE_MS + MAX_EVENT_SKEW_MS + HOUR ? "final" : "provisional";
}

/**
 * Real time against billing for one campaign and date. Billing counts late clicks (real time keeps them out
 * of its buckets) and takes back event_id repeats (real time dedups event_id per minute); what is left
 * over is `unexplained`, and `drift` is it as a share of what billing should have found.
 */
export function reconcile(r: { realtime: number; late: number; billed: number; repeats: number }): {
  difference: number;
  unexplained: number;
  drift: number;
} {
  const expected = r.realtime + r.late - r.repeats;
  const unexplained = r.billed - expected;
  return { difference: r.billed - r.realtime, unexplained, drift: expected === 0 ? 0 : Number((unexplained / expected).toFixed(4)) };
}

/** What a rollup of one date did (the r2-batch Worker computes it, the query Worker shows it). */
export interface RollupResult {
  date: string;
  files: number;
  events: number;
  rows: number;
  /** D1 rows written by this rollup (deletes of the old rows included). */
  rows_written: number;
}

/** The r2-batch Worker's RPC surface (the query Worker calls it over its service binding). */
export interface BatchRpc {
  rollup(date?: string): Promise<{ rows: number; dates: RollupResult[] }>;
  sweep(): Promise<{ swept: number; events: number; failed: number }>;
  spool(): Promise<SpoolBacklog>;
}

/** Spooled files waiting to be handed to their objects (`more`: there are more than were listed). */
export interface SpoolBacklog {
  files: number;
  more: boolean;
  oldest_spooled_at: number | null;
}
