import { describe, expect, it } from "vitest";
import {
  IP_BURST_PER_SECOND,
  IP_RATE_PER_MINUTE,
  MemoryRuleStore,
  budgetShare,
  classify,
  judge,
  type Blocklisted,
} from "../../domain/rules";
import { makeEvent } from "./fixtures";

const none: Blocklisted = { ip: false, ua: false };
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);

describe("counting rules", () => {
  it("counts a plain event as clean", () => {
    const store = new MemoryRuleStore();
    expect(judge(makeEvent(), store, none, HOUR)).toEqual({ verdict: "clean", reason: null, late: false, replay: false });
  });

  it("marks a repeated event_id as duplicate, and a replayed receipt as a replay of the first outcome", () => {
    const store = new MemoryRuleStore();
    const first = makeEvent({ event_id: "same" });
    expect(judge(first, store, none, HOUR).verdict).toBe("clean");
    expect(judge({ ...first }, store, none, HOUR)).toMatchObject({ verdict: "clean", replay: true });
    expect(judge(makeEvent({ event_id: "same" }), store, none, HOUR)).toMatchObject({
      verdict: "duplicate",
      reason: "event_id",
      replay: false,
    });
  });

  it("dedups the same ad, user and UTC minute, but not another minute, ad or an empty user", () => {
    const store = new MemoryRuleStore();
    const base = { ad_id: "a1", user_id: "u1", timestamp: T0 + 5_000, received_at: T0 + 5_000 };
    expect(judge(makeEvent(base), store, none, HOUR).verdict).toBe("clean");
    expect(judge(makeEvent({ ...base, timestamp: T0 + 59_999 }), store, none, HOUR)).toMatchObject({
      verdict: "duplicate",
      reason: "user_minute",
    });
    expect(judge(makeEvent({ ...base, timestamp: T0 + 60_000 }), store, none, HOUR).verdict).toBe("clean");
    expect(judge(makeEvent({ ...base, ad_id: "a2" }), store, none, HOUR).verdict).toBe("clean");
    expect(judge(makeEvent({ ...base, user_id: null }), store, none, HOUR).verdict).toBe("clean");
    expect(judge(makeEvent({ ...base, user_id: null }), store, none, HOUR).verdict).toBe("clean");
  });

  it("flags the 11th and later non-duplicate events of one IP in one second", () => {
    const store = new MemoryRuleStore();
    const verdicts = Array.from({ length: IP_BURST_PER_SECOND + 3 }, (_, i) =>
      judge(makeEvent({ ip_hash: "hot", timestamp: T0 + i, received_at: T0 + i }), store, none, HOUR),
    );
    expect(verdicts.slice(0, IP_BURST_PER_SECOND).every((v) => v.verdict === "clean")).toBe(true);
    expect(verdicts.slice(IP_BURST_PER_SECOND).map((v) => v.reason)).toEqual(["ip_burst_second", "ip_burst_second", "ip_burst_second"]);
    // The next second starts again.
    expect(judge(makeEvent({ ip_hash: "hot", timestamp: T0 + 1000, received_at: T0 + 1000 }), store, none, HOUR).verdict).toBe("clean");
  });

  it("does not count duplicates towards the IP limits", () => {
    const store = new MemoryRuleStore();
    const e = makeEvent({ ip_hash: "ip", timestamp: T0, received_at: T0, user_id: "u" });
    judge(e, store, none, HOUR);
    for (let i = 0; i < 20; i++) judge(makeEvent({ ip_hash: "ip", timestamp: T0 + i, received_at: T0, user_id: "u" }), store, none, HOUR);
    // 1 counted so far; 9 more distinct users fit in the second.
    const more = Array.from({ length: 9 }, (_, i) =>
      judge(makeEvent({ ip_hash: "ip", timestamp: T0 + 100 + i, received_at: T0 }), store, none, HOUR),
    );
    expect(more.every((v) => v.verdict === "clean")).toBe(true);
  });

  it("flags the 101st and later events of one IP in one minute", () => {
    const store = new MemoryRuleStore();
    const out = Array.from({ length: IP_RATE_PER_MINUTE + 2 }, (_, i) => {
      const t = T0 + Math.floor(i / 5) * 1000; // 5 a second stays under the burst limit
      return judge(makeEvent({ ip_hash: "steady", timestamp: t, received_at: t }), store, none, HOUR);
    });
    expect(out.filter((v) => v.verdict === "clean")).toHaveLength(IP_RATE_PER_MINUTE);
    expect(out.slice(IP_RATE_PER_MINUTE).map((v) => v.reason)).toEqual(["ip_rate_minute", "ip_rate_minute"]);
  });

  it("checks invalid reasons in contract order", () => {
    const bot = "Mozilla/5.0 (compatible; Googlebot/2.1)";
    const cases: [Partial<Parameters<typeof makeEvent>[0]>, Blocklisted, string][] = [
      [{ user_agent: bot, signature: "invalid" }, { ip: true, ua: true }, "blocklisted_ip"],
      [{ user_agent: bot, signature: "invalid" }, { ip: false, ua: true }, "blocklisted_ua"],
      [{ user_agent: bot, signature: "invalid" }, none, "bot_ua"],
      [{ signature: "invalid", rate_limited: true }, none, "bad_signature"],
      [{ rate_limited: true }, none, "rate_limited"],
    ];
    for (const [over, blocked, reason] of cases) {
      expect(judge(makeEvent(over), new MemoryRuleStore(), blocked, HOUR)).toMatchObject({ verdict: "invalid", reason });
    }
  });

  it("ranks fraud above geo mismatch, and geo mismatch only when the edge knows a country", () => {
    expect(judge(makeEvent({ country: "DE", edge_country: "US" }), new MemoryRuleStore(), none, HOUR)).toMatchObject({
      verdict: "suspicious",
      reason: "geo_mismatch",
    });
    expect(judge(makeEvent({ country: "DE", edge_country: "XX" }), new MemoryRuleStore(), none, HOUR).verdict).toBe("clean");
    expect(judge(makeEvent({ country: "DE", edge_country: "US", user_agent: "curl/8.0" }), new MemoryRuleStore(), none, HOUR).reason).toBe(
      "bot_ua",
    );
  });

  it("marks events older than the allowed lateness as late, whatever their verdict", () => {
    const store = new MemoryRuleStore();
    const old = makeEvent({ timestamp: T0 - HOUR - 1, received_at: T0, event_id: "late" });
    expect(judge(old, store, none, HOUR)).toMatchObject({ verdict: "clean", late: true });
    expect(judge(makeEvent({ timestamp: T0 - HOUR, received_at: T0 }), store, none, HOUR).late).toBe(false);
    expect(judge(makeEvent({ event_id: "late", timestamp: T0 - HOUR - 1, received_at: T0 + 1000 }), store, none, HOUR)).toMatchObject({
      verdict: "duplicate",
      late: true,
    });
  });

  it("scopes real-time event_id dedup to the event's UTC minute (billing dedups it across the archive)", () => {
    const store = new MemoryRuleStore();
    const at = (timestamp: number) => makeEvent({ event_id: "same", user_id: null, timestamp, received_at: T0 });
    expect(judge(at(T0), store, none, HOUR).verdict).toBe("clean");
    // A genuine resend carries the same event time: a duplicate.
    expect(judge(at(T0 + 1), store, none, HOUR)).toMatchObject({ verdict: "duplicate", reason: "event_id" });
    // The same id dated another minute is not one in real time.
    expect(judge(at(T0 + 60_000), store, none, HOUR).verdict).toBe("clean");
  });
});

