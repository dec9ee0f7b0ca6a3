/**
 * Recalculation and batch fraud review (issue 11, items 5 and 6), through HTTP against the real R2, D1, queue and
 * objects: re-judged verdicts change billing only when applied, with restatements, and stay through later rollups.
 */
import { describe, expect, it } from "vitest";
import { BILLING_COUNTS } from "../../domain/billing";
import { hashIp } from "../../domain/crypto";
import type { RecordedEvent } from "../../domain/event";
import { DAY, HOUR, floorTo, utcDate } from "../../domain/time";
import { archiveMessage } from "../../workers/aggregator/archive";
import { makeEvent } from "./fixtures";
import { ADMIN, adminPost, call, json, testEnv } from "./helpers";

const HOUR_START = floorTo(Date.now() - 3 * DAY, HOUR);
const DATE = utcDate(HOUR_START);

let seq = 0;
const recorded = (over: Partial<RecordedEvent>): RecordedEvent => {
  const t = HOUR_START + 60_000 + seq * 1000;
  return {
    ...makeEvent({ timestamp: t, received_at: t, ...over }),
    verdict: "clean",
    reason: null,
    late: false,
    shard: 0,
    seq: seq++,
    ...over,
  };
};

async function archive(campaign: string, events: RecordedEvent[]): Promise<void> {
  await archiveMessage(testEnv.ARCHIVE, `${campaign}.0-${seq++}`, events, Date.now());
}

async function campaign(name: string): Promise<string> {
  const adv = await adminPost("advertisers", { name });
  return (await adminPost("campaigns", { advertiser_id: adv.advertiser_id, name, cost_per_click: 0.5 })).campaign_id;
}

async function billed(campaignId: string) {
  const { results } = await testEnv.DB.prepare(
    `SELECT country, device_type, ${BILLING_COUNTS.join(", ")} FROM billing_daily WHERE campaign_id = ? AND date = ? ORDER BY country`,
  )
    .bind(campaignId, DATE)
    .all<Record<string, number>>();
  return results;
}

const post = (path: string, body: unknown) =>
  call(`http://query.test${path}`, { method: "POST", headers: ADMIN, body: JSON.stringify(body) });

async function restatements(campaignId: string) {
  const res = await call(`http://query.test/v1/billing/restatements?campaign_id=${campaignId}`, { headers: ADMIN });
  return (await json<{ restatements: { cause: string; old: { clicks: number } | null; new: { clicks: number } | null }[] }>(res))
    .restatements;
}

describe("recalculation", () => {
  it("takes a newly blocklisted IP's clicks out of billing only when applied, with restatements, and later rollups keep it", async () => {
    const c = await campaign("Recalc");
    const ip = "198.51.100.201";
    const bad = await hashIp(testEnv.IP_HASH_KEY, ip);
    const events = [
      ...Array.from({ length: 3 }, () => recorded({ campaign_id: c, ip_hash: bad, country: "US" })),
      ...Array.from({ length: 4 }, () => recorded({ campaign_id: c, country: "US" })),
      recorded({ campaign_id: c, country: "DE" }),
    ];
    await archive(c, events.slice(0, 5));
    await archive(c, events.slice(5));
    await adminPost("rollup", { date: DATE });
    const before = await billed(c);
    expect(before.map((r) => [r.country, r.clicks, r.invalid_clicks])).toEqual([
      ["DE", 1, 0],
      ["US", 7, 0],
    ]);

    // Bad input changes nothing.
    const counted = async () => (await testEnv.DB.prepare("SELECT count(*) AS n FROM recalculations").first<{ n: number }>())!.n;
    const n0 = await counted();
    expect((await post("/v1/admin/recalculate", { from: DATE, to: "2020-01-01" })).status).toBe(400);
    expect((await post("/v1/admin/recalculate", { from: DATE })).status).toBe(400);
    expect((await post("/v1/admin/recalculate", { from: "2020-01-01", to: "2020-06-01" })).status).toBe(400);
    expect((await post("/v1/admin/recalculate", { from: DATE, to: DATE, campaign_id: "cmp_nope" })).status).toBe(404);
    expect(await counted()).toBe(n0);

    await adminPost("blocklist", { ips: [ip] });
    const res = await post("/v1/admin/recalculate", { from: DATE, to: DATE, campaign_id: c });
    expect(res.status).toBe(201);
    const rec = await json<{ recalculation_id: string; status: string; changed: number; events: number }>(res);
    expect(rec).toMatchObject({ status: "pending", changed: 3, events: 8 });
    // Shadow only: nothing billed changed.
    expect(await billed(c)).toEqual(before);

    const view = await call(`http://query.test/v1/admin/recalculations/${rec.recalculation_id}`, { headers: ADMIN });
    expect(view.status).toBe(200);
    const { differences } = await json<{
      differences: { date: string; group: Record<string, string>; old: Record<string, number>; new: Record<string, number> }[];
    }>(view);
    expect(
      differences.map((d) => [d.date, d.group.country, d.old.clicks, d.new.clicks, d.old.invalid_clicks, d.new.invalid_clicks]),
    ).toEqual([[DATE, "US", 7, 4, 0, 3]]);

    const applied = await post(`/v1/admin/recalculations/${rec.recalculation_id}/apply`, {});
    expect(applied.status).toBe(200);
    expect(await json(applied)).toMatchObject({ status: "applied" });
    const after = (await billed(c)).map((r) => [r.country, r.clicks, r.invalid_clicks, r.cost_micros]);
    expect(after).toEqual([
      ["DE", 1, 0, 500_000],
      ["US", 4, 3, 2_000_000],
    ]);
    expect((await restatements(c)).map((r) => [r.cause, r.old?.clicks, r.new?.clicks])).toEqual([["recalculation", 7, 4]]);
    // No event was changed: the archived verdicts are as recorded.
    expect((await post(`/v1/admin/recalculations/${rec.recalculation_id}/apply`, {})).status).toBe(409);

    // A later rollup (a late event arrives) reads the overlay: the credit stays, the late click is added.
    await archive(c, [recorded({ campaign_id: c, country: "US", late: true })]);
    await adminPost("rollup", { date: DATE });
    expect((await billed(c)).map((r) => [r.country, r.clicks, r.invalid_clicks])).toEqual([
      ["DE", 1, 0],
      ["US", 5, 3],
    ]);
    // So does a new recalculation: nothing left to change.
    const again = await json<{ changed: number }>(await post("/v1/admin/recalculate", { from: DATE, to: DATE, campaign_id: c }));
    expect(again.changed).toBe(0);
  });
});

