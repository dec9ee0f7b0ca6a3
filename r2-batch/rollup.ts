/**
 * The billing rollup, fanned out: a run is one job per (campaign, date), split into user partitions when the
 * campaign-day is large (EVENTS_PER_JOB), so each job holds a bounded number of events whatever the day's size.
 * The cron sends the jobs to the `edgeclick-rollup` queue, where Workers run them in parallel; `POST
 * /v1/admin/rollup` runs the same jobs one after another in its own invocation and answers when they are done.
 * Dates are local dates of the advertiser's time zone (UTC by default): a zoned campaign-date reads the two UTC day
 * folders its day overlaps and keeps the events of its day. A job streams its files row group by row group (compacted parts are sorted by user bucket, so it skips the row
 * groups of other partitions), writes its partition's rows to `billing_parts` (idempotently: keyed by run and
 * partition), and the job that finishes a campaign-date last swaps the sums into `billing_daily` in one D1
 * transaction, recording every changed figure as a restatement.
 */
import { toHex } from "../domain/crypto";
import { archiveFile, DIRTY_PREFIX, dayPrefix, overlayDatePrefix } from "../domain/archive-layout";
import {
  BILLING_COLUMNS,
  BILLING_COUNTS,
  BILLING_KEY,
  BillingAccumulator,
  billingStatus,
  dateClosesAt,
  partitionRange,
  type RollupResult,
  userBucket,
} from "../domain/billing";
import { OVERLAY_COLUMNS, decodeArchive, metadataValue, readRowGroup } from "../domain/parquet";
import type { Judged } from "../domain/recalculation";
import { campaignTimeZones, getCampaign } from "../domain/registry";
import { maxShards } from "../domain/sharding";
import { insertRows } from "../domain/sql";
import { DAY, utcDate, utcDatesOf, zoneDatesOf, zoneDay } from "../domain/time";
import { campaignStub } from "../durable-objects/client";
import { BUCKET_RANGES_KEY } from "./compact";
import { type ArchiveObject, VanishedError, dayFiles, eachRowGroup, listObjects, openFile } from "./files";
import { spoolBacklog } from "./spool";

/** Events one job reads into memory at most (its user partition of a campaign-day): bench:rollup measures its peak. */
export const EVENTS_PER_JOB = 50_000;
/** A job's file list travels in its message up to this size (a queue message takes 128 KB); beyond, the job lists. */
const INLINE_FILES_BYTES = 64 * 1024;
/** Files a job fetches at once. */
const PARALLEL_READS = 6;

export type RollupEnv = { ARCHIVE: R2Bucket; ARCHIVE_EU: R2Bucket; DB: D1Database; CAMPAIGN: DurableObjectNamespace };

/** Why a run recomputes published figures; restatements carry it. */
export type RollupCause = "late_events" | "recalculation" | "fraud_review";

export interface RollupJob {
  run_id: string;
  campaign_id: string;
  /** A local date of `time_zone`. */
  date: string;
  /** The advertiser's zone when the run was planned (absent in jobs planned before zones: UTC). */
  time_zone?: string;
  part: number;
  parts: number;
  archived_through: number;
  cause: RollupCause;
  /** SHA-256 of the planned file list (keys and sizes); null when the job lists its files itself. */
  files_sha256: string | null;
  /** The current files the planner listed for this campaign-date (`eu`: in ARCHIVE_EU); absent: the job lists them. */
  files?: { key: string; size: number; eu: boolean }[];
}

export type FileRef = { bucket: R2Bucket; file: ArchiveObject; campaign: string };

export interface JobResult extends Omit<RollupJob, "files"> {
  files: number;
  events: number;
  rows: number;
  rows_written: number;
  /** This job finished its campaign-date: billing_daily now holds the run's rows. */
  finalized: boolean;
}

async function filesSha256(files: readonly { key: string; size: number }[]): Promise<string> {
  const text = [...files]
    .map((f) => `${f.key}:${f.size}`)
    .sort()
    .join("\n");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return toHex(digest);
}

