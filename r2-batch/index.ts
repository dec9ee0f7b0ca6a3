/**
 * edgeclick-batch: the cron Worker that compacts the R2 archive and turns it into billing rows in D1. The cron sends
 * a run's jobs to the `edgeclick-rollup` queue, which this Worker also consumes (in parallel, one job per message);
 * the query Worker's `POST /v1/admin/rollup` calls `rollup()` over a service binding, which runs the same jobs here
 * and answers when they are done.
 */
import { logLine } from "../domain/log";
import { WorkerEntrypoint } from "cloudflare:workers";
import { errorResponse } from "../domain/errors";
import {
  type BatchAnswer,
  type BatchRpc,
  type FraudReviewResult,
  type RollupResult,
  type SpoolBacklog,
  dateClosesAt,
} from "../domain/billing";
import { applyFinding, dailyReview, reviewFraud } from "./fraud";
import { RecalculationError, applyRecalculation, recalculate } from "./recalculate";
import { DAY, MAX_EVENT_AGE_MS, utcDate } from "../domain/time";
import { type CompactionResult, closedFolders, compactFolder, needsCompaction } from "./compact";
import { type RollupEnv, type RollupJob, byDate, datesToRoll, planRollup, runJob } from "./rollup";
import { spoolBacklog, sweepSpool } from "./spool";
import { type StatementFile, statementFiles } from "./statements";

/** How long one compaction may hold its lease (the cron runs every 10 minutes). */
const COMPACTION_LEASE_MS = 9 * 60_000;
const DEFAULT_ALLOWED_LATENESS_MS = 3_600_000;

function allowedLateness(env: { ALLOWED_LATENESS_MS?: string }): number {
  const n = Number(env.ALLOWED_LATENESS_MS);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_ALLOWED_LATENESS_MS;
}

/** Takes a named lease in D1 if nobody holds it: two compactions of one hour must never overlap. */
async function takeLease(db: D1Database, name: string, holder: string, now: number, ttl: number): Promise<boolean> {
  const r = await db
    .prepare(
      `INSERT INTO batch_leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (name) DO UPDATE SET holder = ?2, expires_at = ?3 WHERE batch_leases.expires_at < ?4`,
    )
    .bind(name, holder, now + ttl, now)
    .run();
  return (r.meta.changes ?? 0) > 0;
}

/** The dates a run covers and the dirty markers it may delete once their jobs are planned. */
async function defaultDates(env: RollupEnv, now: number) {
  const [main, eu] = await Promise.all([datesToRoll(env.ARCHIVE, now), datesToRoll(env.ARCHIVE_EU, now)]);
  // Dates whose window has closed since their rows were computed: one more run makes them final (watermark permitting).
  const { results } = await env.DB.prepare(
    "SELECT DISTINCT date FROM billing_daily WHERE status = 'provisional' AND date <= ? ORDER BY date DESC LIMIT 31",
  )
    .bind(utcDate(now - MAX_EVENT_AGE_MS - DAY))
    .all<{ date: string }>();
  const closing = results.map((r) => r.date).filter((d) => dateClosesAt(d) <= now);
  return { dates: [...new Set([...main.keys(), ...eu.keys(), ...closing])].sort(), main, eu };
}

/** Compaction of one closed hour folder, sent by the cron to the same queue as the rollup's jobs. */
export interface CompactJob {
  kind: "compact";
  folder: string;
  eu: boolean;
}
export type BatchJob = RollupJob | CompactJob;

/** Compacts one folder unless another compaction of it holds its lease. */
async function compactLeased(env: RollupEnv, job: CompactJob, now: number): Promise<CompactionResult | null> {
  const name = `compact:${job.eu ? "eu" : "main"}:${job.folder}`;
  const holder = crypto.randomUUID();
  if (!(await takeLease(env.DB, name, holder, now, COMPACTION_LEASE_MS))) return null;
  try {
    return await compactFolder(job.eu ? env.ARCHIVE_EU : env.ARCHIVE, job.folder, now);
  } finally {
    await env.DB.prepare("DELETE FROM batch_leases WHERE name = ? AND holder = ?").bind(name, holder).run();
  }
}

