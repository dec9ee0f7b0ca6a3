import { describe, expect, it } from "vitest";
import { reshardIfHot, wantedShards } from "../../durable-objects/autoshard";
import { RESHARD_LEAD_MS, shardsAt, singlePlan } from "../../domain/sharding";
import { adminPost, testEnv } from "./helpers";

describe("automatic sharding", () => {
  it("doubles the shards of a hot object, up to 16, and leaves a cool one alone", () => {
    const now = Date.UTC(2026, 10, 22, 9, 0, 0);
    expect(wantedShards(singlePlan(1), now, 200, 250)).toBeNull();
    expect(wantedShards(singlePlan(1), now, 400, 250)).toBe(2);
    expect(wantedShards(singlePlan(8), now, 400, 250)).toBe(16);
    expect(wantedShards(singlePlan(16), now, 4000, 250)).toBeNull();
  });

  it("writes the new plan to D1 once, from a minute boundary beyond the lead time", async () => {
    const adv = await adminPost("advertisers", { name: "Hot" });
    const { campaign_id } = await adminPost("campaigns", { advertiser_id: adv.advertiser_id, name: "Viral", cost_per_click: 0.1 });
    const now = Date.now();
    const plan = await reshardIfHot(testEnv.DB, campaign_id, 900, 250, now);
    expect(plan).not.toBeNull();
    expect(shardsAt(plan!, now)).toBe(1);
    expect(shardsAt(plan!, now + RESHARD_LEAD_MS + 60_000)).toBe(2);
    // The same load again asks for 4 from the same minute, replacing the pending change.
    const again = await reshardIfHot(testEnv.DB, campaign_id, 900, 250, now);
    expect(shardsAt(again!, now + RESHARD_LEAD_MS + 60_000)).toBe(4);
    expect(await reshardIfHot(testEnv.DB, campaign_id, 100, 250, now)).toBeNull();
    const stored = await testEnv.DB.prepare("SELECT shard_plan FROM campaigns WHERE campaign_id = ?")
      .bind(campaign_id)
      .first<{ shard_plan: string }>();
    expect(JSON.parse(stored!.shard_plan)).toEqual(again);
  });
});