/** Runs sort by their id: the time they were planned, then a random tail. */
export function newRunId(now: number): string {
  return `${String(now).padStart(15, "0")}-${crypto.randomUUID().slice(0, 8)}`;
}

const buckets = (env: RollupEnv) => [env.ARCHIVE, env.ARCHIVE_EU];

/** The current files of a date in both jurisdictions' buckets (billing rows are aggregates, with no event-level data). */
export async function filesOf(env: RollupEnv, date: string, campaign?: string): Promise<FileRef[]> {
  const out: FileRef[] = [];
  for (const bucket of buckets(env)) {
    for (const file of await dayFiles(bucket, date, campaign)) out.push({ bucket, file, campaign: archiveFile(file.key)?.campaign ?? "" });
  }
  return out;
}

/**
 * Completeness watermark of a campaign: the receive time before which every event of it was archived, asked of
 * its objects (their oldest unarchived log row) and the spool, before any file is listed.
 */
async function archivedThrough(env: RollupEnv, campaignId: string, spoolOldest: number | null, now: number): Promise<number> {
  let through = Math.min(now, spoolOldest ?? now);
  const campaign = campaignId ? await getCampaign(env.DB, campaignId) : null;
  if (!campaign) return through;
  const shards = maxShards(campaign.shard_plan);
  const backlogs = await Promise.all(
    Array.from({ length: shards }, (_, s) => campaignStub(env.CAMPAIGN, campaignId, s, campaign.jurisdiction).backlog()),
  );
  for (const b of backlogs) if (b.oldest_unarchived_at !== null) through = Math.min(through, b.oldest_unarchived_at);
  return through;
}

/** One UTC date's current files: per campaign (by name), and those whose name does not say it, with their events per campaign. */
interface DayListing {
  named: Map<string, NonNullable<RollupJob["files"]>>;
  events: Map<string, number>;
  odd: boolean;
}

async function listDay(env: RollupEnv, date: string): Promise<DayListing> {
  const named = new Map<string, NonNullable<RollupJob["files"]>>();
  const events = new Map<string, number>();
  const files = await filesOf(env, date);
  const odd = files.filter((f) => !f.campaign);
  for (const f of files) {
    if (!f.campaign) continue;
    let refs = named.get(f.campaign);
    if (!refs) named.set(f.campaign, (refs = []));
    refs.push({ key: f.file.key, size: f.file.size, eu: f.bucket === env.ARCHIVE_EU });
    events.set(f.campaign, (events.get(f.campaign) ?? 0) + (f.file.events ?? Math.ceil(f.file.size / 40)));
  }
  // A file whose name does not say its campaign (not written by the aggregator): its rows say it.
  for (const f of odd) {
    const opened = await openFile(f.bucket, f.file);
    await eachRowGroup(opened, ["campaign_id"], (rows) => {
      for (const r of rows) events.set(r.campaign_id, (events.get(r.campaign_id) ?? 0) + 1);
    });
  }
  return { named, events, odd: odd.length > 0 };
}

/**
 * Plans a run over the UTC dates `dates` (archive day folders): one campaign-date per campaign with files there and
 * each local date of its advertiser's zone that the UTC date overlaps. Its jobs are recorded in D1 before any is sent
 * or run.
 */
