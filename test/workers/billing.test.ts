import { describe, expect, it } from "vitest";
import { BillingAccumulator, reconcile, type BillingInput } from "../../domain/billing";

const T = Date.UTC(2026, 10, 20, 12, 0, 0);
const ev = (over: Partial<BillingInput>): BillingInput => ({
  uid: `r-${Math.random()}`,
  event_id: "e1",
  campaign_id: "c",
  timestamp: T,
  received_at: T,
  country: "US",
  device_type: "desktop",
  user_id: "u1",
  cost_per_click: 0.5,
  verdict: "clean",
  late: false,
  ...over,
});

describe("billing", () => {
  it("takes back a repeat of an event_id from another minute of the day, whichever file comes first", () => {
    const original = ev({ uid: "a", received_at: T });
    const repeat = ev({ uid: "b", timestamp: T + 120_000, received_at: T + 120_000, user_id: "u2" });
    for (const order of [
      [original, repeat],
      [repeat, original],
    ]) {
      const acc = new BillingAccumulator();
      for (const e of order) acc.add(e);
      acc.add(ev({ uid: "c", event_id: "e2", user_id: "u2", verdict: "invalid" }));
      expect(acc.rows()).toEqual([
        {
          campaign_id: "c",
          date: "2026-11-20",
          country: "US",
          device_type: "desktop",
          ad_group_id: null,
          clicks: 1,
          unique_users: 1,
          cost_micros: 500_000,
          invalid_clicks: 1,
          suspicious_clicks: 0,
          duplicates: 1,
          over_budget_clicks: 0,
          late_events: 0,
          event_id_repeats: 1,
        },
      ]);
    }
  });

  it("makes no row for a group of duplicates only (a row of zeros would read as a bill for nothing)", () => {
    const acc = new BillingAccumulator();
    acc.add(ev({ uid: "a", country: "US" }));
    acc.add(ev({ uid: "b", country: "FR", verdict: "duplicate" }));
    expect(acc.rows().map((r) => r.country)).toEqual(["US"]);
  });

  it("takes over_budget verdicts as recorded: not billed, counted apart, a row even when nothing else is in it", () => {
    const acc = new BillingAccumulator();
    acc.add(ev({ uid: "a", event_id: "e1", country: "US" }));
    acc.add(ev({ uid: "b", event_id: "e2", user_id: "u2", country: "US", verdict: "over_budget" }));
    acc.add(ev({ uid: "c", event_id: "e3", user_id: "u3", country: "FR", verdict: "over_budget", late: true }));
    acc.add(ev({ uid: "d", event_id: "e4", user_id: "u4", country: "DE", verdict: "over_budget" }));
    expect(acc.rows().map((r) => [r.country, r.clicks, r.cost_micros, r.unique_users, r.over_budget_clicks, r.late_events])).toEqual([
      ["DE", 0, 0, 0, 1, 0],
      ["FR", 0, 0, 0, 1, 1],
      ["US", 1, 500_000, 1, 1, 0],
    ]);
  });

  it("leaves real time's own duplicates and other campaigns alone, and counts a copied receipt once", () => {
    const acc = new BillingAccumulator();
    const first = ev({ uid: "a" });
    acc.add(first);
    acc.add(first);
    acc.add(ev({ uid: "b", verdict: "duplicate" }));
    acc.add(ev({ uid: "c", campaign_id: "other" }));
    const rows = acc.rows();
    expect(rows.map((r) => [r.campaign_id, r.clicks, r.duplicates, r.event_id_repeats])).toEqual([
      ["c", 1, 1, 0],
      ["other", 1, 0, 0],
    ]);
    expect(acc.events).toBe(3);
  });
});

describe("reconciliation", () => {
  it("explains late clicks and event_id repeats, and calls the rest unexplained", () => {
    expect(reconcile({ realtime: 100, late: 5, billed: 103, repeats: 2 })).toEqual({ difference: 3, unexplained: 0, drift: 0 });
    expect(reconcile({ realtime: 100, late: 0, billed: 90, repeats: 0 })).toEqual({ difference: -10, unexplained: -10, drift: -0.1 });
    expect(reconcile({ realtime: 0, late: 0, billed: 0, repeats: 0 }).drift).toBe(0);
  });
});
