/**
 * Daily budgets through the API on real objects, queues, R2 and D1: a budget crossed mid-minute (exactly the
 * clicks the rule allows billed, the rest over_budget, alike in metrics, /live, the archive and billing), a
 * PATCH raising the budget, bad input, and a sharded campaign (each counting shard spends budget ÷ shards).
 */
import { describe, expect, it } from "vitest";
import { dayPrefix } from "../../domain/archive-layout";
import { hashIp } from "../../domain/crypto";
import { decodeArchive } from "../../domain/parquet";
import { countShard } from "../../domain/sharding";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { campaignStub } from "../../durable-objects/client";
import { makeEvent, uniq } from "./fixtures";
import { ADMIN, BROWSER, adminPost, call, json, testEnv, waitFor } from "./helpers";

const DAY = 86_400_000;
const iso = (t: number) => new Date(t).toISOString();

async function setup(opts: { cost_per_click: number; daily_budget: number | null; shards?: number }) {
  const adv = await adminPost("advertisers", { name: "Budgeted" });
  const cmp = await adminPost("campaigns", { advertiser_id: adv.advertiser_id, name: "Capped", ...opts });
  const ad = await adminPost("ads", { campaign_id: cmp.campaign_id, landing_url: "https://example.com/" });
  const pub = await adminPost("publishers", { name: "Budget feed" });
  return { key: adv.api_key, campaign_id: cmp.campaign_id, ad_id: ad.ad_id, pub: pub.api_key };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Posts `n` distinct clicks (users and IPs) in one request, all in the current minute, in order; returns their event ids. */
async function post(s: Setup, n: number, tag: string): Promise<{ ids: string[]; ips: string[] }> {
  const t = Date.now();
  const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
  const ips = ids.map((_, i) => `198.51.100.${i + 1}`);
  const events = ids.map((event_id, i) => ({
    event_id,
    timestamp: t,
    ad_id: s.ad_id,
    user_id: event_id,
    user_agent: BROWSER,
    ip_address: ips[i],
  }));
  const res = await call("http://ingest.test/v1/events", {
    method: "POST",
    headers: { Authorization: `Bearer ${s.pub}` },
    body: JSON.stringify(events),
  });
  expect(await json(res)).toEqual({ accepted: n, rejected: [] });
  return { ids, ips };
}

async function get<T>(path: string, key: string): Promise<T> {
  const res = await call(`http://query.test${path}`, { headers: { Authorization: `Bearer ${key}` } });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return json<T>(res);
}

interface Live {
  clicks: number;
  cost: number;
  over_budget_clicks: number;
  invalid_clicks: number;
  spend: number;
  daily_budget: number | null;
  pacing: number | null;
}

const live = (s: Setup) => get<Live>(`/v1/campaigns/${s.campaign_id}/live?minutes=60`, s.key);

async function day(s: Setup) {
  const now = Date.now();
  const body = await get<{ metrics: { clicks: number; cost: number; over_budget_clicks: number; invalid_clicks: number }[] }>(
    `/v1/metrics?campaign_id=${s.campaign_id}&start=${iso(Math.floor(now / DAY) * DAY)}&end=${iso(Math.floor(now / DAY) * DAY + DAY)}&granularity=day`,
    s.key,
  );
  return body.metrics[0];
}

/** Each archived event's verdict, by event id, once all `n` of the campaign's events are in R2. */
async function archived(s: Setup, n: number): Promise<Map<string, string>> {
  const date = iso(Date.now()).slice(0, 10);
  return waitFor(
    `${n} events archived`,
    async () => {
      const out = new Map<string, string>();
      const listed = await testEnv.ARCHIVE.list({ prefix: dayPrefix(date) });
      for (const o of listed.objects) {
        const file = await testEnv.ARCHIVE.get(o.key);
        for (const r of await decodeArchive(await file!.arrayBuffer(), ["campaign_id", "event_id", "verdict"])) {
          if (r.campaign_id === s.campaign_id) out.set(r.event_id, r.verdict);
        }
      }
      return out.size >= n ? out : null;
    },
    20_000,
  );
}

describe("daily budgets", () => {
  it("bill the clicks up to and including the one that crosses the budget, and count the rest over_budget everywhere", async () => {
    // 0.25 a click against 1.10: after four clicks 1.00 is spent, below the budget, so the fifth is billed (1.25)
    // although it costs more than the 0.10 left; the sixth on are over the budget.
    const s = await setup({ cost_per_click: 0.25, daily_budget: 1.1 });
    const { ids } = await post(s, 12, `cross-${s.campaign_id}`);

    expect(await day(s)).toMatchObject({ clicks: 5, cost: 1.25, over_budget_clicks: 7, invalid_clicks: 0 });
    const l = await live(s);
    expect(l).toMatchObject({ clicks: 5, cost: 1.25, over_budget_clicks: 7, invalid_clicks: 0, spend: 1.25, daily_budget: 1.1 });
    const elapsed = (Date.now() - Math.floor(Date.now() / DAY) * DAY) / DAY;
    expect(l.pacing).toBeCloseTo(1.25 / 1.1 / elapsed, 1);

    // The archive has each event's recorded verdict, in arrival order: the first five billed.
    const verdicts = await archived(s, 12);
    expect(ids.map((id) => verdicts.get(id))).toEqual([...Array(5).fill("clean"), ...Array(7).fill("over_budget")]);

    // Billing takes those verdicts: 5 clicks, 1.25, 7 over budget.
    const date = iso(Date.now()).slice(0, 10);
    await adminPost("rollup", { date });
    const bill = await get<{ rows: Record<string, unknown>[] }>(
      `/v1/billing?campaign_id=${s.campaign_id}&from=${date}&to=${iso(Date.parse(date) + DAY).slice(0, 10)}`,
      s.key,
    );
    expect(bill.rows).toHaveLength(1);
    expect(bill.rows[0]).toMatchObject({ clicks: 5, cost: 1.25, over_budget_clicks: 7, invalid_clicks: 0, duplicates: 0 });
  });

  it("bill clicks again once a PATCH raises the budget, and refuse bad budgets without changing anything", async () => {
    const s = await setup({ cost_per_click: 0.5, daily_budget: 1 });
    await post(s, 4, `before-${s.campaign_id}`);
    expect(await live(s)).toMatchObject({ clicks: 2, over_budget_clicks: 2, spend: 1 });

    const patch = (body: unknown, id = s.campaign_id) =>
      call(`http://query.test/v1/admin/campaigns/${id}`, { method: "PATCH", headers: ADMIN, body: JSON.stringify(body) });
    for (const bad of [
      { daily_budget: -1 },
      { daily_budget: "2" },
      { daily_budget: 0.0000001 },
      { daily_budget: 1e10 },
      {},
      { budget: 2 },
    ]) {
      const res = await patch(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(await json(res)).toMatchObject({ error: { code: "invalid_request" } });
    }
    expect((await patch({ daily_budget: 2 }, "cmp_doesnotexist00")).status).toBe(404);
    const listed = await get<{ campaigns: { campaign_id: string; daily_budget: number | null }[] }>("/v1/campaigns", s.key);
    expect(listed.campaigns.find((c) => c.campaign_id === s.campaign_id)?.daily_budget).toBe(1);

    const ok = await patch({ daily_budget: 2 });
    expect(ok.status).toBe(200);
    expect(await json(ok)).toMatchObject({ campaign_id: s.campaign_id, daily_budget: 2 });
    await post(s, 4, `after-${s.campaign_id}`);
    expect(await live(s)).toMatchObject({ clicks: 4, over_budget_clicks: 4, spend: 2, daily_budget: 2 });

    // null: no budget any more.
    expect((await patch({ daily_budget: null })).status).toBe(200);
    await post(s, 3, `none-${s.campaign_id}`);
    expect(await live(s)).toMatchObject({ clicks: 7, over_budget_clicks: 4, spend: 3.5, daily_budget: null, pacing: null });
  });

  it("give each counting shard of a sharded campaign budget ÷ shards, spent in its own arrival order", async () => {
    // 1.00 over 4 shards: 0.25 each; at 0.10 a click a shard bills 3 (0.10, 0.20 are below 0.25; the third crosses).
    const s = await setup({ cost_per_click: 0.1, daily_budget: 1, shards: 4 });
    const { ids, ips } = await post(s, 40, `shard-${s.campaign_id}`);
    const shardOf = await Promise.all(ips.map(async (ip) => countShard({ ip_hash: await hashIp(testEnv.IP_HASH_KEY, ip) }, 4)));
    const seen = [0, 0, 0, 0];
    const expected = shardOf.map((c) => (++seen[c] <= 3 ? "clean" : "over_budget"));
    const billed = expected.filter((v) => v === "clean").length;
    expect(seen.filter((n) => n > 3).length).toBeGreaterThan(1); // the test means something: several shards ran out

    await waitFor("all 40 counted", async () => {
      const l = await live(s);
      return l.clicks + l.over_budget_clicks === 40;
    });
    const l = await live(s);
    expect(l).toMatchObject({ clicks: billed, over_budget_clicks: 40 - billed });
    expect(l.spend).toBeCloseTo(billed * 0.1, 6);
    expect(l.spend).toBeLessThanOrEqual(1 + 4 * 0.1);
    const verdicts = await archived(s, 40);
    expect(ids.map((id) => verdicts.get(id))).toEqual(expected);
  });

  it("never bill anything on a budget of 0, and take a budget at creation", async () => {
    const s = await setup({ cost_per_click: 0.2, daily_budget: 0 });
    await post(s, 3, `zero-${s.campaign_id}`);
    expect(await live(s)).toMatchObject({ clicks: 0, over_budget_clicks: 3, spend: 0, daily_budget: 0, pacing: null });
    const bad = await call("http://query.test/v1/admin/campaigns", {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ advertiser_id: "adv_x", name: "x", cost_per_click: 1, daily_budget: -5 }),
    });
    expect(bad.status).toBe(400);
  });

  it("keep a campaign object's spend across a restart: checkpointed, then the log's recorded clicks added back", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const click = () => makeEvent({ campaign_id, cost_per_click: 0.1, daily_budget: 0.5 });
    const today = Math.floor(Date.now() / DAY) * DAY;
    expect((await stub.record(0, [click(), click()])).map((o) => o.verdict)).toEqual(["clean", "clean"]);
    await stub.checkpointNow();
    // After the checkpoint: only in the log.
    expect((await stub.record(0, [click(), click()])).map((o) => o.verdict)).toEqual(["clean", "clean"]);
    await evictDurableObject(stub);
    const again = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    expect(await again.spent(today)).toBe(400_000);
    expect((await again.record(0, [click(), click(), click()])).map((o) => o.verdict)).toEqual(["clean", "over_budget", "over_budget"]);
    await evictDurableObject(again);
    const third = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    expect(await third.spent(today)).toBe(500_000);
    const [parts] = await third.cellsMany([{ granularity: "day", from: today, to: today + DAY }]);
    expect(parts.reduce((n, p) => n + p.over_budget, 0)).toBe(2);
  });

  it("read cells stored in layout 2 (before the over_budget counter) by name, and write them back in layout 3", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const ts = Math.floor(Date.now() / 60_000) * 60_000;
    const part = Math.floor(ts / 600_000) * 600_000;
    // [ts, late, 8 dims, clicks, cost, suspicious, duplicates, invalid, 7 invalid reasons, geo, conversions, value, users]
    const v2 = {
      v: 2,
      cells: [[ts, 0, "ad_old", "DE", "mobile", "iOS", "", "", "", "", 3, 1_500_000, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 2, 7_000_000, ""]],
    };
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec(
        "INSERT INTO blob (name, chunk, body) VALUES (?, 0, ?)",
        `c:minute:${part}`,
        new TextEncoder().encode(JSON.stringify(v2)).buffer,
      );
    });
    await evictDurableObject(stub);
    const q = { granularity: "minute" as const, from: ts, to: ts + 60_000 };
    const expected = {
      clicks: 3,
      cost_micros: 1_500_000,
      duplicates: 1,
      invalid: 1,
      over_budget: 0,
      conversions: 2,
      conversion_value_micros: 7_000_000,
    };
    expect(await stub.cells(q)).toEqual([expect.objectContaining({ ...expected, reasons: { bot_ua: 1 } })]);
    await stub.record(0, [
      makeEvent({
        campaign_id,
        ad_id: "ad_old",
        country: "DE",
        device_type: "mobile",
        os: "iOS",
        user_id: null,
        timestamp: ts + 1,
        received_at: ts + 1,
        daily_budget: 0,
      }),
    ]);
    await stub.checkpointNow();
    await evictDurableObject(stub);
    expect(await stub.cells(q)).toEqual([expect.objectContaining({ ...expected, over_budget: 1 })]);
    const stored = await runInDurableObject(stub, (_o, state) => {
      const row = state.storage.sql.exec<{ body: ArrayBuffer }>("SELECT body FROM blob WHERE name = ?", `c:minute:${part}`).one();
      return JSON.parse(new TextDecoder().decode(row.body)) as { v: number };
    });
    expect(stored.v).toBe(3);
  });
});