export async function planRollup(
  env: RollupEnv,
  dates: readonly string[],
  now: number,
  {
    cause = "late_events",
    eventsPerJob = EVENTS_PER_JOB,
    skipUnchanged = false,
    campaigns,
  }: { cause?: RollupCause; eventsPerJob?: number; skipUnchanged?: boolean; campaigns?: ReadonlySet<string> } = {},
) {
  const run_id = newRunId(now);
  const spool = await spoolBacklog(env);
  const watermarks = new Map<string, Promise<number>>();
  // The watermark must be taken before the listing the jobs read: an event archived after it is not in it. So the
  // campaigns are found by a first listing (names only), their objects asked, and only then the files listed.
  for (const date of dates) {
    for (const bucket of buckets(env)) {
      for (const o of await listObjects(bucket, dayPrefix(date))) {
        const campaign = archiveFile(o.key)?.campaign;
        if (campaign && !watermarks.has(campaign)) watermarks.set(campaign, archivedThrough(env, campaign, spool.oldest_received_at, now));
      }
    }
  }
  await Promise.all(watermarks.values());
  const days = new Map<string, Promise<DayListing>>();
  const day = (date: string) => {
    let d = days.get(date);
    if (!d) days.set(date, (d = listDay(env, date)));
    return d;
  };
  const overlayDays = new Map<string, Promise<Map<string, { key: string; size: number; eu: boolean }[]>>>();
  const overlaysOn = (date: string) => {
    let d = overlayDays.get(date);
    if (!d) overlayDays.set(date, (d = overlayFiles(env, date)));
    return d;
  };
  // The campaign-dates to roll up: a zoned campaign's UTC date holds events of two local dates, each read whole.
  const found = new Map<string, Set<string>>();
  for (const date of dates) {
    for (const campaign_id of (await day(date)).events.keys()) {
      if (campaigns && !campaigns.has(campaign_id)) continue;
      let utc = found.get(campaign_id);
      if (!utc) found.set(campaign_id, (utc = new Set()));
      utc.add(date);
    }
  }
  const zones = await campaignTimeZones(env.DB, [...found.keys()]);
  const targets: { campaign_id: string; date: string; zone: string }[] = [];
  for (const [campaign_id, utc] of found) {
    const zone = zones.get(campaign_id) ?? "UTC";
    const local = new Set([...utc].flatMap((d) => zoneDatesOf(d, zone)));
    for (const date of local) targets.push({ campaign_id, date, zone });
  }
  targets.sort((a, b) => a.date.localeCompare(b.date) || a.campaign_id.localeCompare(b.campaign_id));
  const last = new Map<string, { files_sha256: string | null; archived_through: number }>();
  if (skipUnchanged) {
    for (const date of new Set(targets.map((t) => t.date))) {
      const { results } = await env.DB.prepare("SELECT campaign_id, files_sha256, archived_through FROM rollup_state WHERE date = ?")
        .bind(date)
        .all<{ campaign_id: string; files_sha256: string | null; archived_through: number }>();
      for (const r of results) last.set(`${r.campaign_id}|${date}`, r);
    }
  }
  const jobs: RollupJob[] = [];
  for (const { campaign_id, date, zone } of targets) {
    let events = 0;
    let odd = false;
    const refs: NonNullable<RollupJob["files"]> = [];
    // Overlays count as files: a campaign-date whose overlay changed is rolled up again.
    const overlays: { key: string; size: number }[] = [];
    for (const utc of utcDatesOf(date, zone)) {
      const listing = await day(utc);
      events += listing.events.get(campaign_id) ?? 0;
      odd ||= listing.odd;
      refs.push(...(listing.named.get(campaign_id) ?? []));
      overlays.push(...((await overlaysOn(utc)).get(campaign_id) ?? []));
    }
    const fingerprint = odd ? null : await filesSha256([...refs, ...overlays]);
    const before = last.get(`${campaign_id}|${date}`);
    // Unchanged files give unchanged rows; only a date that has closed since needs one more run to become final.
    const closing = before && billingStatus(date, now, before.archived_through, zone) === "provisional" && dateClosesAt(date, zone) <= now;
    if (fingerprint && before?.files_sha256 === fingerprint && !closing) continue;
    // A campaign first seen in the second listing (its first file landed in between), or only inside an odd file:
    // nothing was asked before its files were listed, so nothing is promised (the next run asks).
    if (!watermarks.has(campaign_id)) watermarks.set(campaign_id, Promise.resolve(0));
    const parts = Math.max(1, Math.ceil(events / eventsPerJob));
    const at = await watermarks.get(campaign_id)!;
    const inline = !odd && JSON.stringify(refs).length <= INLINE_FILES_BYTES ? { files: refs } : {};
    for (let part = 0; part < parts; part++) {
      jobs.push({
        run_id,
        campaign_id,
        date,
        time_zone: zone,
        part,
        parts,
        archived_through: at,
        cause,
        files_sha256: fingerprint,
        ...inline,
      });
    }
  }
  const cols = ["run_id", "campaign_id", "date", "part", "parts", "archived_through", "cause", "files_sha256", "created_at"];
  const statements = insertRows(
    "rollup_jobs",
    cols,
    jobs.map((j) => [j.run_id, j.campaign_id, j.date, j.part, j.parts, j.archived_through, j.cause, j.files_sha256, now]),
  ).map((s) => env.DB.prepare(s.sql).bind(...s.params));
  for (let i = 0; i < statements.length; i += 50) await env.DB.batch(statements.slice(i, i + 50));
  return { run_id, jobs };
}

