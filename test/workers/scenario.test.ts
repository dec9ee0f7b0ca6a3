/**
 * Thousands of events — resent event_ids, double clicks (some from another IP), bots, blocklisted IPs
 * and User-Agents, one IP over 100 a minute, one over 10 a second, geo mismatches, late events — posted
 * in order to three campaigns (one of them on four shards), then every number the API reports is
 * compared with an independent calculation (scenario.ts): real-time minute/hour/day metrics,
 * breakdowns, filters, counts, top-N, live totals, billing rows and reconciliation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, adminPost, call, json, waitFor } from "./helpers";
import {
  BLOCKED_IP,
  BLOCKED_UA,
  HOUR,
  MINUTE,
  buildScenario,
  groupBy,
  judgeAll,
  totals,
  type AdInfo,
  type Expected,
  type Judged,
  type Post,
} from "./scenario";

interface Bucket extends Expected {
  timestamp: string;
  late_events: number;
  group?: string | null;
}

let ads: AdInfo[];
let keys: Record<string, string>;
let judged: Judged[];
let now: number;
let campaigns: { campaign_id: string; advertiser_id: string }[];

const floor = (t: number, step: number) => Math.floor(t / step) * step;
const iso = (t: number) => new Date(t).toISOString();
const live = (j: Judged[]) => j.filter((x) => !x.late);

function expectSameNumbers(actual: Bucket, expected: Expected, where: string) {
  expect({ ...actual, unique_users: 0, timestamp: 0, late_events: 0, group: 0 }, where).toEqual({
    ...expected,
    cost: expect.closeTo(expected.cost, 6),
    unique_users: 0,
    timestamp: 0,
    late_events: 0,
    group: 0,
  });
  // Real-time unique users are a HyperLogLog estimate: within 2 % (and within 1 for tiny sets).
  expect(Math.abs(actual.unique_users - expected.unique_users), `${where} unique_users`).toBeLessThanOrEqual(
    Math.max(1, expected.unique_users * 0.02),
  );
}

async function get<T>(path: string, key: string): Promise<T> {
  const res = await call(`http://query.test${path}`, { headers: { Authorization: `Bearer ${key}` } });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return json<T>(res);
}

beforeAll(async () => {
  const a = await adminPost("advertisers", { name: "Scenario A" });
  const b = await adminPost("advertisers", { name: "Scenario B" });
  keys = { [a.advertiser_id]: a.api_key, [b.advertiser_id]: b.api_key };
  const specs = [
    { adv: a.advertiser_id, cost: 0.3, shards: 1, formats: ["banner", "video", null] },
    { adv: a.advertiser_id, cost: 0.5, shards: 4, formats: ["native", "banner"] },
    { adv: b.advertiser_id, cost: 0.2, shards: 1, formats: [null, "video"] },
  ];
  ads = [];
  campaigns = [];
  for (const [i, s] of specs.entries()) {
    const c = await adminPost("campaigns", { advertiser_id: s.adv, name: `Scenario ${i}`, cost_per_click: s.cost, shards: s.shards });
    campaigns.push({ campaign_id: c.campaign_id, advertiser_id: s.adv });
    for (const f of s.formats) {
      const ad = await adminPost("ads", {
        campaign_id: c.campaign_id,
        landing_url: "https://example.com/",
        ...(f ? { ad_format: f } : {}),
      });
      ads.push({ ad_id: ad.ad_id, campaign_id: c.campaign_id, advertiser_id: s.adv, cost_per_click: s.cost, ad_format: f });
    }
  }
  const pub = await adminPost("publishers", { name: "Scenario network" });
  await adminPost("blocklist", { ips: [BLOCKED_IP], user_agents: [BLOCKED_UA] });

  now = Date.now();
  const posts: Post[] = buildScenario(ads, now);
  // The third campaign gets a daily budget of about 60 % of what its busiest day would bill without one, set with
  // PATCH before the events are posted: part of its clicks are over the budget, in posting order.
  const budgeted = campaigns[2].campaign_id;
  const spentByDay = new Map<number, number>();
  for (const j of judgeAll(
    posts,
    ads,
    posts.map(() => now),
  )) {
    if (j.ad.campaign_id !== budgeted || j.cost === 0) continue;
    const d = Math.floor(j.e.timestamp / (24 * HOUR));
    spentByDay.set(d, (spentByDay.get(d) ?? 0) + j.cost);
  }
  const daily_budget = Math.round(0.6 * Math.max(...spentByDay.values()) * 100) / 100;
  const patched = await call(`http://query.test/v1/admin/campaigns/${budgeted}`, {
    method: "PATCH",
    headers: ADMIN,
    body: JSON.stringify({ daily_budget }),
  });
  expect(patched.status).toBe(200);
  for (const ad of ads) if (ad.campaign_id === budgeted) ad.daily_budget = daily_budget;
  const receivedAt: number[] = [];
  for (const post of posts) {
    receivedAt.push(Date.now());
    const headers: Record<string, string> = { Authorization: `Bearer ${pub.api_key}`, "CF-Connecting-IP": "192.0.2.200" };
    if (post.edgeCountry) headers["CF-IPCountry"] = post.edgeCountry;
    const res = await call("http://ingest.test/v1/events", { method: "POST", headers, body: JSON.stringify(post.events) });
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({ accepted: post.events.length, rejected: [] });
  }
  judged = judgeAll(posts, ads, receivedAt).map((j) => ({ ...j, e: { ...j.e, publisher_id: pub.publisher_id } as Judged["e"] }));

  // A sharded campaign's events reach their counting shards from the dedup shards a moment after the
  // 202: wait until every campaign has counted every event (and no more), then compare.
  const DAY = 24 * HOUR;
  await waitFor(
    "every event counted in real time",
    async () => {
      for (const c of campaigns) {
        const body = await get<{ metrics: Bucket[] }>(
          `/v1/metrics?campaign_id=${c.campaign_id}&start=${iso(floor(now, DAY) - 2 * DAY)}&end=${iso(floor(now, DAY) + DAY)}&granularity=day`,
          keys[c.advertiser_id],
        );
        const counted = body.metrics.reduce(
          (n, m) => n + m.clicks + m.invalid_clicks + m.duplicates + m.over_budget_clicks + m.late_events,
          0,
        );
        if (counted !== judged.filter((j) => j.ad.campaign_id === c.campaign_id).length) return false;
      }
      return true;
    },
    20_000,
  );
}, 120_000);

describe("a scenario of thousands of events", () => {
  it("exercises every rule", () => {
    const reasons = new Set(judged.map((j) => j.reason));
    for (const r of [
      "event_id",
      "user_minute",
      "bot_ua",
      "blocklisted_ip",
      "blocklisted_ua",
      "ip_burst_second",
      "ip_rate_minute",
      "geo_mismatch",
    ]) {
      expect(reasons, r).toContain(r);
    }
    expect(judged.filter((j) => j.late).length).toBeGreaterThan(50);
    // The budgeted campaign billed clicks, then ran out.
    const budgeted = judged.filter((j) => j.ad.campaign_id === campaigns[2].campaign_id);
    expect(budgeted.filter((j) => j.verdict === "over_budget").length).toBeGreaterThan(20);
    expect(budgeted.filter((j) => j.verdict === "clean").length).toBeGreaterThan(20);
    expect(judged.length).toBeGreaterThan(3000);
  });

  it("matches per-minute, per-hour and per-day metrics of every campaign", async () => {
    for (const c of campaigns) {
      const mine = judged.filter((j) => j.ad.campaign_id === c.campaign_id);
      for (const [granularity, step, start, end] of [
        ["minute", MINUTE, now - 60 * MINUTE, now + 2 * MINUTE],
        ["hour", HOUR, now - 4 * HOUR, now + HOUR],
        ["day", 86_400_000, now - 2 * 86_400_000, now + 86_400_000],
      ] as const) {
        const body = await get<{ metrics: Bucket[] }>(
          `/v1/metrics?campaign_id=${c.campaign_id}&start=${iso(start)}&end=${iso(end)}&granularity=${granularity}`,
          keys[c.advertiser_id],
        );
        const byBucket = groupBy(live(mine), (j) => floor(j.e.timestamp, step));
        const lateByBucket = groupBy(
          mine.filter((j) => j.late),
          (j) => floor(j.e.timestamp, step),
        );
        const expectedStarts: number[] = [];
        for (let t = floor(start, step); t < end; t += step) expectedStarts.push(t);
        expect(body.metrics.map((m) => Date.parse(m.timestamp))).toEqual(expectedStarts);
        for (const m of body.metrics) {
          const t = Date.parse(m.timestamp);
          expectSameNumbers(m, totals(byBucket.get(t) ?? []), `${c.campaign_id} ${granularity} ${m.timestamp}`);
          expect(m.late_events, `${granularity} ${m.timestamp} late`).toBe(lateByBucket.get(t)?.length ?? 0);
        }
      }
    }
  });

  it("matches every breakdown and filter", async () => {
    const c = campaigns[1]; // the sharded one
    const mine = live(judged.filter((j) => j.ad.campaign_id === c.campaign_id));
    const start = floor(now - 2 * HOUR, HOUR);
    const dims = {
      country: (j: Judged) => j.e.country,
      device_type: (j: Judged) => j.e.device_type,
      os: (j: Judged) => j.e.os,
      publisher_id: (j: Judged) => (j.e as { publisher_id?: string }).publisher_id ?? null,
      ad_format: (j: Judged) => j.ad.ad_format,
    };
    for (const [dim, of] of Object.entries(dims)) {
      const body = await get<{ metrics: Bucket[] }>(
        `/v1/metrics?campaign_id=${c.campaign_id}&start=${iso(start)}&end=${iso(now + HOUR)}&granularity=hour&group_by=${dim}`,
        keys[c.advertiser_id],
      );
      const expected = groupBy(mine, (j) => `${floor(j.e.timestamp, HOUR)}|${of(j)}`);
      const nonEmpty = body.metrics.filter((m) => m.clicks + m.invalid_clicks + m.duplicates > 0);
      expect(nonEmpty.length, dim).toBe(expected.size);
      for (const m of nonEmpty) {
        expectSameNumbers(m, totals(expected.get(`${Date.parse(m.timestamp)}|${m.group}`) ?? []), `${dim}=${m.group} ${m.timestamp}`);
      }
    }
    // The pair billing uses: group "US,mobile".
    const pair = await get<{ metrics: Bucket[] }>(
      `/v1/metrics?campaign_id=${c.campaign_id}&start=${iso(start)}&end=${iso(now + HOUR)}&granularity=hour&group_by=country,device_type`,
      keys[c.advertiser_id],
    );
    const pairs = groupBy(mine, (j) => `${floor(j.e.timestamp, HOUR)}|${j.e.country},${j.e.device_type}`);
    expect(pair.metrics.filter((m) => m.clicks + m.invalid_clicks + m.duplicates > 0).length).toBe(pairs.size);
    for (const m of pair.metrics) expectSameNumbers(m, totals(pairs.get(`${Date.parse(m.timestamp)}|${m.group}`) ?? []), `pair ${m.group}`);

    const filtered = await get<{ metrics: Bucket[] }>(
      `/v1/metrics?campaign_id=${c.campaign_id}&start=${iso(start)}&end=${iso(now + HOUR)}&granularity=hour&group_by=device_type&filter=country:DE`,
      keys[c.advertiser_id],
    );
    const de = groupBy(
      mine.filter((j) => j.e.country === "DE"),
      (j) => `${floor(j.e.timestamp, HOUR)}|${j.e.device_type}`,
    );
    for (const m of filtered.metrics) expectSameNumbers(m, totals(de.get(`${Date.parse(m.timestamp)}|${m.group}`) ?? []), `DE ${m.group}`);
  });

  it("matches every ad's aggregated count, with and without a filter", async () => {
    const from = iso(now - 70 * MINUTE);
    const to = iso(now + 2 * MINUTE);
    for (const ad of ads) {
      const mine = live(judged.filter((j) => j.ad.ad_id === ad.ad_id));
      const all = await get<{ count: number }>(`/v1/ads/${ad.ad_id}/aggregated_count?from=${from}&to=${to}`, keys[ad.advertiser_id]);
      expect(all.count, ad.ad_id).toBe(totals(mine).clicks);
      const us = await get<{ count: number; filter: string }>(
        `/v1/ads/${ad.ad_id}/aggregated_count?from=${from}&to=${to}&filter=country:US`,
        keys[ad.advertiser_id],
      );
      expect(us).toMatchObject({ count: totals(mine.filter((j) => j.e.country === "US")).clicks, filter: "country:US" });
    }
  });

  it("matches the top ads over the last hour, per advertiser and for the admin", async () => {
    const since = floor(now - 60 * MINUTE, MINUTE);
    const top = (js: Judged[]) =>
      [
        ...groupBy(
          live(js).filter((j) => j.e.timestamp >= since),
          (j) => j.ad.ad_id,
        ),
      ]
        .map(([ad_id, list]) => ({ ad_id, campaign_id: list[0].ad.campaign_id, count: totals(list).clicks }))
        .filter((x) => x.count > 0)
        .sort((x, y) => y.count - x.count || x.ad_id.localeCompare(y.ad_id));
    for (const adv of Object.keys(keys)) {
      const expected = top(judged.filter((j) => j.ad.advertiser_id === adv)).slice(0, 3);
      await waitFor(`top ads of ${adv}`, async () => {
        const body = await get<{ ads: unknown[] }>("/v1/ads/popular?window=60&top_n=3", keys[adv]);
        return JSON.stringify(body.ads) === JSON.stringify(expected);
      });
    }
    const everyone = top(judged);
    // Leaderboards hear from each shard a moment after it counts: wait until every push is in.
    let ours: unknown[] = [];
    await waitFor("the global top ads", async () => {
      const body = await get<{ ads: { ad_id: string; count: number }[] }>("/v1/ads/popular?window=60&top_n=100", "test-admin-token");
      ours = body.ads.filter((a) => ads.some((x) => x.ad_id === a.ad_id));
      return JSON.stringify(ours) === JSON.stringify(everyone);
    }).catch(() => undefined);
    expect(ours).toEqual(everyone);
  });

  it("matches the live totals of the last hour", async () => {
    for (const c of campaigns) {
      const body = await get<Expected & { late_events: number }>(`/v1/campaigns/${c.campaign_id}/live?minutes=60`, keys[c.advertiser_id]);
      // Late events show when they arrive (all of them arrived during this test).
      expect(body.late_events).toBe(judged.filter((j) => j.late && j.ad.campaign_id === c.campaign_id).length);
      const since = floor(now - 60 * MINUTE, MINUTE);
      const t = totals(live(judged.filter((j) => j.ad.campaign_id === c.campaign_id && j.e.timestamp >= since)));
      expect({ clicks: body.clicks, invalid_clicks: body.invalid_clicks, cost: body.cost }).toEqual({
        clicks: t.clicks,
        invalid_clicks: t.invalid_clicks,
        cost: expect.closeTo(t.cost, 6),
      });
      expect(Math.abs(body.unique_users - t.unique_users)).toBeLessThanOrEqual(Math.max(1, t.unique_users * 0.02));
    }
  });

  it("bills exactly what happened, late events included, and reconciles to the late clicks", async () => {
    const dates = [...new Set(judged.map((j) => new Date(j.e.timestamp).toISOString().slice(0, 10)))].sort();
    // Resends of an event_id dated in another minute than the first: real time counts them, billing does not.
    const firstMinute = new Map<string, number>();
    const isRepeat = judged.map((j) => {
      const k = `${j.ad.campaign_id}|${j.e.event_id}`;
      if (!firstMinute.has(k)) firstMinute.set(k, floor(j.e.timestamp, MINUTE));
      return j.reason === "event_id" && firstMinute.get(k) !== floor(j.e.timestamp, MINUTE);
    });
    const repeats = new Set(judged.filter((_, i) => isRepeat[i]));
    const expectedRows = (campaignId: string) =>
      [
        ...groupBy(
          judged.filter((j) => j.ad.campaign_id === campaignId),
          (j) => `${new Date(j.e.timestamp).toISOString().slice(0, 10)}|${j.e.country}|${j.e.device_type}`,
        ),
      ]
        .map(([k, list]) => {
          const [date, country, device_type] = k.split("|");
          const users = new Set(
            list
              .filter((j) => j.verdict === "clean" || j.verdict === "suspicious")
              .map((j) => j.e.user_id)
              .filter(Boolean),
          );
          const t = totals(list);
          return {
            date,
            country,
            device_type,
            ad_group_id: null,
            clicks: t.clicks,
            unique_users: users.size,
            cost: expect.closeTo(t.cost, 6),
            invalid_clicks: t.invalid_clicks,
            suspicious_clicks: t.suspicious_clicks,
            duplicates: t.duplicates,
            late_events: list.filter((j) => j.late).length,
            over_budget_clicks: t.over_budget_clicks,
            event_id_repeats: list.filter((j) => repeats.has(j)).length,
            status: "provisional",
            archived_through: expect.any(String),
            time_zone: "UTC",
          };
        })
        .sort((x, y) => x.date.localeCompare(y.date) || x.country.localeCompare(y.country) || x.device_type.localeCompare(y.device_type));

    const from = dates[0];
    const to = new Date(Date.parse(dates.at(-1)!) + 86_400_000).toISOString().slice(0, 10);
    await waitFor(
      "the whole scenario in the billing rows",
      async () => {
        for (const date of dates) await adminPost("rollup", { date });
        for (const c of campaigns) {
          const body = await get<{ rows: unknown[] }>(
            `/v1/billing?campaign_id=${c.campaign_id}&from=${from}&to=${to}`,
            keys[c.advertiser_id],
          );
          try {
            expect(body.rows).toEqual(expectedRows(c.campaign_id));
          } catch {
            return false;
          }
        }
        return true;
      },
      60_000,
    );

    const today = new Date(now).toISOString().slice(0, 10);
    const rec = await get<{
      campaigns: { campaign_id: string; realtime_clicks: number; billed_clicks: number; difference: number; late_clicks: number }[];
    }>(`/v1/reconciliation?date=${today}`, "test-admin-token");
    for (const c of campaigns) {
      const mine = judged.filter((j) => j.ad.campaign_id === c.campaign_id && new Date(j.e.timestamp).toISOString().slice(0, 10) === today);
      const lateClicks = totals(mine.filter((j) => j.late)).clicks;
      expect(rec.campaigns.find((r) => r.campaign_id === c.campaign_id)).toMatchObject({
        realtime_clicks: totals(live(mine)).clicks,
        billed_clicks: totals(mine).clicks,
        difference: lateClicks,
        late_clicks: lateClicks,
      });
    }
  }, 90_000);
});
