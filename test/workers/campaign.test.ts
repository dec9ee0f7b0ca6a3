import { describe, expect, it } from "vitest";
import { listDurableObjectIds, runDurableObjectAlarm } from "cloudflare:test";
import { campaignStub, recordEvents } from "../../durable-objects/client";
import { dedupShard, singlePlan } from "../../domain/sharding";
import { decodeArchive } from "../../domain/parquet";
import { makeEvent, uniq } from "./fixtures";
import { testEnv, waitFor } from "./helpers";

describe("CampaignCounter", () => {
  it("returns each event's outcome and counts it in minute, hour and day buckets", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const t = Date.UTC(2026, 10, 22, 10, 30, 15);
    const e = (over = {}) => makeEvent({ campaign_id, ad_id: "ad1", timestamp: t, received_at: t, ...over });
    const outcomes = await stub.record(0, [
      e({ event_id: "a" }),
      e({ event_id: "a" }),
      e({ user_agent: "curl/8" }),
      e({ country: "DE", edge_country: "FR" }),
    ]);
    expect(outcomes.map((o) => o.verdict)).toEqual(["clean", "duplicate", "invalid", "suspicious"]);

    for (const granularity of ["minute", "hour", "day"] as const) {
      const [parts] = await stub.cellsMany([{ granularity, from: t - 86_400_000, to: t + 86_400_000 }]);
      expect(parts.reduce((n, p) => n + p.clicks, 0)).toBe(2);
      expect(parts.reduce((n, p) => n + p.duplicates, 0)).toBe(1);
      expect(parts.reduce((n, p) => n + p.invalid, 0)).toBe(1);
      expect(parts.reduce((n, p) => n + p.suspicious, 0)).toBe(1);
    }
  });

  it("recognises a replayed receipt and counts nothing twice", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const ev = makeEvent({ campaign_id });
    await stub.record(0, [ev]);
    const again = await stub.record(0, [ev]);
    expect(again[0].verdict).toBe("clean");
    const [parts] = await stub.cellsMany([{ granularity: "day", from: 0, to: Date.now() + 86_400_000 }]);
    expect(parts.reduce((n, p) => n + p.clicks + p.duplicates, 0)).toBe(1);
    expect((await stub.backlog()).log_rows).toBe(1);
  });

  it("keeps late events out of the real-time buckets and reports them apart", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const now = Date.now();
    const out = await stub.record(0, [makeEvent({ campaign_id, timestamp: now - 2 * 3_600_000, received_at: now })]);
    expect(out[0]).toEqual({ verdict: "clean", reason: null, late: true });
    const [parts] = await stub.cellsMany([{ granularity: "day", from: now - 2 * 86_400_000, to: now + 86_400_000 }]);
    expect(parts.reduce((n, p) => n + p.clicks, 0)).toBe(0);
    expect(parts.reduce((n, p) => n + p.late_events, 0)).toBe(1);
    // By receive time, the late click is visible as it arrives.
    expect(await stub.lateArrivals(now - 60_000, now + 60_000)).toEqual({ events: 1, clicks: 1 });
    expect(await stub.lateArrivals(now - 3 * 3_600_000, now - 60_000)).toEqual({ events: 0, clicks: 0 });
  });

  it("hands recorded events to the queue, which archives them once as Parquet in R2", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const events = Array.from({ length: 300 }, (_, i) => makeEvent({ campaign_id, ad_id: `ad${i % 3}`, referer: "x".repeat(300) }));
    await stub.record(0, events);
    // One batch, one log row: the durable record and the archive's outbox at once.
    expect(await stub.backlog()).toMatchObject({ log_rows: 1, unsealed: true });
    const id = (await listDurableObjectIds(testEnv.CAMPAIGN)).find((i) => i.equals(testEnv.CAMPAIGN.idFromName(`${campaign_id}#0`)));
    expect(id).toBeDefined();
    await runDurableObjectAlarm(stub);
    expect(await stub.backlog()).toMatchObject({ unsealed: false, unsent_messages: 0 });

    const seqs = await waitFor("archived events", async () => {
      const list = await testEnv.ARCHIVE.list({ prefix: "raw/" });
      const mine = list.objects.filter((o) => o.key.includes(`${campaign_id}.0-`));
      const rows = (
        await Promise.all(
          mine.map(async (o) => decodeArchive(await (await testEnv.ARCHIVE.get(o.key))!.arrayBuffer(), ["seq", "campaign_id", "verdict"])),
        )
      ).flat();
      return rows.length === 300 ? rows.map((r) => r.seq) : null;
    });
    expect(new Set(seqs).size).toBe(300);
    // Events are cut into several messages (120 KB of events each, compressed in the message).
    const files = (await testEnv.ARCHIVE.list({ prefix: "raw/" })).objects.filter((o) => o.key.includes(`${campaign_id}.0-`));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect(f.key).toMatch(/^raw\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/cmp_[a-z0-9]+\.0-\d+\.parquet$/);

    // The aggregator confirmed every message; once a checkpoint covers the row, it is deleted.
    await waitFor("confirmations", async () => (await stub.backlog()).open_messages === 0);
    expect((await stub.backlog()).log_rows).toBe(1);
    await stub.checkpointNow();
    await runDurableObjectAlarm(stub);
    expect((await stub.backlog()).log_rows).toBe(0);
  });
});