const FOREIGN_COLUMNS = ["uid", "event_id", "campaign_id", "received_at", "verdict", "user_id", "timestamp"] as const;

/** Row groups of a file that may hold buckets in [lo, hi): all of them, unless the file says each one's range. */
function rowGroupsIn(metadata: Parameters<typeof metadataValue>[0], lo: number, hi: number, inside: boolean): (g: number) => boolean {
  const value = metadataValue(metadata, BUCKET_RANGES_KEY);
  if (!value) return () => true;
  const ranges = JSON.parse(value) as [number, number][];
  // inside: groups that overlap [lo, hi); otherwise groups with any bucket outside it.
  return inside ? (g) => ranges[g][1] >= lo && ranges[g][0] < hi : (g) => ranges[g][0] < lo || ranges[g][1] >= hi;
}

/** The applied overlay files of a date in both buckets, per campaign (domain/archive-layout.ts), sorted by key. */
async function overlayFiles(env: RollupEnv, date: string): Promise<Map<string, { key: string; size: number; eu: boolean }[]>> {
  const out = new Map<string, { key: string; size: number; eu: boolean }[]>();
  for (const bucket of buckets(env)) {
    for (const o of await listObjects(bucket, overlayDatePrefix(date))) {
      const campaign = o.key.slice(overlayDatePrefix(date).length).split("/")[0];
      let list = out.get(campaign);
      if (!list) out.set(campaign, (list = []));
      list.push({ key: o.key, size: o.size, eu: bucket === env.ARCHIVE_EU });
    }
  }
  for (const list of out.values()) list.sort((a, b) => a.key.localeCompare(b.key));
  return out;
}

const fileName = (key: string) => key.slice(key.lastIndexOf("/") + 1);

/**
 * The verdicts billing gives a campaign's events of some UTC dates where they differ from the recorded ones: the
 * newest overlay naming a uid wins (recalculation ids, the file names, sort by time). Only changed events are in an
 * overlay, so this stays small.
 */
export async function overlayOf(env: RollupEnv, dates: readonly string[], campaign: string): Promise<Map<string, Judged>> {
  const out = new Map<string, Judged>();
  const files: { key: string; eu: boolean }[] = [];
  for (const date of dates) files.push(...((await overlayFiles(env, date)).get(campaign) ?? []));
  files.sort((a, b) => fileName(a.key).localeCompare(fileName(b.key)));
  for (const f of files) {
    const obj = await (f.eu ? env.ARCHIVE_EU : env.ARCHIVE).get(f.key);
    if (!obj) continue;
    for (const r of await decodeArchive(await obj.arrayBuffer(), OVERLAY_COLUMNS)) {
      if (r.campaign_id === campaign) out.set(r.uid, { verdict: r.verdict, reason: r.reason });
    }
  }
  return out;
}

