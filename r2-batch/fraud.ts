/**
 * Batch fraud review (issue 11, item 6; seed 000 §5.2) over the archive, across campaigns, which no campaign object
 * can see in real time. Two detectors, thresholds below:
 * - click farm: one IP hash or user_id with events in many campaigns, or through many publishers, within one
 *   window (fixed UTC windows of CLICK_FARM_WINDOW_MS);
 * - publisher spike: a publisher's events on a day far above its own average over the days before, or its invalid
 *   rate far above its own.
 * Findings are stored with their evidence for an admin to look at; applying one runs a recalculation of the
 * campaigns and days it names (cause `fraud_review`) that marks the finding's events invalid with a batch reason
 * (domain/event.ts BATCH_REASONS), so billing credits them and records restatements.
 */
import type { FraudReviewResult } from "../domain/billing";
import type { BatchReason } from "../domain/event";
import type { Mark } from "../domain/recalculation";
import { DAY, HOUR, dateStart, utcDate } from "../domain/time";
import { eachRowGroup, openFile } from "./files";
import { type RecalcEnv, RecalculationError, applyRecalculation, datesBetween, recalculate } from "./recalculate";
import { filesOf } from "./rollup";

/** A click farm: one IP hash or user seen in at least this many campaigns within one window… */
export const CLICK_FARM_MIN_CAMPAIGNS = 5;
/** …or through at least this many publishers… */
export const CLICK_FARM_MIN_PUBLISHERS = 5;
/** …within one fixed UTC window of this length. */
export const CLICK_FARM_WINDOW_MS = HOUR;
/** A publisher spike is measured against the publisher's own days before (those with events among them)… */
export const SPIKE_BASELINE_DAYS = 7;
/** …of which at least this many must have events (a new publisher has no baseline)… */
export const SPIKE_MIN_BASELINE_DAYS = 3;
/** …when its events of a day are at least this many times its daily average… */
export const SPIKE_FACTOR = 5;
/** …or its invalid rate is this much above its own (0.3 = 30 points)… */
export const SPIKE_INVALID_RATE_JUMP = 0.3;
/** …and only on a day with at least this many of its events (a handful is noise). */
export const SPIKE_MIN_EVENTS = 100;
/**
 * One review reads at most about this many archived rows (it stops at the first row group past it): its tallies live
 * in one Worker's memory. The reviewed days are read before their baseline days, so a capped review still stores
 * the click farms it saw (each one real, some missed) but no publisher spike whose day or baseline it did not read
 * whole (a short baseline would make spikes of ordinary days). It says `capped`.
 */
export const REVIEW_MAX_EVENTS = 200_000;
/** The daily review runs over yesterday (UTC) once its late events may have arrived: this long after midnight… */
export const DAILY_REVIEW_DELAY_MS = HOUR;
/** …and a run that has not finished after this long (a Worker that died) may be started again. */
export const DAILY_REVIEW_LEASE_MS = 30 * 60_000;

export type FindingKind = "click_farm" | "publisher_spike";

export interface FindingEvidence {
  /** What was seen: `ip_hash`, `user_id` or `publisher_id`, and its value. */
  field: Mark["field"];
  value: string;
  window_start: string;
  window_end: string;
  /** Events (not duplicates) in the window, and per campaign and per publisher. */
  events: number;
  campaigns: Record<string, number>;
  publishers: Record<string, number>;
  invalid_rate?: number;
  baseline?: { days: number; events_per_day: number; invalid_rate: number };
}

const REVIEW_COLUMNS = ["uid", "campaign_id", "publisher_id", "ip_hash", "user_id", "timestamp", "verdict"] as const;

type Tally = { events: number; invalid: number; campaigns: Map<string, number>; publishers: Map<string, number> };
const tally = (): Tally => ({ events: 0, invalid: 0, campaigns: new Map(), publishers: new Map() });
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/**
 * Reads the days' events once: per (subject, window) for click farms, per (publisher, date) for spikes. Stops reading
 * after about `max` rows; `whole` holds the dates read to the end.
 */
