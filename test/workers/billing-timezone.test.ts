/**
 * Billing in the advertiser's time zone (issue 11, item 8): billing dates are local dates, a local day is read from the
 * UTC day folders it overlaps (files written as the aggregator writes them, so event times can be anything), unique
 * users and event_id repeats stay exact across the UTC day boundary, DST days of 23 and 25 hours.
 */
import { describe, expect, it } from "vitest";
import { BILLING_COUNTS } from "../../domain/billing";
import type { RecordedEvent } from "../../domain/event";
import { utcDatesOf, zoneDatesOf, zoneDay } from "../../domain/time";
import { planRollup, runJob } from "../../r2-batch/rollup";
import { archiveMessage } from "../../workers/aggregator/archive";
import { makeEvent } from "./fixtures";
import { ADMIN, adminPost, call, json, testEnv } from "./helpers";

let seq = 0;
const click = (campaign_id: string, iso: string, over: Partial<RecordedEvent> = {}): RecordedEvent => {
  const t = Date.parse(iso);
  return {
    ...makeEvent({ campaign_id, timestamp: t, received_at: t + 1000, country: "NL", device_type: "desktop", cost_per_click: 0.5 }),
    ad_group_id: null,
    verdict: "clean",
    reason: null,
    late: false,
    shard: 0,
    seq: seq++,
    ...over,
  };
};

async function campaignIn(time_zone: string) {
  const adv = await adminPost<{ advertiser_id: string; api_key: string }>("advertisers", { name: `in ${time_zone}`, time_zone });
  const { campaign_id } = await adminPost<{ campaign_id: string }>("campaigns", {
    advertiser_id: adv.advertiser_id,
    name: "c",
    cost_per_click: 0.5,
  });
  return { ...adv, campaign_id };
}

/** Archives events as the aggregator would: one message, one small file per hour of event time. */
async function archive(campaign: string, events: RecordedEvent[]): Promise<void> {
  await archiveMessage(testEnv.ARCHIVE, `${campaign}.0-${seq++}`, events, Date.now());
}

/** A rollup of the UTC dates (archive day folders) given, as the cron or POST /v1/admin/rollup plans it. */
async function rollup(utcDates: string[], campaign: string) {
  const { jobs } = await planRollup(testEnv, utcDates, Date.now(), { campaigns: new Set([campaign]) });
  for (const job of jobs) await runJob(testEnv, job);
  return jobs;
}

async function billed(campaign: string) {
  const { results } = await testEnv.DB.prepare(
    `SELECT date, time_zone, ${BILLING_COUNTS.join(", ")} FROM billing_daily WHERE campaign_id = ? ORDER BY date`,
  )
    .bind(campaign)
    .all<Record<string, string | number>>();
  return results;
}

describe("zoned days (unit)", () => {
  it("maps local days to the UTC day folders they overlap and back, DST days included", () => {
    expect(utcDatesOf("2026-12-01", "UTC")).toEqual(["2026-12-01"]);
    expect(utcDatesOf("2026-12-01", "Europe/Amsterdam")).toEqual(["2026-11-30", "2026-12-01"]);
    expect(utcDatesOf("2026-12-01", "America/New_York")).toEqual(["2026-12-01", "2026-12-02"]);
    expect(zoneDatesOf("2026-11-30", "Europe/Amsterdam")).toEqual(["2026-11-30", "2026-12-01"]);
    expect(zoneDatesOf("2026-11-30", "UTC")).toEqual(["2026-11-30"]);
    const [s, e] = zoneDay("2026-10-25", "Europe/Amsterdam");
    expect([new Date(s).toISOString(), (e - s) / 3_600_000]).toEqual(["2026-10-24T22:00:00.000Z", 25]);
    const [s2, e2] = zoneDay("2026-03-29", "Europe/Amsterdam");
    expect([new Date(s2).toISOString(), (e2 - s2) / 3_600_000]).toEqual(["2026-03-28T23:00:00.000Z", 23]);
  });
});