/** Runs one job message (a rollup partition or a folder's compaction); errors go back to the queue for a retry. */
export async function consumeRollup(batch: MessageBatch<BatchJob>, env: RollupEnv): Promise<void> {
  for (const msg of batch.messages) {
    try {
      const body = msg.body;
      if ("kind" in body && body.kind === "compact") {
        const r = await compactLeased(env, body, Date.now());
        msg.ack();
        if (r?.campaigns) logLine("info", "archive compaction", { folder: body.folder, ...r });
        continue;
      }
      const r = await runJob(env, body as RollupJob);
      msg.ack();
      if (r.finalized) logLine("info", "billing rollup finalized", { campaign_id: r.campaign_id, date: r.date, run_id: r.run_id });
    } catch (err) {
      // A file can vanish under a job when compaction swaps its hour; the retry lists the hour again.
      logLine("warn", "rollup job failed; will retry", { job: msg.body, attempts: msg.attempts, error: err });
      msg.retry({ delaySeconds: Math.min(60, 2 ** msg.attempts) });
    }
  }
}

/** A recalculation's refusal (unknown, already applied, stale) as data: an Error crosses RPC without its fields. */
async function answer<T>(fn: () => Promise<T>): Promise<BatchAnswer<T>> {
  try {
    return { ok: await fn() };
  } catch (err) {
    if (err instanceof RecalculationError) return { error: { status: err.status, code: err.code, message: err.message } };
    throw err;
  }
}

export default class Batch extends WorkerEntrypoint<BatchEnv> implements BatchRpc {
  /**
   * Rolls up one date, or by default today, yesterday and any older date that received late events: plans a run
   * and runs its jobs here, one after another (each holds at most one user partition of a campaign-day), then
   * answers. Every campaign-date of the answer is final in D1 when it returns.
   */
  async rollup(date?: string): Promise<{ rows: number; dates: RollupResult[]; run_id: string; jobs: number }> {
    const now = Date.now();
    const plan = date ? { dates: [date], main: null, eu: null } : await defaultDates(this.env, now);
    const { run_id, jobs } = await planRollup(this.env, plan.dates, now);
    const results = [];
    for (const job of jobs) results.push(await this.#retrying(job));
    await this.#clearMarkers(plan.main, plan.eu);
    const dates = byDate(results);
    for (const d of plan.dates)
      if (!dates.some((r) => r.date === d)) dates.push({ date: d, files: 0, events: 0, rows: 0, rows_written: 0 });
    dates.sort((a, b) => a.date.localeCompare(b.date));
    return { rows: dates.reduce((n, r) => n + r.rows, 0), dates, run_id, jobs: jobs.length };
  }

  async #retrying(job: RollupJob) {
    try {
      return await runJob(this.env, job);
    } catch (err) {
      // A compaction may have swapped an hour between the listing and the read: list again once.
      logLine("info", "rollup job retried", { job, error: err });
      return runJob(this.env, job);
    }
  }