describe("rule 5: the daily budget", () => {
  const DAY = 86_400_000;
  const click = (over = {}) => makeEvent({ cost_per_click: 0.25, daily_budget: 1, timestamp: T0, received_at: T0, ...over });
  const verdicts = (store: MemoryRuleStore, events: ReturnType<typeof makeEvent>[]) =>
    events.map((e) => judge(e, store, none, HOUR).verdict);

  it("bills up to the click that reaches or crosses the budget, then counts clicks over_budget", () => {
    // Exactly reached: 4 × 0.25 = 1.00, the fifth is over.
    expect(
      verdicts(
        new MemoryRuleStore(),
        Array.from({ length: 6 }, () => click()),
      ),
    ).toEqual([...Array(4).fill("clean"), "over_budget", "over_budget"]);
    // Crossed: after 0.75 spent 0.25 remain, and a click of 0.40 is billed in full (1.15); nothing after it.
    const store = new MemoryRuleStore();
    expect(verdicts(store, [click(), click(), click(), click({ cost_per_click: 0.4 }), click({ cost_per_click: 0.01 })])).toEqual([
      "clean",
      "clean",
      "clean",
      "clean",
      "over_budget",
    ]);
    expect(store.spent(Math.floor(T0 / DAY) * DAY)).toBe(1_150_000);
  });

  it("judges duplicates and invalid clicks first (they never spend), keeps suspicious ones' place, and resets each UTC day", () => {
    const store = new MemoryRuleStore();
    const first = click({ event_id: "x", cost_per_click: 1 });
    expect(
      verdicts(store, [first, click({ event_id: "x" }), click({ user_agent: "curl/8" }), click({ country: "DE", edge_country: "FR" })]),
    ).toEqual(["clean", "duplicate", "invalid", "over_budget"]);
    // The next day (event time) has a budget of its own; a late click dated the day before is judged against that day.
    expect(verdicts(store, [click({ timestamp: T0 + DAY, received_at: T0 + DAY })])).toEqual(["clean"]);
    expect(verdicts(store, [click({ timestamp: T0 + 1_000, received_at: T0 + DAY })])).toEqual(["over_budget"]);
    expect(judge(click({ timestamp: T0 + 2_000, received_at: T0 + DAY }), store, none, HOUR).late).toBe(true);
  });

  it("has no budget without one, none on a budget of 0, and a replayed receipt gets its first verdict", () => {
    expect(
      verdicts(
        new MemoryRuleStore(),
        Array.from({ length: 10 }, () => click({ daily_budget: null })),
      ),
    ).not.toContain("over_budget");
    expect(verdicts(new MemoryRuleStore(), [click({ daily_budget: 0 })])).toEqual(["over_budget"]);
    const store = new MemoryRuleStore();
    const e = click({ daily_budget: 0.25 });
    expect(verdicts(store, [e, click({ daily_budget: 0.25 })])).toEqual(["clean", "over_budget"]);
    expect(judge(e, store, none, HOUR)).toMatchObject({ verdict: "clean", replay: true });
  });

  it("gives each of n counting shards budget ÷ n, rounded down to the micro", () => {
    expect(budgetShare(1_000_000, 1)).toBe(1_000_000);
    expect(budgetShare(1_000_000, 3)).toBe(333_333);
    expect(budgetShare(1_000_000, 0)).toBe(1_000_000);
    const store = new MemoryRuleStore();
    const shard = (e: ReturnType<typeof makeEvent>) => classify(e, { duplicate: null }, store, none, HOUR, 4).verdict;
    // 0.25 of 1.00 for this shard: a click of 0.10 is billed at 0, 0.10 and 0.20 spent, the fourth is over.
    expect([1, 2, 3, 4].map(() => shard(click({ cost_per_click: 0.1 })))).toEqual(["clean", "clean", "clean", "over_budget"]);
  });
});