/** Reads one job's events (its campaign, date and user partition) and writes its rows; the last job finalizes. */
export async function runJob(env: RollupEnv, job: RollupJob, now = Date.now()): Promise<JobResult> {
  const utc = utcDatesOf(job.date, job.time_zone ?? "UTC");
  const list = async () => (await Promise.all(utc.map((d) => filesOf(env, d, job.campaign_id)))).flat();
  const given = job.files?.map((f) => ({
    bucket: f.eu ? env.ARCHIVE_EU : env.ARCHIVE,
    file: { key: f.key, size: f.size, events: null },
    campaign: job.campaign_id,
  }));
  let files = given ?? (await list());
  const overlay = await overlayOf(env, utc, job.campaign_id);
  let acc: BillingAccumulator;
  try {
    acc = await accumulate(job, files, overlay);
  } catch (err) {
    if (!(err instanceof VanishedError)) throw err;
    // A compaction swapped an hour since the listing: list again (once; a second swap within one job is an error).
    files = await list();
    acc = await accumulate(job, files, overlay);
  }
  return record(env, job, files.length, acc, now);
}

/** The job's partition of its campaign-date, read from `files`, with the verdicts of its applied overlays. */
async function accumulate(job: RollupJob, files: readonly FileRef[], overlay: ReadonlyMap<string, Judged>): Promise<BillingAccumulator> {
  const judged = <R extends { uid: string; verdict: string }>(r: R): R => {
    const o = overlay.get(r.uid);
    return o ? { ...r, verdict: o.verdict } : r;
  };
  const [lo, hi] = partitionRange(job.part, job.parts);
  const mine = (e: { user_id?: string | null; event_id: string }) => {
    if (job.parts === 1) return true;
    const b = userBucket(e);
    return b >= lo && b < hi;
  };
  const zone = job.time_zone ?? "UTC";
  const acc = new BillingAccumulator(zone);
  // The local day: its UTC day folders also hold events of the days either side.
  const [start, end] = zoneDay(job.date, zone);
  const onDate = (t: number) => t >= start && t < end;
  const forEachFile = async (fn: (opened: Awaited<ReturnType<typeof openFile>>) => Promise<void>): Promise<void> => {
    for (let i = 0; i < files.length; i += PARALLEL_READS) {
      const opened = await Promise.all(files.slice(i, i + PARALLEL_READS).map((f) => openFile(f.bucket, f.file)));
      for (const o of opened) await fn(o);
    }
  };
  await forEachFile((o) =>
    eachRowGroup(
      o,
      BILLING_COLUMNS,
      (rows) => {
        for (const r of rows) if (r.campaign_id === job.campaign_id && onDate(r.timestamp) && mine(r)) acc.add(judged(r));
      },
      rowGroupsIn(o.metadata, lo, hi, true),
    ),
  );
  // The event_id rule crosses users: events of other partitions that share an event_id with ours, read in a few
  // columns only. (Exact; its cost grows with the partitions of a day, see bench/RESULTS.md.)
  if (job.parts > 1) {
    await forEachFile(async (o) => {
      const want = rowGroupsIn(o.metadata, lo, hi, false);
      for (let g = 0; g < o.metadata.row_groups.length; g++) {
        if (!want(g)) continue;
        // The event_id column first: most row groups share none with this partition, and cost one column.
        const ids = await readRowGroup(o.file, o.metadata, g, ["event_id"]);
        if (!ids.some((r) => acc.holds(job.campaign_id, job.date, r.event_id))) continue;
        for (const r of await readRowGroup(o.file, o.metadata, g, FOREIGN_COLUMNS)) {
          if (r.campaign_id !== job.campaign_id || mine(r)) continue;
          if (onDate(r.timestamp) && acc.holds(r.campaign_id, job.date, r.event_id)) acc.addForeign({ ...judged(r), date: job.date });
        }
      }
    });
  }
  return acc;
}

