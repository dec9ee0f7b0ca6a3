/**
 * An advertiser marked `jurisdiction: "eu"`: its campaign objects are created through the EU namespace,
 * and its events are archived in the EU bucket only; everything else reads the same as for anyone.
 */
import { describe, expect, it } from "vitest";
import { ADMIN, BROWSER, adminPost, call, json, testEnv, waitFor } from "./helpers";

describe("jurisdiction", () => {
  it("keeps an EU advertiser's campaign objects and archive in the EU, and answers its queries the same", async () => {
    const adv = await adminPost<{ advertiser_id: string; api_key: string; jurisdiction: string }>("advertisers", {
      name: "Bureau",
      jurisdiction: "eu",
    });
    expect(adv.jurisdiction).toBe("eu");
    const { campaign_id } = await adminPost("campaigns", { advertiser_id: adv.advertiser_id, name: "EU launch", cost_per_click: 0.2 });
    const { ad_id } = await adminPost("ads", { campaign_id, landing_url: "https://bureau.example/" });

    for (let i = 0; i < 3; i++) {
      const res = await call(`http://ingest.test/click?ad_id=${ad_id}&user_id=eu-${i}`, {
        headers: { "User-Agent": BROWSER, "CF-Connecting-IP": `192.0.2.${40 + i}` },
      });
      expect(res.status).toBe(302);
    }
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    await waitFor("EU clicks counted", async () => {
      const res = await call(`http://query.test/v1/ads/${ad_id}/aggregated_count?from=${from}&to=${to}`, {
        headers: { Authorization: `Bearer ${adv.api_key}` },
      });
      return res.status === 200 && (await json<{ count: number }>(res)).count === 3;
    });
    // The object answering is the EU one (locally, where workerd has no jurisdictions, the one kept apart
    // under the `eu:` prefix): the default namespace's object of that name never counted.
    const plain = testEnv.CAMPAIGN.getByName(`${campaign_id}#0`);
    expect(await plain.cells({ granularity: "day", from: 0, to: Date.now() + 86_400_000 })).toEqual([]);

    const files = await waitFor("EU archive", async () => {
      const { objects } = await testEnv.ARCHIVE_EU.list({ prefix: "raw/" });
      const mine = objects.filter((o) => o.key.includes(campaign_id));
      return mine.length > 0 ? mine : null;
    });
    expect(files.length).toBeGreaterThan(0);
    const elsewhere = (await testEnv.ARCHIVE.list({ prefix: "raw/" })).objects.filter((o) => o.key.includes(campaign_id));
    expect(elsewhere).toEqual([]);

    // Billing reads both archives.
    const rollup = await call("http://query.test/v1/admin/rollup", { method: "POST", headers: ADMIN, body: "{}" });
    expect(rollup.status).toBe(200);
    const day = new Date().toISOString().slice(0, 10);
    const next = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const bill = await json<{ rows: { clicks: number }[] }>(
      await call(`http://query.test/v1/billing?campaign_id=${campaign_id}&from=${day}&to=${next}`, {
        headers: { Authorization: `Bearer ${adv.api_key}` },
      }),
    );
    expect(bill.rows.reduce((n, r) => n + r.clicks, 0)).toBe(3);
  });

  it("refuses a jurisdiction it does not know, and writes nothing", async () => {
    const res = await call("http://query.test/v1/admin/advertisers", {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ name: "Nowhere", jurisdiction: "mars" }),
    });
    expect(res.status).toBe(400);
    expect((await json<{ error: { code: string } }>(res)).error.code).toBe("invalid_request");
  });
});
