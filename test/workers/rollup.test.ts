/**
 * Billing at any scale (issue 11): compaction of closed hours, the rollup fanned out in user partitions (through its
 * queue, too), the completeness watermark and restatements, against an oracle that sums the events themselves.
 */
import { describe, expect, it } from "vitest";
import { archiveFile, currentKeys, hourPartition } from "../../domain/archive-layout";
import { BillingAccumulator, BILLING_COUNTS, billingStatus, dateClosesAt, type BillingRow } from "../../domain/billing";
import type { RecordedEvent } from "../../domain/event";
import { DAY, HOUR, MINUTE, floorTo, utcDate } from "../../domain/time";
import { closedFolders, compactFolder } from "../../r2-batch/compact";
import { listObjects } from "../../r2-batch/files";
import { planRollup, runJob } from "../../r2-batch/rollup";
import { archiveMessage } from "../../workers/aggregator/archive";
import { makeEvent, uniq } from "./fixtures";
import { ADMIN, adminPost, call, json, testEnv, waitFor } from "./helpers";

const HOUR_START = floorTo(Date.now() - 2 * DAY, HOUR);
const DATE = utcDate(HOUR_START);
const folder = `raw/${hourPartition(HOUR_START)}/`;

let seq = 0;
const recorded = (over: Partial<RecordedEvent>): RecordedEvent => ({
  ...makeEvent({ timestamp: HOUR_START + 60_000, received_at: HOUR_START + 60_000, ...over }),
  verdict: "clean",
  reason: null,
  late: false,
  shard: 0,
  seq: seq++,
  ...over,
});

/** Archives each batch as the aggregator would: one message, one small file. */
async function archive(campaign: string, batches: RecordedEvent[][]): Promise<void> {
  for (const events of batches) await archiveMessage(testEnv.ARCHIVE, `${campaign}.0-${seq++}`, events, Date.now());
}

/** A campaign-hour's events: several users, countries, verdicts, event_id repeats across users and minutes. */
function scenario(campaign: string, n: number): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const t = HOUR_START + (i % 50) * MINUTE + i;
    events.push(
      recorded({
        campaign_id: campaign,
        timestamp: t,
        received_at: t + (i % 7) * 1000,
        user_id: i % 11 === 0 ? null : `u${i % 37}`,
        // Every 9th event reuses an event_id of another user and minute: billing takes it back as a repeat.
        event_id: i % 9 === 0 && i > 0 ? `e${i - 5}` : `e${i}`,
        country: ["US", "DE", "FR"][i % 3],
        device_type: i % 4 === 0 ? "mobile" : "desktop",
        // Ad groups split rows further; a user clicks in several groups (unique users are exact per row).
        ad_group_id: i % 5 === 0 ? null : `adg_${i % 2}`,
        verdict: i % 13 === 0 ? "invalid" : i % 17 === 0 ? "duplicate" : i % 19 === 0 ? "suspicious" : "clean",
        late: i % 23 === 0,
        cost_per_click: 0.25,
      }),
    );
  }
  return events;
}

function oracle(events: RecordedEvent[]): Omit<BillingRow, "campaign_id">[] {
  const acc = new BillingAccumulator();
  for (const e of events) acc.add(e);
  return acc.rows().map(({ campaign_id: _c, ...r }) => r);
}

async function billed(campaign: string) {
  const { results } = await testEnv.DB.prepare(
    `SELECT date, country, device_type, NULLIF(ad_group_id, '') AS ad_group_id, ${BILLING_COUNTS.join(", ")} FROM billing_daily
     WHERE campaign_id = ? ORDER BY date, country, device_type, ad_group_id`,
  )
    .bind(campaign)
    .all();
  return results;
}

async function rollupNow(eventsPerJob?: number) {
  const { jobs } = await planRollup(testEnv, [DATE], Date.now(), { eventsPerJob });
  for (const job of jobs) await runJob(testEnv, job);
  return jobs;
}

const chunk = <T>(xs: T[], n: number) => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

