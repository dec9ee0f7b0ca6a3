/**
 * Billing rows from archived events: per campaign x local date (of event time, in the advertiser's zone) x country x device_type x ad group.
 * Billing trusts the verdicts recorded by the campaign's Durable Object (the same rules, applied once,
 * in arrival order), includes late events, and counts unique users exactly. Anyone can reproduce the
 * rows from the Parquet archive (README, "Reproduce a bill").
 */
import { COUNTERS, CONTRACT_NAMES, addCounts, contractCounts, eventCounts, zeroCounts, type ContractCounts, type Counts } from "./counters";
import { isClick, toMicros, type RecordedEvent, type Verdict } from "./event";
import { murmur32 } from "./hash";
import { DAY, HOUR, MAX_EVENT_AGE_MS, MAX_EVENT_SKEW_MS, dateStart, utcDate, zoneDate, zoneDay, zoneFloor } from "./time";

/** The counter set by its contract names, and billing's own counts. */
export interface BillingRow extends ContractCounts {
  campaign_id: string;
  date: string;
  country: string;
  device_type: string;
  /** The ad's group when the click was recorded (archived with it); null for ads without a group. */
  ad_group_id: string | null;
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

/**
 * A billing row's key columns within its campaign and date (`billing_daily`, `billing_parts`, `billing_restatements`).
 * In D1 a row of clicks without an ad group has ad_group_id '' (a NULL in a key column would make every row unique);
 * the API and the archive say null.
 */
export const BILLING_KEY = ["country", "device_type", "ad_group_id"] as const satisfies readonly (keyof BillingRow)[];

// ad_group_id may be absent: files archived before ad groups existed have no such column.
export type BillingInput = Partial<Pick<RecordedEvent, "ad_group_id">> &
  Pick<
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
  "ad_group_id",
  "user_id",
  "cost_per_click",
  "verdict",
  "late",
] as const satisfies readonly (keyof BillingInput)[];

interface Acc
  extends Pick<BillingRow, "campaign_id" | "date" | "country" | "device_type" | "ad_group_id" | "late_events" | "event_id_repeats"> {
  counts: Counts;
  /** Clicks per user, so a click billing takes back also takes back its user when it was the only one. */
  users: Map<string, number>;
}

/** What the event_id rule needs of an event another rollup partition holds. */
export type ForeignEvent = Pick<BillingInput, "uid" | "event_id" | "campaign_id" | "received_at" | "verdict"> & { date: string };

const originalKey = (campaign_id: string, date: string, event_id: string) => `${campaign_id}\u0000${date}\u0000${event_id}`;

/**
 * The billing date of an instant in a zone, remembering the last day seen: a rollup reads millions of events of the
 * same few days, and Intl is slow.
 */
function dateOf(zone: string): (ms: number) => string {
  let start = Number.NaN;
  let end = Number.NaN;
  let date = "";
  return (ms) => {
    if (!(ms >= start && ms < end)) {
      date = zone === "UTC" ? utcDate(ms) : zoneDate(ms, zone);
      start = zone === "UTC" ? Math.floor(ms / DAY) * DAY : zoneFloor(ms, DAY, zone);
      end = zoneDay(date, zone)[1];
    }
    return date;
  };
}