describe("billing in the advertiser's time zone", () => {
  it("bills a UTC+1 advertiser's 23:30 UTC click on the next local date, unique users and repeats exact across UTC days", async () => {
    const zoned = await campaignIn("Europe/Amsterdam");
    const plain = await campaignIn("UTC");
    const day = (c: string) => [
      click(c, "2026-11-30T22:30:00Z", { user_id: "u1" }), // 23:30 on 30 November in Amsterdam
      click(c, "2026-11-30T23:30:00Z", { user_id: "u1", event_id: `${c}-r` }), // 00:30 on 1 December
      click(c, "2026-12-01T10:00:00Z", { user_id: "u2", event_id: `${c}-r` }), // the same event_id later that local day
      click(c, "2026-12-01T22:59:00Z", { user_id: "u1" }), // 23:59 on 1 December
      click(c, "2026-12-01T23:00:00Z", { user_id: "u3" }), // 00:00 on 2 December
    ];
    for (const c of [zoned.campaign_id, plain.campaign_id]) await archive(c, day(c));
    // Only the first UTC folder is planned (a dirty date): both local dates it overlaps are rolled up, each read whole.
    const jobs = await rollup(["2026-11-30"], zoned.campaign_id);
    expect(jobs.map((j) => [j.date, j.time_zone])).toEqual([
      ["2026-11-30", "Europe/Amsterdam"],
      ["2026-12-01", "Europe/Amsterdam"],
    ]);
    await rollup(["2026-12-01"], zoned.campaign_id);
    await rollup(["2026-11-30", "2026-12-01"], plain.campaign_id);
    const pick = (rows: Record<string, string | number>[]) =>
      rows.map((r) => [r.date, r.time_zone, r.clicks, r.unique_users, r.duplicates, r.event_id_repeats, r.cost_micros]);
    expect(pick(await billed(zoned.campaign_id))).toEqual([
      ["2026-11-30", "Europe/Amsterdam", 1, 1, 0, 0, 500_000],
      // u1 twice and u2, whose click repeats u1's event_id of the previous UTC day: 2 users, 1 repeat.
      ["2026-12-01", "Europe/Amsterdam", 2, 1, 1, 1, 1_000_000],
      ["2026-12-02", "Europe/Amsterdam", 1, 1, 0, 0, 500_000],
    ]);
    // A UTC advertiser's rows are UTC dates, as before.
    expect(pick(await billed(plain.campaign_id))).toEqual([
      ["2026-11-30", "UTC", 2, 1, 0, 0, 1_000_000],
      ["2026-12-01", "UTC", 3, 3, 0, 0, 1_500_000],
    ]);

    // /v1/billing: dates are local dates, and each row says its zone.
    const res = await call(`http://query.test/v1/billing?campaign_id=${zoned.campaign_id}&from=2026-12-01&to=2026-12-02`, {
      headers: { Authorization: `Bearer ${zoned.api_key}` },
    });
    const body = await json<{ rows: { date: string; time_zone: string; clicks: number }[] }>(res);
    expect(body.rows.map((r) => [r.date, r.time_zone, r.clicks])).toEqual([["2026-12-01", "Europe/Amsterdam", 2]]);

    // Billed days cannot be re-dated: the zone is fixed once billing exists (the same zone is no change).
    const patch = (time_zone: string) =>
      call(`http://query.test/v1/admin/advertisers/${zoned.advertiser_id}`, {
        method: "PATCH",
        headers: { ...ADMIN, "Content-Type": "application/json" },
        body: JSON.stringify({ time_zone }),
      });
    const refused = await patch("America/New_York");
    expect(refused.status).toBe(409);
    expect((await json<{ error: { code: string } }>(refused)).error.code).toBe("billing_exists");
    expect((await patch("Europe/Amsterdam")).status).toBe(200);
  });

  it("bills DST days of 25 and 23 local hours from exactly their events", async () => {
    const { campaign_id: c } = await campaignIn("Europe/Amsterdam");
    await archive(c, [
      // 25 October 2026: 00:00 CEST (22:00Z the day before) to 00:00 CET on the 26th (23:00Z): 25 hours.
      click(c, "2026-10-24T21:59:00Z", { user_id: "a" }), // 23:59 on the 24th
      click(c, "2026-10-24T22:00:00Z", { user_id: "b" }), // 00:00 on the 25th
      click(c, "2026-10-25T22:30:00Z", { user_id: "c" }), // 23:30 on the 25th: its 25th hour
      click(c, "2026-10-25T23:00:00Z", { user_id: "d" }), // 00:00 on the 26th
      // 29 March 2026: 00:00 CET (23:00Z the day before) to 00:00 CEST on the 30th (22:00Z): 23 hours.
      click(c, "2026-03-28T22:59:00Z", { user_id: "e" }), // 23:59 on the 28th
      click(c, "2026-03-28T23:00:00Z", { user_id: "f" }), // 00:00 on the 29th
      click(c, "2026-03-29T21:59:00Z", { user_id: "g" }), // 23:59 on the 29th
      click(c, "2026-03-29T22:00:00Z", { user_id: "h" }), // 00:00 on the 30th
    ]);
    await rollup(["2026-03-28", "2026-03-29", "2026-10-24", "2026-10-25"], c);
    const rows = await billed(c);
    expect(rows.map((r) => [r.date, r.clicks, r.unique_users])).toEqual([
      ["2026-03-28", 1, 1],
      ["2026-03-29", 2, 2],
      ["2026-03-30", 1, 1],
      ["2026-10-24", 1, 1],
      ["2026-10-25", 2, 2],
      ["2026-10-26", 1, 1],
    ]);
  });
});
