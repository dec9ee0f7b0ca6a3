import { describe, expect, it } from "vitest";
import { MemoryRuleStore, classify, dedupe, judge } from "../../domain/rules";
import { RESHARD_LEAD_MS, countShard, dedupShard, maxShards, parsePlan, shardsAt, singlePlan, withShards } from "../../domain/sharding";
import { makeEvent } from "./fixtures";

const none = { ip: false, ua: false };
const HOUR = 3_600_000;

describe("shard plans", () => {
  it("applies a change only from a minute boundary beyond the lead time, keeping history", () => {
    const now = Date.UTC(2026, 10, 22, 12, 0, 30);
    const plan = withShards(singlePlan(), 4, now);
    const from = plan[1][0];
    expect(from % 60_000).toBe(0);
    expect(from - now).toBeGreaterThanOrEqual(RESHARD_LEAD_MS);
    expect(shardsAt(plan, now)).toBe(1);
    expect(shardsAt(plan, from - 1)).toBe(1);
    expect(shardsAt(plan, from)).toBe(4);
    expect(maxShards(withShards(plan, 2, from + HOUR))).toBe(4);
    expect(withShards(plan, 4, now)).toBe(plan);
  });

  it("parses stored plans and falls back to the shard column", () => {
    expect(parsePlan(null, 3)).toEqual([[0, 3]]);
    expect(parsePlan("[[100,2],[0,1]]")).toEqual([
      [0, 1],
      [100, 2],
    ]);
    expect(parsePlan("garbage", 2)).toEqual([[0, 2]]);
    expect(singlePlan(99)).toEqual([[0, 16]]);
  });

  it("routes possible duplicates to one dedup shard and one IP to one count shard", () => {
    for (let i = 0; i < 50; i++) {
      const a = makeEvent({ ad_id: "ad1", user_id: `u${i}` });
      const b = makeEvent({ ad_id: "ad1", user_id: `u${i}`, ip_hash: "elsewhere" });
      expect(dedupShard(a, 8)).toBe(dedupShard(b, 8));
      const c = makeEvent({ user_id: null, event_id: `e${i}` });
      expect(dedupShard(c, 8)).toBe(dedupShard(makeEvent({ ...c, ip_hash: "x" }), 8));
      expect(countShard(a, 8)).toBe(countShard(makeEvent({ ...a, user_id: "other" }), 8));
    }
    const spread = new Set(Array.from({ length: 200 }, (_, i) => countShard(makeEvent({ ip_hash: `ip${i}` }), 4)));
    expect(spread.size).toBe(4);
  });
});

describe("rules in two steps", () => {
  it("give the same outcomes as judging on one store", () => {
    const events = [] as ReturnType<typeof makeEvent>[];
    const t = Date.UTC(2026, 10, 22, 12, 0, 0);
    for (let i = 0; i < 300; i++) {
      events.push(
        makeEvent({
          event_id: `e${i % 250}`,
          user_id: `u${i % 40}`,
          ad_id: `a${i % 3}`,
          ip_hash: `ip${i % 3}`,
          timestamp: t + i * 20,
          received_at: t + i * 20,
        }),
      );
    }
    const one = new MemoryRuleStore();
    const whole = events.map((e) => judge(e, one, none, HOUR).verdict);
    const dedupStore = new MemoryRuleStore();
    const countStore = new MemoryRuleStore();
    const dedupRe = {
      ...dedupStore,
      eventIdSeen: dedupStore.eventIdSeen.bind(dedupStore),
      userMinuteSeen: dedupStore.userMinuteSeen.bind(dedupStore),
      rememberKeys: dedupStore.rememberKeys.bind(dedupStore),
      receipt: () => null,
      rememberReceipt: () => {},
    };
    const split = events.map((e) => classify(e, dedupe(e, dedupRe), countStore, none, HOUR).verdict);
    expect(split).toEqual(whole);
    expect(whole.filter((v) => v === "duplicate").length).toBeGreaterThan(50);
    expect(whole.filter((v) => v === "invalid").length).toBeGreaterThan(0);
  });

  it("answer a replayed duplicate with its first outcome instead of counting it again", () => {
    const store = new MemoryRuleStore();
    const t = Date.UTC(2026, 10, 22, 12, 0, 0);
    judge(makeEvent({ event_id: "x", timestamp: t, received_at: t }), store, none, HOUR);
    const dup = makeEvent({ event_id: "x", timestamp: t, received_at: t + 1000 });
    expect(judge(dup, store, none, HOUR)).toMatchObject({ verdict: "duplicate", replay: false });
    expect(judge(dup, store, none, HOUR)).toMatchObject({ verdict: "duplicate", replay: true });
  });
});