/** Writes a job's rows (replacing any earlier attempt's), marks it done, and finalizes when it was the last. */
async function record(env: RollupEnv, job: RollupJob, fileCount: number, acc: BillingAccumulator, now: number): Promise<JobResult> {
  const rows = acc.rows();
  const key = [job.run_id, job.campaign_id, job.date, job.part];
  const cols = ["run_id", "campaign_id", "date", "part", ...BILLING_KEY, ...BILLING_COUNTS];
  const statements = [
    env.DB.prepare("DELETE FROM billing_parts WHERE run_id = ? AND campaign_id = ? AND date = ? AND part = ?").bind(...key),
    ...insertRows(
      "billing_parts",
      cols,
      rows.map((r) => [...key, ...BILLING_KEY.map((k) => r[k] ?? ""), ...BILLING_COUNTS.map((k) => r[k])]),
    ).map((s) => env.DB.prepare(s.sql).bind(...s.params)),
    env.DB.prepare(
      "UPDATE rollup_jobs SET files = ?, events = ?, rows = ?, done_at = ? WHERE run_id = ? AND campaign_id = ? AND date = ? AND part = ?",
    ).bind(fileCount, acc.events, rows.length, now, ...key),
  ];
  const written = await env.DB.batch(statements);
  let rows_written = written.reduce((n, r) => n + (r.meta?.rows_written ?? 0), 0);
  const open = await env.DB.prepare(
    "SELECT count(*) AS n FROM rollup_jobs WHERE run_id = ? AND campaign_id = ? AND date = ? AND done_at IS NULL",
  )
    .bind(job.run_id, job.campaign_id, job.date)
    .first<{ n: number }>();
  const finalized = (open?.n ?? 0) === 0;
  if (finalized) rows_written += await finalize(env, job, now);
  const { files: _listed, ...rest } = job;
  return { ...rest, files: fileCount, events: acc.events, rows: rows.length, rows_written, finalized };
}

const sum = (cols: readonly string[]) => cols.map((c) => `SUM(${c}) AS ${c}`).join(", ");
const json = (alias: string) => `json_object(${BILLING_COUNTS.map((c) => `'${c}', ${alias}.${c}`).join(", ")})`;

/**
 * Swaps a finished campaign-date's sums into billing_daily, in one transaction: restatements for every published
 * row that changes (or appears, or goes), the rows, the run's state. Each statement holds only while no run as new
 * as this one has finalized the campaign-date, so a repeat or an older run finishing late changes nothing.
 */
