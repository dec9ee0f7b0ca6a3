import { describe, expect, it } from "vitest";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { campaignStub } from "../../durable-objects/client";
import { makeEvent, uniq } from "./fixtures";
import { testEnv } from "./helpers";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function counts(stub: ReturnType<typeof campaignStub>, t: number) {
  const [m, h, d] = await stub.cellsMany(
    (["minute", "hour", "day"] as const).map((granularity) => ({ granularity, from: t - 2 * DAY, to: t + 2 * DAY })),
  );
  const sum = (parts: { clicks: number }[]) => parts.reduce((n, p) => n + p.clicks, 0);
  return { minute: sum(m), hour: sum(h), day: sum(d) };
}

describe("retention", () => {
  it("keeps minutes 48 h, hours 90 days and days for good; dedup state for the accept window", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const t = Date.now();
    await stub.record(0, [makeEvent({ campaign_id, event_id: "kept", timestamp: t, received_at: t })]);
    expect(await counts(stub, t)).toEqual({ minute: 1, hour: 1, day: 1 });
    await stub.checkpointNow();
    const storedKeys = () =>
      runInDurableObject(stub, (_o, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM keys").one().n);
    expect(await storedKeys()).toBeGreaterThan(0);

    const pruneAt = (now: number) => runInDurableObject(stub, (o) => o.prune(now));
    await pruneAt(t + 47 * HOUR);
    expect(await counts(stub, t)).toEqual({ minute: 1, hour: 1, day: 1 });
    await pruneAt(t + 50 * HOUR);
    expect(await counts(stub, t)).toEqual({ minute: 0, hour: 1, day: 1 });
    // Dedup keys outlive the 7-day accept window: a resend is still a duplicate after 2 days…
    expect((await stub.record(0, [makeEvent({ campaign_id, event_id: "kept", timestamp: t, received_at: t + 2 * DAY })]))[0].verdict).toBe(
      "duplicate",
    );
    await pruneAt(t + 92 * DAY);
    expect(await counts(stub, t)).toEqual({ minute: 0, hour: 0, day: 1 });
    // …and are gone once no event of that time can be accepted any more.
    await stub.checkpointNow();
    expect(await storedKeys()).toBe(0);
  });
});

describe("durability", () => {
  it("keeps every count and receipt when the object is evicted", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const events = Array.from({ length: 20 }, () => makeEvent({ campaign_id }));
    await stub.record(0, events);
    await evictDurableObject(stub);
    const again = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    expect((await counts(again, Date.now())).minute).toBe(20);
    // Receipts survive too: replaying the batch after eviction counts nothing.
    await again.record(0, events);
    expect((await counts(again, Date.now())).minute).toBe(20);
  });
});

describe("closed minutes", () => {
  it("stores a minute past the lateness window as hash buckets that late events probe, with the same answers", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const now = Date.now();
    const t = Math.floor((now - 3 * HOUR) / 60_000) * 60_000 + 5_000;
    // Late events of one old minute: 8 from one IP in one second, so the IP's counter is in the minute too.
    const events = Array.from({ length: 8 }, (_, i) => makeEvent({ campaign_id, ip_hash: "ip-old", timestamp: t + i, received_at: now }));
    expect((await stub.record(0, events)).every((o) => o.verdict === "clean" && o.late)).toBe(true);
    await stub.checkpointNow();
    await runDurableObjectAlarm(stub);
    const buckets = () =>
      runInDurableObject(
        stub,
        (_o, state) =>
          state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM keys WHERE part = ? AND chunk < 0", Math.floor(t / 60_000)).one()
            .n,
      );
    expect(await buckets()).toBeGreaterThan(0);

    await evictDurableObject(stub);
    const again = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    // A replayed receipt: its first answer. A resend with a new receipt: a duplicate.
    expect(await again.record(0, [events[0]])).toEqual([{ verdict: "clean", reason: null, late: true }]);
    expect((await again.record(0, [{ ...events[1], uid: "r-resend" }]))[0]).toMatchObject({ verdict: "duplicate", reason: "event_id" });
    // The IP's count carried on: two more fit the second, the 11th is a burst.
    const more = Array.from({ length: 3 }, (_, i) =>
      makeEvent({ campaign_id, ip_hash: "ip-old", timestamp: t + 100 + i, received_at: now }),
    );
    expect((await again.record(0, more)).map((o) => o.reason)).toEqual([null, null, "ip_burst_second"]);
  });
});