/** An event's place in arrival order: the earliest received (then the smallest uid) is the original. */
const before = (a: Pick<BillingInput, "received_at" | "uid">, b: Pick<BillingInput, "received_at" | "uid">) =>
  a.received_at < b.received_at || (a.received_at === b.received_at && a.uid < b.uid);

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
  readonly #originals = new Map<string, BillingInput | ForeignEvent>();
  /** Originals that are another partition's events: this partition's events with their event_id are all repeats. */
  readonly #foreign = new WeakSet<object>();
  readonly #dayOf: (ms: number) => string;
  events = 0;

  /** `zone`: the advertiser's time zone, whose local dates are the billing dates (UTC by default). */
  constructor(zone = "UTC") {
    this.#dayOf = dateOf(zone);
  }

  #group(e: BillingInput): Acc {
    const date = this.#dayOf(e.timestamp);
    const country = e.country || "XX";
    const device_type = e.device_type || "unknown";
    const ad_group_id = e.ad_group_id || null;
    const key = `${e.campaign_id}\u0000${date}\u0000${country}\u0000${device_type}\u0000${ad_group_id ?? ""}`;
    let g = this.#groups.get(key);
    if (!g) {
      g = {
        campaign_id: e.campaign_id,
        date,
        country,
        device_type,
        ad_group_id,
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
    const key = originalKey(e.campaign_id, this.#dayOf(e.timestamp), e.event_id);
    const original = this.#originals.get(key);
    if (!original) this.#originals.set(key, e);
    else if (before(e, original)) {
      this.#originals.set(key, e);
      if (!this.#foreign.has(original)) this.#repeat(original as BillingInput);
    } else this.#repeat(e);
  }

  /**
   * An event of the same campaign-day held by another rollup partition (partitions split events by user, and an
   * event_id may repeat across users): if it came first, this partition's original of that event_id is a repeat.
   * Call it after every own event is added; duplicates and event_ids this partition does not hold change nothing.
   */
  addForeign(e: ForeignEvent): void {
    if (e.verdict === "duplicate") return;
    const key = originalKey(e.campaign_id, e.date, e.event_id);
    const original = this.#originals.get(key);
    if (!original || this.#foreign.has(original) || !before(e, original)) return;
    this.#foreign.add(e);
    this.#originals.set(key, e);
    this.#repeat(original as BillingInput);
  }

  /** Whether an event_id of a campaign-day is one this partition holds (the foreign pass reads only those). */
  holds(campaign_id: string, date: string, event_id: string): boolean {
    return this.#originals.has(originalKey(campaign_id, date, event_id));
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
          a.device_type.localeCompare(b.device_type) ||
          // No group first, then by id: the order of D1's (`''` for no group) and of docs/reproduce-billing.sql.
          byCodeUnit(a.ad_group_id ?? "", b.ad_group_id ?? ""),
      );
  }
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The last receive time at which an event for `date` (a local date of `zone`) can still be accepted: events may
 * arrive up to 7 days after their time (CONTRACT), plus clock skew.
 */
export function dateClosesAt(date: string, zone = "UTC"): number {
  if (dateStart(date) === null) return Number.POSITIVE_INFINITY;
  return zoneDay(date, zone)[1] + MAX_EVENT_AGE_MS + MAX_EVENT_SKEW_MS;
}

/**
 * A date's bill is final only when no event for it can still be accepted and everything received until then
 * was archived when the rows were computed (`archived_through`, the completeness watermark). Without a
 * watermark (rows computed before it existed) an hour of pipeline slack stands in for it.
 */
export function billingStatus(date: string, now: number, archivedThrough: number | null = null, zone = "UTC"): "final" | "provisional" {
  const closes = dateClosesAt(date, zone);
  if (archivedThrough === null) return now >= closes + HOUR ? "final" : "provisional";
  return now >= closes && archivedThrough >= closes ? "final" : "provisional";
}

/** Rollup partitions split a campaign-day by this hash of the user (of the event_id when there is none), so each
 * user's clicks are in exactly one partition and exact unique users are the sum over partitions. */
export function userBucket(e: { user_id?: string | null; event_id: string }): number {
  return e.user_id ? murmur32(`u${e.user_id}`) : murmur32(`e${e.event_id}`);
}

/** Partition `part` of `parts` holds the buckets in [lo, hi). */
export function partitionRange(part: number, parts: number): [lo: number, hi: number] {
  return [Math.floor((part * 2 ** 32) / parts), Math.floor(((part + 1) * 2 ** 32) / parts)];
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
  /** Plans a run and runs its jobs in the batch Worker's invocation; answers when every job is done. */
  rollup(date?: string): Promise<{ rows: number; dates: RollupResult[]; run_id: string; jobs: number }>;
  sweep(): Promise<{ swept: number; events: number; failed: number }>;
  spool(): Promise<SpoolBacklog>;
  /** Compacts every closed hour now (the cron's step, here one folder after another); `skipped`: folders another held. */
  compact(): Promise<CompactionSummary & { skipped: number }>;
  /** The current archive files of a campaign's dates: keys, sizes, SHA-256 (r2-batch/statements.ts). */
  statementFiles(campaignId: string, dates: string[]): Promise<{ key: string; size: number; sha256: string; bucket: "main" | "eu" }[]>;
  /** Re-judges archived events into shadow rows (r2-batch/recalculate.ts); nothing billed changes. */
  recalculate(req: { from: string; to: string; campaign_id?: string }): Promise<BatchAnswer<RecalculationInfo>>;
  /** Swaps a computed recalculation in (overlays, then one rollup transaction per campaign-date). */
  applyRecalculation(id: string): Promise<BatchAnswer<RecalculationInfo & { rows_written: number }>>;
  /** Runs batch fraud review over the dates (r2-batch/fraud.ts) and stores its findings. */
  fraudReview(from: string, to: string): Promise<FraudReviewResult>;
  /** Applies a finding through a recalculation (cause fraud_review). */
  applyFinding(id: string): Promise<BatchAnswer<RecalculationInfo & { rows_written: number }>>;
}

/** An RPC answer, or the API error it should become (errors do not cross RPC with their fields). */
export type BatchAnswer<T> = { ok: T } | { error: { status: 404 | 409; code: string; message: string } };

/** A recalculation as the API shows it. */
export interface RecalculationInfo {
  recalculation_id: string;
  cause: string;
  from: string;
  to: string;
  campaign_id: string | null;
  status: "pending" | "applied";
  blocklist_version: number;
  events: number;
  changed: number;
  campaign_dates: number;
}

/** What one compaction pass did (r2-batch/compact.ts). */
export interface CompactionSummary {
  folders: number;
  campaigns: number;
  files_before: number;
  files_after: number;
  events: number;
}

/** Spooled files waiting to be handed to their objects (`more`: there are more than were listed). */
export interface SpoolBacklog {
  files: number;
  more: boolean;
  /** When the oldest file was spooled (how long sweeps have missed it), and its events' receive time (the watermark's). */
  oldest_spooled_at: number | null;
  oldest_received_at: number | null;
}

/** What a batch fraud review did (`POST /v1/admin/fraud-review`, and the daily cron). */
export interface FraudReviewResult {
  from: string;
  to: string;
  /** Findings over those dates, and how many of them were new (a finding already stored is kept as it is). */
  found: number;
  stored: number;
  /** Archived rows read, and whether the review stopped at its cap (r2-batch/fraud.ts REVIEW_MAX_EVENTS). */
  events_read: number;
  capped: boolean;
}