async function tallies(env: RecalcEnv, dates: readonly string[], farmDates: ReadonlySet<string>, max: number) {
  const farms = new Map<string, Tally>();
  const publishers = new Map<string, Tally>();
  const whole = new Set<string>();
  let read = 0;
  for (const date of dates) {
    const seen = new Set<string>();
    const start = dateStart(date)!;
    for (const f of await filesOf(env, date)) {
      if (read >= max) break;
      const opened = await openFile(f.bucket, f.file);
      await eachRowGroup(
        opened,
        REVIEW_COLUMNS,
        (rows) => {
          read += rows.length;
          for (const r of rows) {
            if (r.verdict === "duplicate" || seen.has(r.uid) || r.timestamp < start || r.timestamp >= start + DAY) continue;
            seen.add(r.uid);
            const pub = r.publisher_id ?? "";
            const add = (key: string, into: Map<string, Tally>) => {
              let t = into.get(key);
              if (!t) into.set(key, (t = tally()));
              t.events++;
              if (r.verdict === "invalid") t.invalid++;
              bump(t.campaigns, r.campaign_id);
              if (pub) bump(t.publishers, pub);
            };
            if (pub) add(`${pub}\u0000${date}`, publishers);
            if (!farmDates.has(date)) continue;
            const window = Math.floor(r.timestamp / CLICK_FARM_WINDOW_MS) * CLICK_FARM_WINDOW_MS;
            add(`ip_hash\u0000${r.ip_hash}\u0000${window}`, farms);
            if (r.user_id) add(`user_id\u0000${r.user_id}\u0000${window}`, farms);
          }
        },
        () => read < max,
      );
    }
    if (read >= max) break;
    whole.add(date);
  }
  return { farms, publishers, whole, read, capped: read >= max };
}

const record = (m: Map<string, number>) => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
const iso = (t: number) => new Date(t).toISOString();