describe("batch fraud review", () => {
  it("finds a click farm across campaigns with its evidence and, applied, credits every campaign", async () => {
    const campaigns = await Promise.all(Array.from({ length: 5 }, (_, i) => campaign(`Farm ${i}`)));
    const farm = `farm-${crypto.randomUUID()}`;
    for (const c of campaigns) {
      await archive(c, [
        recorded({ campaign_id: c, ip_hash: farm, publisher_id: "pub_farm" }),
        recorded({ campaign_id: c, ip_hash: farm, publisher_id: "pub_farm" }),
        recorded({ campaign_id: c }),
      ]);
    }
    await adminPost("rollup", { date: DATE });
    for (const c of campaigns) expect((await billed(c)).map((r) => [r.clicks, r.invalid_clicks])).toEqual([[3, 0]]);

    expect((await post("/v1/admin/fraud-review", { from: DATE, to: utcDate(HOUR_START - DAY) })).status).toBe(400);
    const review = await post("/v1/admin/fraud-review", { from: DATE, to: DATE });
    expect(review.status).toBe(200);
    const list = await call("http://query.test/v1/admin/fraud-review?status=open", { headers: ADMIN });
    const { findings } = await json<{
      findings: { finding_id: string; kind: string; subject: string; window_start: string; evidence: Record<string, unknown> }[];
    }>(list);
    const found = findings.find((f) => f.subject === `ip_hash:${farm}`);
    expect(found).toMatchObject({
      kind: "click_farm",
      window_start: new Date(HOUR_START).toISOString(),
      evidence: {
        field: "ip_hash",
        value: farm,
        events: 10,
        campaigns: Object.fromEntries(campaigns.map((c) => [c, 2])),
        publishers: { pub_farm: 10 },
      },
    });
    // Still nothing credited until applied.
    for (const c of campaigns) expect((await billed(c))[0].clicks).toBe(3);

    const applied = await post(`/v1/admin/fraud-review/${found!.finding_id}/apply`, {});
    expect(applied.status).toBe(200);
    expect(await json(applied)).toMatchObject({ cause: "fraud_review", status: "applied", changed: 10 });
    for (const c of campaigns) {
      expect((await billed(c)).map((r) => [r.clicks, r.invalid_clicks, r.cost_micros])).toEqual([[1, 2, 500_000]]);
      expect((await restatements(c)).map((r) => [r.cause, r.old?.clicks, r.new?.clicks])).toEqual([["fraud_review", 3, 1]]);
    }
    expect((await post(`/v1/admin/fraud-review/${found!.finding_id}/apply`, {})).status).toBe(409);
    // A later recalculation keeps the finding (batch reasons are decisions, not rules to run again), and so does a rollup.
    const again = await json<{ changed: number }>(await post("/v1/admin/recalculate", { from: DATE, to: DATE, campaign_id: campaigns[0] }));
    expect(again.changed).toBe(0);
    await adminPost("rollup", { date: DATE });
    expect((await billed(campaigns[0])).map((r) => [r.clicks, r.invalid_clicks])).toEqual([[1, 2]]);
  });
});