describe("compaction", () => {
  it("merges a closed hour's small files into one sorted part, and billing is the same before, during and after", async () => {
    const campaign = uniq("cmp");
    const events = scenario(campaign, 600);
    await archive(campaign, chunk(events, 7));
    const mine = async () => (await listObjects(testEnv.ARCHIVE, folder)).filter((o) => o.key.includes(campaign));
    const before = await mine();
    expect(before.length).toBe(86);
    await rollupNow();
    expect(await billed(campaign)).toEqual(oracle(events));

    // An hour still open for on-time events is left alone.
    expect(closedFolders(HOUR_START + HOUR, 3_600_000)).not.toContain(folder);
    expect(closedFolders(HOUR_START + 2 * HOUR + 15 * MINUTE, 3_600_000)).toContain(folder);
    const r = await compactFolder(testEnv.ARCHIVE, folder, Date.now());
    expect(r.events).toBeGreaterThanOrEqual(600);
    const after = await mine();
    expect(after.map((o) => archiveFile(o.key)!.kind).sort()).toEqual(["compacted", "manifest"]);
    expect(after.find((o) => o.key.endsWith(".parquet"))!.events).toBe(600);
    await rollupNow();
    expect(await billed(campaign)).toEqual(oracle(events));

    // Late events after compaction: small files again, billed at once, merged with the part by the next round.
    const late = [
      recorded({ campaign_id: campaign, user_id: "late-user", late: true, received_at: Date.now() }),
      recorded({ campaign_id: campaign, user_id: "u1", event_id: "e3", received_at: Date.now() }),
    ];
    await archive(campaign, [[late[0]], [late[1]]]);
    await rollupNow();
    const withLate = await billed(campaign);
    expect(withLate).toEqual(oracle([...events, ...late]));
    expect(withLate).not.toEqual(oracle(events));
    await compactFolder(testEnv.ARCHIVE, folder, Date.now() + 1);
    const merged = await mine();
    expect(merged.filter((o) => o.key.endsWith(".parquet")).length).toBe(1);
    expect(merged.filter((o) => o.key.endsWith(".json")).length).toBe(1);
    await rollupNow();
    expect(await billed(campaign)).toEqual(withLate);
  });

  it("runs on demand through POST /v1/admin/compact, over every closed hour, and leaves open hours alone", async () => {
    const campaign = uniq("cmp");
    const closed = scenario(campaign, 40);
    const now = Date.now();
    const open = closed.map((e) => ({ ...e, uid: `${e.uid}-open`, timestamp: now, received_at: now }));
    await archive(campaign, [...chunk(closed, 10), ...chunk(open, 10)]);
    const res = await call("http://query.test/v1/admin/compact", { method: "POST", headers: ADMIN, body: "{}" });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ skipped: 0 });
    const kinds = async (prefix: string) =>
      (await listObjects(testEnv.ARCHIVE, prefix))
        .filter((o) => o.key.includes(campaign))
        .map((o) => archiveFile(o.key)!.kind)
        .sort();
    expect(await kinds(folder)).toEqual(["compacted", "manifest"]);
    expect(await kinds(`raw/${hourPartition(now)}/`)).toEqual(["small", "small", "small", "small"]);
  });

  it("reads each event once at every step of a swap: uncommitted parts are ignored, covered files skipped", async () => {
    const keys = ["raw/x/c.0-1.parquet", "raw/x/c.0-2.parquet", "raw/x/c.c9-0.parquet", "raw/x/c.c9.json", "raw/x/d.0-3.parquet"];
    // Parts written, not committed (a crash before the manifest): the small files are current.
    expect(currentKeys(keys, [])).toEqual(["raw/x/c.0-1.parquet", "raw/x/c.0-2.parquet", "raw/x/d.0-3.parquet"]);
    // Committed, small files not yet deleted: the part is current, what it covers is not.
    const m = { campaign: "c", round: "9", parts: ["c.c9-0.parquet"], covers: ["c.0-1.parquet", "c.0-2.parquet"], events: 2 };
    expect(currentKeys(keys, [m])).toEqual(["raw/x/c.c9-0.parquet", "raw/x/d.0-3.parquet"]);
    // A redelivered message rewriting a covered file later is still covered; a new one is not.
    expect(currentKeys([...keys, "raw/x/c.0-4.parquet"], [m])).toEqual([
      "raw/x/c.c9-0.parquet",
      "raw/x/d.0-3.parquet",
      "raw/x/c.0-4.parquet",
    ]);
  });
});