/** Runs both detectors over [from, to] and stores new findings; answers the findings of those days. */
export async function reviewFraud(
  env: RecalcEnv,
  from: string,
  to: string,
  now = Date.now(),
  maxEvents = REVIEW_MAX_EVENTS,
): Promise<FraudReviewResult> {
  const days = datesBetween(from, to);
  const baselineFrom = utcDate(dateStart(from)! - SPIKE_BASELINE_DAYS * DAY);
  // The reviewed days first, then their baseline from the nearest day back: a cap cuts the baseline, never a reviewed day first.
  const order = [...days, ...datesBetween(baselineFrom, utcDate(dateStart(from)! - DAY)).reverse()];
  const { farms, publishers, whole, read, capped } = await tallies(env, order, new Set(days), maxEvents);
  const found: { kind: FindingKind; subject: string; start: number; end: number; evidence: FindingEvidence }[] = [];
  for (const [key, t] of farms) {
    const [field, value, w] = key.split("\u0000");
    if (t.campaigns.size < CLICK_FARM_MIN_CAMPAIGNS && t.publishers.size < CLICK_FARM_MIN_PUBLISHERS) continue;
    const start = Number(w);
    const end = start + CLICK_FARM_WINDOW_MS;
    found.push({
      kind: "click_farm",
      subject: `${field}:${value}`,
      start,
      end,
      evidence: {
        field: field as Mark["field"],
        value,
        window_start: iso(start),
        window_end: iso(end),
        events: t.events,
        campaigns: record(t.campaigns),
        publishers: record(t.publishers),
      },
    });
  }
  for (const date of days) {
    const baselineDates = Array.from({ length: SPIKE_BASELINE_DAYS }, (_, i) => utcDate(dateStart(date)! - (i + 1) * DAY));
    if (![date, ...baselineDates].every((d) => whole.has(d))) continue;
    for (const [key, t] of publishers) {
      const [pub, d] = key.split("\u0000");
      if (d !== date || t.events < SPIKE_MIN_EVENTS) continue;
      const before = baselineDates.map((d) => publishers.get(`${pub}\u0000${d}`)).filter((b): b is Tally => b !== undefined);
      if (before.length < SPIKE_MIN_BASELINE_DAYS) continue;
      const perDay = before.reduce((n, b) => n + b.events, 0) / before.length;
      const baseRate =
        before.reduce((n, b) => n + b.invalid, 0) /
        Math.max(
          1,
          before.reduce((n, b) => n + b.events, 0),
        );
      const rate = t.invalid / t.events;
      if (t.events < SPIKE_FACTOR * perDay && rate < baseRate + SPIKE_INVALID_RATE_JUMP) continue;
      const start = dateStart(date)!;
      found.push({
        kind: "publisher_spike",
        subject: `publisher_id:${pub}`,
        start,
        end: start + DAY,
        evidence: {
          field: "publisher_id",
          value: pub,
          window_start: iso(start),
          window_end: iso(start + DAY),
          events: t.events,
          campaigns: record(t.campaigns),
          publishers: record(t.publishers),
          invalid_rate: Number(rate.toFixed(4)),
          baseline: { days: before.length, events_per_day: Number(perDay.toFixed(2)), invalid_rate: Number(baseRate.toFixed(4)) },
        },
      });
    }
  }
  const insert = env.DB.prepare(
    `INSERT OR IGNORE INTO fraud_findings (finding_id, kind, subject, window_start, window_end, evidence, status, found_at)
     VALUES (?, ?, ?, ?, ?, ?, 'open', ?)`,
  );
  const statements = found.map((f) =>
    insert.bind(
      `ff_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
      f.kind,
      f.subject,
      f.start,
      f.end,
      JSON.stringify(f.evidence),
      now,
    ),
  );
  let stored = 0;
  for (let i = 0; i < statements.length; i += 50) {
    for (const r of await env.DB.batch(statements.slice(i, i + 50))) stored += r.meta.changes ?? 0;
  }
  return { from, to, found: found.length, stored, events_read: read, capped };
}

/**
 * The cron's review: yesterday (UTC), once a day, from DAILY_REVIEW_DELAY_MS after midnight. A run claims its date
 * in D1, so a cron that fires twice (or on two machines) reviews it once; its findings wait for an admin to apply
 * them. Null when there is nothing to do now.
 */
export async function dailyReview(env: RecalcEnv, now = Date.now()): Promise<FraudReviewResult | null> {
  const date = utcDate(now - DAY);
  if (now < dateStart(date)! + DAY + DAILY_REVIEW_DELAY_MS) return null;
  const holder = crypto.randomUUID();
  const claimed = await env.DB.prepare(
    `INSERT INTO fraud_review_runs (date, holder, started_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (date) DO UPDATE SET holder = ?2, started_at = ?3
     WHERE fraud_review_runs.finished_at IS NULL AND fraud_review_runs.started_at < ?4`,
  )
    .bind(date, holder, now, now - DAILY_REVIEW_LEASE_MS)
    .run();
  if (!claimed.meta.changes) return null;
  const result = await reviewFraud(env, date, date, now);
  await env.DB.prepare(
    `UPDATE fraud_review_runs SET finished_at = ?, found = ?, stored = ?, events_read = ?, capped = ? WHERE date = ? AND holder = ?`,
  )
    .bind(Date.now(), result.found, result.stored, result.events_read, result.capped ? 1 : 0, date, holder)
    .run();
  return result;
}

const REASON: Record<FindingKind, BatchReason> = { click_farm: "batch_click_farm", publisher_spike: "batch_publisher_spike" };

/** Applies a finding: a recalculation of its campaigns and days marking its events invalid, applied at once. */
export async function applyFinding(env: RecalcEnv, findingId: string, now = Date.now()) {
  const f = await env.DB.prepare("SELECT * FROM fraud_findings WHERE finding_id = ?")
    .bind(findingId)
    .first<{ kind: FindingKind; window_start: number; window_end: number; evidence: string; status: string }>();
  if (!f) throw new RecalculationError(404, "not_found", `Finding ${findingId} not found.`);
  if (f.status !== "open") throw new RecalculationError(409, "already_applied", `Finding ${findingId} was already applied.`);
  const evidence = JSON.parse(f.evidence) as FindingEvidence;
  const mark: Mark = { field: evidence.field, value: evidence.value, from: f.window_start, to: f.window_end, reason: REASON[f.kind] };
  const computed = await recalculate(
    env,
    {
      from: utcDate(f.window_start),
      to: utcDate(f.window_end - 1),
      campaigns: Object.keys(evidence.campaigns),
      cause: "fraud_review",
      finding_id: findingId,
      marks: [mark],
    },
    now,
  );
  const applied = await applyRecalculation(env, computed.recalculation_id, now);
  await env.DB.prepare("UPDATE fraud_findings SET status = 'applied', recalculation_id = ? WHERE finding_id = ?")
    .bind(computed.recalculation_id, findingId)
    .run();
  return applied;
}
