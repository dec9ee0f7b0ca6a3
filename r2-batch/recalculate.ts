/**
 * Recalculation (issue 11, item 5): re-judges a range of archived events with the current rules and blocklist
 * (domain/recalculation.ts) into shadow billing rows, without touching an event. Nothing billed changes until the
 * recalculation is applied: its overlays (only the events whose verdict changed) are then copied under raw/overlays/
 * and its campaign-dates rolled up again, each swapped into billing_daily in one transaction with restatements of
 * cause `recalculation` (or `fraud_review`). Every later rollup reads the same overlays, so the figures stay.
 */
import { ipItem, uaItem } from "../domain/blocklist";
import { overlayKey, pendingOverlayKey } from "../domain/archive-layout";
import { BillingAccumulator, type BillingRow, type RecalculationInfo } from "../domain/billing";
import type { Blocklisted } from "../domain/rules";
import { encodeOverlay, type OverlayRow } from "../domain/parquet";
import { type Judged, type Mark, REJUDGE_COLUMNS, type RejudgeInput, rejudge } from "../domain/recalculation";
import { DAY, dateStart, utcDate } from "../domain/time";
import type { Blocklist } from "../durable-objects/blocklist";
import { VanishedError, eachRowGroup, openFile } from "./files";
import { type FileRef, type RollupCause, type RollupEnv, filesOf, newRunId, overlayOf, planRollup, runJob } from "./rollup";

/** Days one recalculation may cover (each campaign-date is re-judged in one pass over its events). */
export const MAX_RECALCULATION_DAYS = 31;

export type RecalcEnv = RollupEnv & { BLOCKLIST: DurableObjectNamespace };

export interface RecalculationRequest {
  from: string;
  to: string;
  campaigns?: readonly string[];
  cause?: Extract<RollupCause, "recalculation" | "fraud_review">;
  finding_id?: string;
  marks?: readonly Mark[];
}

export class RecalculationError extends Error {
  constructor(
    readonly status: 404 | 409,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The UTC dates from `from` to `to`, inclusive. */
export function datesBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = dateStart(from)!; t <= dateStart(to)!; t += DAY) out.push(utcDate(t));
  return out;
}

const blocklist = (env: RecalcEnv) => (env.BLOCKLIST as unknown as DurableObjectNamespace<Blocklist>).getByName("global");

/** Which of the events' IPs and User-Agents the current blocklist holds (exact set, a few items per call). */
async function blockedOf(env: RecalcEnv, events: readonly RejudgeInput[]): Promise<(e: RejudgeInput) => Blocklisted> {
  const items = [...new Set(events.flatMap((e) => [ipItem(e.ip_hash), ...(e.user_agent ? [uaItem(e.user_agent)] : [])]))];
  const hits = new Set<string>();
  for (let i = 0; i < items.length; i += 500) {
    const slice = items.slice(i, i + 500);
    const found = await blocklist(env).contains(slice);
    for (const [j, item] of slice.entries()) if (found[j]) hits.add(item);
  }
  return (e) => ({ ip: hits.has(ipItem(e.ip_hash)), ua: e.user_agent ? hits.has(uaItem(e.user_agent)) : false });
}

/** A campaign-date's events, as archived (each receipt once). */
async function eventsOf(files: readonly FileRef[], campaign: string, date: string): Promise<RejudgeInput[]> {
  const start = dateStart(date)!;
  const out = new Map<string, RejudgeInput>();
  for (const f of files) {
    const opened = await openFile(f.bucket, f.file);
    await eachRowGroup(opened, REJUDGE_COLUMNS, (rows) => {
      for (const r of rows) {
        if (r.campaign_id === campaign && r.timestamp >= start && r.timestamp < start + DAY && !out.has(r.uid)) out.set(r.uid, r);
      }
    });
  }
  return [...out.values()];
}

const same = (a: Judged, b: Judged) => a.verdict === b.verdict && (a.reason ?? null) === (b.reason ?? null);

/** Re-judges one campaign-date: the overlay rows (verdicts that differ from what billing gives now) and the shadow rows. */
async function rejudgeCampaignDate(env: RecalcEnv, files: FileRef[], campaign: string, date: string, marks: readonly Mark[]) {
  let events: RejudgeInput[];
  try {
    events = await eventsOf(files, campaign, date);
  } catch (err) {
    if (!(err instanceof VanishedError)) throw err;
    // A compaction swapped an hour since the listing: list again.
    events = await eventsOf(await filesOf(env, date, campaign), campaign, date);
  }
  const current = await overlayOf(env, [date], campaign);
  const judged = rejudge(events, await blockedOf(env, events), current, marks);
  const changes: OverlayRow[] = [];
  const acc = new BillingAccumulator();
  for (const e of events) {
    const now = current.get(e.uid) ?? { verdict: e.verdict, reason: e.reason };
    const next = judged.get(e.uid)!;
    if (!same(now, next)) changes.push({ uid: e.uid, campaign_id: campaign, timestamp: e.timestamp, ...next });
    acc.add({ ...e, verdict: next.verdict });
  }
  return { events: events.length, changes, rows: acc.rows() };
}