describe("a sharded campaign", () => {
  it("counts each event once, and the dedup shards forward what the edge never got to count", async () => {
    const campaign_id = uniq("cmp");
    const plan = singlePlan(4);
    const t = Date.now();
    const events = Array.from({ length: 200 }, (_, i) =>
      makeEvent({ campaign_id, ad_id: "ad1", user_id: `u${i % 150}`, ip_hash: `ip${i % 7}`, timestamp: t, received_at: t }),
    );
    // The edge dies between the shards: the dedup shards logged the events, no counting shard saw them.
    const byDedup = new Map<number, typeof events>();
    for (const e of events) byDedup.set(dedupShard(e, 4), [...(byDedup.get(dedupShard(e, 4)) ?? []), e]);
    for (const [d, list] of byDedup)
      await campaignStub(testEnv.CAMPAIGN, campaign_id, d).admit(
        d,
        list.map((event) => ({ event, shards: 4 })),
      );
    // The client's retry (same receipts) goes the whole way: the dedup answers are the first ones.
    const out = await recordEvents(testEnv.CAMPAIGN, plan, events.slice(0, 100));
    expect(out.filter((o) => o.verdict === "duplicate")).toHaveLength(0);

    const totals = async () => {
      const parts = (
        await Promise.all(
          [0, 1, 2, 3].map((s) =>
            campaignStub(testEnv.CAMPAIGN, campaign_id, s).cells({ granularity: "day", from: t - 86_400_000, to: t + 86_400_000 }),
          ),
        )
      ).flat();
      return {
        events: parts.reduce((n, p) => n + p.clicks + p.duplicates + p.invalid, 0),
        duplicates: parts.reduce((n, p) => n + p.duplicates, 0),
      };
    };
    const counted = await waitFor("forwarded events counted", async () => {
      for (const s of [0, 1, 2, 3]) await runDurableObjectAlarm(campaignStub(testEnv.CAMPAIGN, campaign_id, s));
      const n = await totals();
      return n.events >= 200 ? n : null;
    });
    expect(counted).toEqual({ events: 200, duplicates: 50 });
    // Forwarding again (as after a crash) counts nothing twice.
    for (const s of [0, 1, 2, 3]) await runDurableObjectAlarm(campaignStub(testEnv.CAMPAIGN, campaign_id, s));
    expect(await totals()).toEqual({ events: 200, duplicates: 50 });
  });
});

describe("edge buffer", () => {
  it("drains a backlog larger than one campaign call takes, every event counted once", async () => {
    const campaign_id = uniq("cmp");
    const t = Date.now();
    const buffer = testEnv.BUFFER.getByName(uniq("local"));
    // 12 posted batches of 1,000 events: more than one log row of the campaign object can hold at once.
    for (let b = 0; b < 12; b++) {
      const events = Array.from({ length: 1000 }, (_, i) =>
        makeEvent({
          campaign_id,
          ad_id: "ad1",
          user_id: `u${b}-${i}`,
          ip_hash: `ip${(b * 1000 + i) % 5000}`,
          timestamp: t,
          received_at: t,
        }),
      );
      await buffer.append({ events, routes: { [campaign_id]: { shard_plan: singlePlan(1), jurisdiction: null } } });
    }
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const counted = await waitFor(
      "the backlog counted",
      async () => {
        const [parts] = await stub.cellsMany([{ granularity: "day", from: t - 86_400_000, to: t + 86_400_000 }]);
        const n = parts.reduce((s, p) => s + p.clicks + p.invalid + p.duplicates, 0);
        return n >= 12_000 ? n : null;
      },
      30_000,
    );
    expect(counted).toBe(12_000);
    expect((await buffer.stats()).waiting_rows).toBe(0);
  });
});
