/**
 * Billing rows from archived events: per campaign x UTC date (of event time) x country x device_type.
 * Billing trusts the verdicts recorded by the campaign's Durable Object (the same rules, applied once,
 * in arrival order), includes late events, and counts unique users exactly. Anyone can reproduce the
 * rows from the Parquet archive (README, "Reproduce a bill").
 */
import { isClick, toMicros, type RecordedEvent, type Verdict } from "./event";
import { DAY, MAX_EVENT_AGE_MS, MAX_EVENT_SKEW_MS, dateStart, utcDate } from "./time";

export interface BillingRow {
  campaign_id: string;
  date: string;
  country: string;
  device_type: string;
  clicks: number;
  unique_users: number;
  cost_micros: number;
  invalid_clicks: number;
  suspicious_clicks: number;
  duplicates: number;
  late_events: number;
}

export type BillingInput = Pick<
  RecordedEvent,
  "uid" | "campaign_id" | "timestamp" | "country" | "device_type" | "user_id" | "cost_per_click" | "verdict" | "late"
>;

/** The archive columns billing reads. */
export const BILLING_COLUMNS = [
  "uid",
  "campaign_id",
  "timestamp",
  "country",
  "device_type",
  "user_id",
  "cost_per_click",
  "verdict",
  "late",
] as const satisfies readonly (keyof BillingInput)[];

interface Acc extends BillingRow {
  users: Set<string>;
}

/** Accumulates archived events into billing rows; feed it file by file, then call rows(). */
export class BillingAccumulator {
  readonly #groups = new Map<string, Acc>();
  // An event is archived once per receipt; should a copy ever appear twice, it counts once.
  readonly #uids = new Set<string>();
  events = 0;

  add(e: BillingInput): void {
    if (this.#uids.has(e.uid)) return;
    this.#uids.add(e.uid);
    this.events++;
    const date = utcDate(e.timestamp);
    const country = e.country || "XX";
    const device_type = e.device_type || "unknown";
    const key = JSON.stringify([e.campaign_id, date, country, device_type]);
    let g = this.#groups.get(key);
    if (!g) {
      g = {
        campaign_id: e.campaign_id, date, country, device_type,
        clicks: 0, unique_users: 0, cost_micros: 0, invalid_clicks: 0, suspicious_clicks: 0, duplicates: 0, late_events: 0,
        users: new Set(),
      };
      this.#groups.set(key, g);
    }
    const v = e.verdict as Verdict;
    if (isClick(v)) {
      g.clicks++;
      g.cost_micros += toMicros(e.cost_per_click);
      if (e.user_id) g.users.add(e.user_id);
      if (v === "suspicious") g.suspicious_clicks++;
    } else if (v === "invalid") g.invalid_clicks++;
    else if (v === "duplicate") g.duplicates++;
    if (e.late) g.late_events++;
  }

  rows(): BillingRow[] {
    return [...this.#groups.values()]
      .map(({ users, ...row }) => ({ ...row, unique_users: users.size }))
      .sort((a, b) =>
        a.campaign_id.localeCompare(b.campaign_id) || a.date.localeCompare(b.date) ||
        a.country.localeCompare(b.country) || a.device_type.localeCompare(b.device_type));
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
  return now >= start + DAY + MAX_EVENT_AGE_MS + MAX_EVENT_SKEW_MS + 3_600_000 ? "final" : "provisional";
}