/** Computes a recalculation (nothing billed changes): overlays wait in R2, shadow rows in D1. */
export async function recalculate(env: RecalcEnv, req: RecalculationRequest, now = Date.now()): Promise<RecalculationInfo> {
  const id = newRunId(now);
  const cause = req.cause ?? "recalculation";
  const version = await blocklist(env).version();
  const wanted = req.campaigns ? new Set(req.campaigns) : null;
  let events = 0;
  let changed = 0;
  let campaignDates = 0;
  for (const date of datesBetween(req.from, req.to)) {
    const byCampaign = new Map<string, FileRef[]>();
    for (const f of await filesOf(env, date)) {
      if (!f.campaign || (wanted && !wanted.has(f.campaign))) continue;
      byCampaign.set(f.campaign, [...(byCampaign.get(f.campaign) ?? []), f]);
    }
    for (const [campaign, files] of byCampaign) {
      const r = await rejudgeCampaignDate(env, files, campaign, date, req.marks ?? []);
      const eu = files.some((f) => f.bucket === env.ARCHIVE_EU);
      if (r.changes.length) await (eu ? env.ARCHIVE_EU : env.ARCHIVE).put(pendingOverlayKey(id, date, campaign), encodeOverlay(r.changes));
      await env.DB.prepare(
        `INSERT INTO recalculation_parts (recalculation_id, campaign_id, date, eu, events, changed, rows) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
        .bind(id, campaign, date, eu ? 1 : 0, r.events, r.changes.length, JSON.stringify(r.rows.map(({ campaign_id: _c, ...row }) => row)))
        .run();
      events += r.events;
      changed += r.changes.length;
      campaignDates++;
    }
  }
  const campaign_id = req.campaigns?.length === 1 ? req.campaigns[0] : null;
  await env.DB.prepare(
    `INSERT INTO recalculations (recalculation_id, cause, date_from, date_to, campaign_id, finding_id, blocklist_version, status,
       events, changed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
  )
    .bind(id, cause, req.from, req.to, campaign_id, req.finding_id ?? null, version, events, changed, now)
    .run();
  return {
    recalculation_id: id,
    cause,
    from: req.from,
    to: req.to,
    campaign_id,
    status: "pending",
    blocklist_version: version,
    events,
    changed,
    campaign_dates: campaignDates,
  };
}

type RecalculationRow = {
  recalculation_id: string;
  cause: RollupCause;
  date_from: string;
  date_to: string;
  campaign_id: string | null;
  blocklist_version: number;
  status: "pending" | "applied";
  events: number;
  changed: number;
  created_at: number;
};

/**
 * Applies a computed recalculation: its overlays go under raw/overlays/ (from then on every rollup and the reproduce
 * SQL read them), and its campaign-dates are rolled up again with its cause, each in one transaction. Refused when
 * another recalculation of the same campaign-dates was applied after this one was computed (its verdicts would be
 * judged against stale ones): recalculate again.
 */
export async function applyRecalculation(
  env: RecalcEnv,
  id: string,
  now = Date.now(),
): Promise<RecalculationInfo & { rows_written: number }> {
  const rec = await env.DB.prepare("SELECT * FROM recalculations WHERE recalculation_id = ?").bind(id).first<RecalculationRow>();
  if (!rec) throw new RecalculationError(404, "not_found", `Recalculation ${id} not found.`);
  if (rec.status !== "pending") throw new RecalculationError(409, "already_applied", `Recalculation ${id} was already applied.`);
  const stale = await env.DB.prepare(
    `SELECT r.recalculation_id FROM recalculations r JOIN recalculation_parts p ON p.recalculation_id = r.recalculation_id
     WHERE r.status = 'applied' AND r.applied_at >= ?2 AND EXISTS (SELECT 1 FROM recalculation_parts q
       WHERE q.recalculation_id = ?1 AND q.campaign_id = p.campaign_id AND q.date = p.date) LIMIT 1`,
  )
    .bind(id, rec.created_at)
    .first<{ recalculation_id: string }>();
  if (stale) {
    throw new RecalculationError(
      409,
      "stale",
      `Recalculation ${stale.recalculation_id} changed the same days after ${id} was computed; recalculate again.`,
    );
  }
  const { results: parts } = await env.DB.prepare(
    "SELECT campaign_id, date, eu, changed FROM recalculation_parts WHERE recalculation_id = ? AND changed > 0",
  )
    .bind(id)
    .all<{ campaign_id: string; date: string; eu: number; changed: number }>();
  for (const p of parts) {
    const bucket = p.eu ? env.ARCHIVE_EU : env.ARCHIVE;
    const pending = await bucket.get(pendingOverlayKey(id, p.date, p.campaign_id));
    if (!pending) throw new Error(`recalculation ${id}: overlay of ${p.campaign_id} ${p.date} is missing`);
    await bucket.put(overlayKey(p.date, p.campaign_id, id), await pending.arrayBuffer());
  }
  let rows_written = 0;
  const dates = [...new Set(parts.map((p) => p.date))].sort();
  if (dates.length) {
    const { jobs } = await planRollup(env, dates, now, {
      cause: rec.cause,
      campaigns: new Set(parts.map((p) => p.campaign_id)),
    });
    const planned = new Set(parts.map((p) => `${p.campaign_id}|${p.date}`));
    for (const job of jobs) if (planned.has(`${job.campaign_id}|${job.date}`)) rows_written += (await runJob(env, job, now)).rows_written;
  }
  await env.DB.prepare("UPDATE recalculations SET status = 'applied', applied_at = ? WHERE recalculation_id = ?").bind(now, id).run();
  for (const p of parts) await (p.eu ? env.ARCHIVE_EU : env.ARCHIVE).delete(pendingOverlayKey(id, p.date, p.campaign_id));
  return { ...summaryOf(rec, parts.length), status: "applied", rows_written };
}

function summaryOf(rec: RecalculationRow, campaignDates: number): RecalculationInfo {
  return {
    recalculation_id: rec.recalculation_id,
    cause: rec.cause,
    from: rec.date_from,
    to: rec.date_to,
    campaign_id: rec.campaign_id,
    status: rec.status,
    blocklist_version: rec.blocklist_version,
    events: rec.events,
    changed: rec.changed,
    campaign_dates: campaignDates,
  };
}

export type ShadowRow = Omit<BillingRow, "campaign_id">;