  /** Only the markers seen before planning: a late event archived meanwhile leaves a new one. */
  async #clearMarkers(main: Map<string, string[]> | null, eu: Map<string, string[]> | null): Promise<void> {
    for (const [bucket, markers] of [
      [this.env.ARCHIVE, main],
      [this.env.ARCHIVE_EU, eu],
    ] as const) {
      const keys = [...(markers?.values() ?? [])].flat();
      for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
    }
  }

  /** Plans a run and sends its jobs to the rollup queue (the cron's way: Workers run them in parallel). */
  async enqueueRollup(): Promise<{ run_id: string; jobs: number }> {
    const now = Date.now();
    const plan = await defaultDates(this.env, now);
    // Campaign-dates whose files have not changed since their last run are left as they are.
    const { run_id, jobs } = await planRollup(this.env, plan.dates, now, { skipUnchanged: true });
    await this.#send(jobs);
    // A week of job records is enough to see what ran (a run's partition rows go when its campaign-date finalizes).
    await this.env.DB.prepare("DELETE FROM rollup_jobs WHERE created_at < ?")
      .bind(now - 7 * DAY)
      .run();
    await this.#clearMarkers(plan.main, plan.eu);
    return { run_id, jobs: jobs.length };
  }

  async #send(jobs: readonly BatchJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += 100) await this.env.ROLLUP.sendBatch(jobs.slice(i, i + 100).map((body) => ({ body })));
  }

  /** Sends one compaction job per closed hour folder that has small files (the cron's way: in parallel, one folder each). */
  async enqueueCompaction(): Promise<number> {
    const now = Date.now();
    const jobs: CompactJob[] = [];
    for (const folder of closedFolders(now, allowedLateness(this.env))) {
      if (await needsCompaction(this.env.ARCHIVE, folder)) jobs.push({ kind: "compact", folder, eu: false });
      if (await needsCompaction(this.env.ARCHIVE_EU, folder)) jobs.push({ kind: "compact", folder, eu: true });
    }
    await this.#send(jobs);
    return jobs.length;
  }

  /** Compacts every closed hour (both buckets) here, one after another; a folder another compaction holds is skipped. */
  async compact(): Promise<CompactionResult & { skipped: number }> {
    const now = Date.now();
    const total = { folders: 0, campaigns: 0, files_before: 0, files_after: 0, events: 0, skipped: 0 };
    for (const folder of closedFolders(now, allowedLateness(this.env))) {
      for (const eu of [false, true]) {
        if (!(await needsCompaction(eu ? this.env.ARCHIVE_EU : this.env.ARCHIVE, folder))) continue;
        const r = await compactLeased(this.env, { kind: "compact", folder, eu }, now);
        if (!r) total.skipped++;
        else for (const k of Object.keys(r) as (keyof CompactionResult)[]) total[k] += r[k];
      }
    }
    return total;
  }

  /** The archive files (keys, sizes, SHA-256) of a campaign's dates, for its statement. */
  async statementFiles(campaignId: string, dates: string[]): Promise<StatementFile[]> {
    return statementFiles(this.env, campaignId, dates);
  }

  async recalculate(req: { from: string; to: string; campaign_id?: string }) {
    return answer(() => recalculate(this.env, { from: req.from, to: req.to, campaigns: req.campaign_id ? [req.campaign_id] : undefined }));
  }

  async applyRecalculation(id: string) {
    return answer(() => applyRecalculation(this.env, id));
  }

  async fraudReview(from: string, to: string): Promise<FraudReviewResult> {
    return reviewFraud(this.env, from, to);
  }

  /** The cron's fraud review of yesterday, once a day (null: not due, or already done); `now` is the cron's time. */
  async dailyFraudReview(now = Date.now()): Promise<FraudReviewResult | null> {
    const r = await dailyReview(this.env, now);
    if (r) logLine(r.capped ? "warn" : "info", "daily fraud review", { ...r });
    return r;
  }

  async applyFinding(id: string) {
    return answer(() => applyFinding(this.env, id));
  }

  /** Counts events that were spooled to R2 while the campaign objects and the queue were both down. */
  async sweep(): Promise<{ swept: number; events: number; failed: number }> {
    return sweepSpool(this.env);
  }

  /** What waits in the spool, for the ops view. */
  async spool(): Promise<SpoolBacklog> {
    return spoolBacklog(this.env);
  }

  override async scheduled(controller: ScheduledController): Promise<void> {
    const spool = await this.sweep();
    if (spool.swept || spool.failed) logLine("info", "spool sweep", spool);
    const folders = await this.enqueueCompaction();
    logLine("info", "billing jobs enqueued", { compaction_folders: folders, ...(await this.enqueueRollup()) });
    // Last: a review that throws must not hold back billing; the next cron claims the date again after its lease.
    await this.dailyFraudReview(controller.scheduledTime);
  }

  override async queue(batch: MessageBatch<BatchJob>): Promise<void> {
    await consumeRollup(batch, this.env);
  }

  override async fetch(): Promise<Response> {
    return errorResponse(404, "not_found", "edgeclick-batch has no HTTP routes; it runs on its cron and over RPC.");
  }
}