describe("rollup fan-out", () => {
  it("splits a campaign-day into user partitions whose sums are exact (unique users, event_id repeats across users)", async () => {
    const campaign = uniq("cmp");
    const events = scenario(campaign, 900);
    await archive(campaign, chunk(events, 50));
    const jobs = await rollupNow(200);
    expect(jobs.filter((j) => j.campaign_id === campaign).length).toBe(5);
    expect(await billed(campaign)).toEqual(oracle(events));
    // Compacted (sorted by user bucket, row groups skipped by range), still exact.
    await compactFolder(testEnv.ARCHIVE, folder, Date.now());
    await rollupNow(200);
    expect(await billed(campaign)).toEqual(oracle(events));
  });

  it("lists again when a compaction swaps an hour under a planned job, and an older run finishing late changes nothing", async () => {
    const campaign = uniq("cmp");
    const events = scenario(campaign, 300);
    await archive(campaign, chunk(events, 20));
    // Planned with the small files in its messages; the hour is compacted before the jobs run.
    const older = await planRollup(testEnv, [DATE], Date.now());
    await compactFolder(testEnv.ARCHIVE, folder, Date.now());
    const late = recorded({ campaign_id: campaign, user_id: "late", late: true });
    await archive(campaign, [[late]]);
    const newer = await planRollup(testEnv, [DATE], Date.now() + 1);
    for (const job of newer.jobs.filter((j) => j.campaign_id === campaign)) await runJob(testEnv, job);
    expect(await billed(campaign)).toEqual(oracle([...events, late]));
    // The older run's jobs find their files gone, list again, and finish; their rows do not replace the newer run's.
    const results = [];
    for (const job of older.jobs.filter((j) => j.campaign_id === campaign)) results.push(await runJob(testEnv, job));
    expect(results.every((r) => r.finalized)).toBe(true);
    expect(await billed(campaign)).toEqual(oracle([...events, late]));
  });

  it("compacts through the queue too: one job per closed hour folder with small files", async () => {
    const campaign = uniq("cmp");
    await archive(campaign, chunk(scenario(campaign, 30), 10));
    const batch = testEnv.BATCH as unknown as { enqueueCompaction(): Promise<number> };
    expect(await batch.enqueueCompaction()).toBeGreaterThanOrEqual(1);
    await waitFor(
      "the folder compacted by the queue's consumer",
      async () => (await listObjects(testEnv.ARCHIVE, folder)).filter((o) => o.key.includes(campaign)).length === 2,
      20_000,
    );
  });

  it("runs through the rollup queue: the cron's path", async () => {
    const campaign = uniq("cmp");
    const events = scenario(campaign, 120);
    // Today: the cron's default dates.
    const now = Date.now();
    const today = events.map((e) => ({ ...e, timestamp: now - 1000, received_at: now - 1000 }));
    await archive(campaign, chunk(today, 40));
    const batch = testEnv.BATCH as unknown as { enqueueRollup(): Promise<{ run_id: string; jobs: number }> };
    const { jobs } = await batch.enqueueRollup();
    expect(jobs).toBeGreaterThanOrEqual(1);
    await waitFor("the queue's jobs", async () => (await billed(campaign)).length > 0, 20_000);
    expect((await billed(campaign)).map(({ date: _d, ...r }) => r)).toEqual(oracle(today).map(({ date: _d, ...r }) => r));
    // The next run leaves the campaign alone: its files have not changed.
    const { run_id } = await batch.enqueueRollup();
    const planned = await testEnv.DB.prepare("SELECT count(*) AS n FROM rollup_jobs WHERE run_id = ? AND campaign_id = ?")
      .bind(run_id, campaign)
      .first<{ n: number }>();
    expect(planned?.n).toBe(0);
  });
});

describe("watermark and restatements", () => {
  it("is final only when the date is closed and everything received until then was archived", () => {
    const closes = dateClosesAt(DATE);
    expect(billingStatus(DATE, closes - 1, closes)).toBe("provisional");
    expect(billingStatus(DATE, closes + 1, closes - 1)).toBe("provisional");
    expect(billingStatus(DATE, closes + 1, closes)).toBe("final");
  });

  it("records every change to a published figure, with its cause, and shows advertisers only their own", async () => {
    const advertiser = await adminPost<{ advertiser_id: string; api_key: string }>("advertisers", { name: "Restated" });
    const other = await adminPost<{ advertiser_id: string; api_key: string }>("advertisers", { name: "Other" });
    const { campaign_id: campaign } = await adminPost<{ campaign_id: string }>("campaigns", {
      advertiser_id: advertiser.advertiser_id,
      name: "c",
      cost_per_click: 0.25,
    });
    const first = scenario(campaign, 30).map((e) => ({ ...e, country: "US", device_type: "desktop" }));
    await archive(campaign, [first]);
    await adminPost("rollup", { date: DATE });
    const published = await billed(campaign);
    await adminPost("rollup", { date: DATE });
    const none = await call(`http://query.test/v1/billing/restatements?campaign_id=${campaign}`, { headers: ADMIN });
    expect((await json<{ restatements: unknown[] }>(none)).restatements).toEqual([]);

    // A late click of ad group adg_1: that group's row alone is restated.
    const late = recorded({
      campaign_id: campaign,
      country: "US",
      device_type: "desktop",
      ad_group_id: "adg_1",
      user_id: "new",
      late: true,
    });
    await archive(campaign, [[late], [recorded({ campaign_id: campaign, country: "NL", device_type: "mobile" })]]);
    await adminPost("rollup", { date: DATE });
    const res = await call(`http://query.test/v1/billing/restatements?campaign_id=${campaign}`, {
      headers: { Authorization: `Bearer ${advertiser.api_key}` },
    });
    const { restatements } = await json<{
      restatements: {
        country: string;
        ad_group_id: string | null;
        old: { clicks: number } | null;
        new: { clicks: number };
        cause: string;
      }[];
    }>(res);
    const before = published.find((r) => r.ad_group_id === "adg_1")!;
    expect(restatements.map((r) => [r.country, r.ad_group_id, r.old?.clicks ?? null, r.new.clicks, r.cause])).toEqual([
      ["NL", null, null, 1, "late_events"],
      ["US", "adg_1", before.clicks, Number(before.clicks) + 1, "late_events"],
    ]);
    const theirs = await call("http://query.test/v1/billing/restatements", { headers: { Authorization: `Bearer ${other.api_key}` } });
    expect((await json<{ restatements: unknown[] }>(theirs)).restatements).toEqual([]);
    const notTheirs = await call(`http://query.test/v1/billing/restatements?campaign_id=${campaign}`, {
      headers: { Authorization: `Bearer ${other.api_key}` },
    });
    expect(notTheirs.status).toBe(404);
  });
});