async function finalize(env: RollupEnv, job: RollupJob, now: number): Promise<number> {
  const zone = job.time_zone ?? "UTC";
  const status = billingStatus(job.date, now, job.archived_through, zone);
  // ?1 run, ?2 campaign, ?3 date
  const current = "NOT EXISTS (SELECT 1 FROM rollup_state s WHERE s.campaign_id = ?2 AND s.date = ?3 AND s.run_id >= ?1)";
  const keys = BILLING_KEY.join(", ");
  const fresh = `SELECT ${keys}, ${sum(BILLING_COUNTS)} FROM billing_parts
    WHERE run_id = ?1 AND campaign_id = ?2 AND date = ?3 GROUP BY ${keys}`;
  const differs = BILLING_COUNTS.map((c) => `o.${c} IS NOT n.${c}`).join(" OR ");
  const on = (t: string) => BILLING_KEY.map((c) => `${t}.${c} = k.${c}`).join(" AND ");
  const statements = [
    env.DB.prepare(
      `WITH n AS (${fresh}),
        o AS (SELECT * FROM billing_daily WHERE campaign_id = ?2 AND date = ?3),
        k AS (SELECT ${keys} FROM n UNION SELECT ${keys} FROM o)
      INSERT OR IGNORE INTO billing_restatements
        (run_id, campaign_id, date, ${keys}, old_values, new_values, cause, recorded_at)
      SELECT ?1, ?2, ?3, ${BILLING_KEY.map((c) => `k.${c}`).join(", ")},
        CASE WHEN o.country IS NULL THEN NULL ELSE ${json("o")} END,
        CASE WHEN n.country IS NULL THEN NULL ELSE ${json("n")} END, ?4, ?5
      FROM k LEFT JOIN o ON ${on("o")} LEFT JOIN n ON ${on("n")}
      WHERE EXISTS (SELECT 1 FROM o) AND (${differs}) AND ${current}`,
    ).bind(job.run_id, job.campaign_id, job.date, job.cause, now),
    env.DB.prepare(`DELETE FROM billing_daily WHERE campaign_id = ?2 AND date = ?3 AND ${current}`).bind(
      job.run_id,
      job.campaign_id,
      job.date,
    ),
    env.DB.prepare(
      `INSERT INTO billing_daily
        (campaign_id, date, ${keys}, ${BILLING_COUNTS.join(", ")}, status, computed_at, archived_through, time_zone)
      SELECT ?2, ?3, ${keys}, ${BILLING_COUNTS.join(", ")}, ?4, ?5, ?6, ?7 FROM (${fresh}) WHERE ${current}`,
    ).bind(job.run_id, job.campaign_id, job.date, status, now, job.archived_through, zone),
    env.DB.prepare(
      `INSERT OR REPLACE INTO rollup_runs (date, files, events, rows, computed_at)
      SELECT ?3, SUM(files), SUM(events), (SELECT count(*) FROM billing_daily WHERE date = ?3), ?4
      FROM rollup_jobs WHERE run_id = ?1 AND date = ?3 AND done_at IS NOT NULL AND ${current}
      HAVING count(*) > 0`,
    ).bind(job.run_id, job.campaign_id, job.date, now),
    env.DB.prepare(
      `INSERT OR REPLACE INTO rollup_state (campaign_id, date, run_id, archived_through, computed_at, files_sha256)
      SELECT ?2, ?3, ?1, ?4, ?5, ?6 WHERE ${current}`,
    ).bind(job.run_id, job.campaign_id, job.date, job.archived_through, now, job.files_sha256),
    env.DB.prepare("DELETE FROM billing_parts WHERE campaign_id = ?2 AND date = ?3 AND run_id <= ?1").bind(
      job.run_id,
      job.campaign_id,
      job.date,
    ),
  ];
  const results = await env.DB.batch(statements);
  return results.reduce((n, r) => n + (r.meta?.rows_written ?? 0), 0);
}

/** A run's jobs grouped per date, as POST /v1/admin/rollup answers them. */
export function byDate(results: readonly JobResult[]): RollupResult[] {
  const dates = new Map<string, RollupResult>();
  for (const r of results) {
    const d = dates.get(r.date) ?? { date: r.date, files: 0, events: 0, rows: 0, rows_written: 0 };
    // Every partition of a campaign-day reads the same files.
    if (r.part === 0) d.files += r.files;
    d.events += r.events;
    d.rows += r.rows;
    d.rows_written += r.rows_written;
    dates.set(r.date, d);
  }
  return [...dates.values()].sort((a, b) => a.date.localeCompare(b.date));
}

/** Dates a rollup covers by default: today and yesterday (UTC), plus older dates that received late events. */
export async function datesToRoll(bucket: R2Bucket, now = Date.now()): Promise<Map<string, string[]>> {
  const dates = new Map<string, string[]>([
    [utcDate(now - DAY), []],
    [utcDate(now), []],
  ]);
  for (const { key } of await listObjects(bucket, DIRTY_PREFIX)) {
    const date = key.slice(DIRTY_PREFIX.length, DIRTY_PREFIX.length + 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) continue;
    dates.set(date, [...(dates.get(date) ?? []), key]);
  }
  return new Map([...dates].sort(([a], [b]) => a.localeCompare(b)));
}
