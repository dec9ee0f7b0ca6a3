import { describe, expect, it } from "vitest";
import { ADMIN, BROWSER, adminPost, call, json, seedAd, waitFor, landingOf } from "./helpers";

const range = () => `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;

async function count(adId: string, key: string, extra = ""): Promise<number> {
  const res = await call(`http://query.test/v1/ads/${adId}/aggregated_count?${range()}${extra}`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(200);
  return (await json<{ count: number }>(res)).count;
}

describe("registry", () => {
  it("creates advertisers, publishers, campaigns and ads, and stores keys only hashed", async () => {
    const s = await seedAd();
    expect(s.advertiser_id).toMatch(/^adv_/);
    expect(s.key).toMatch(/^ek_adv_/);
    expect(s.click_url).toBe(`http://ingest.test/click?ad_id=${s.ad_id}`);
    const pub = await adminPost("publishers", { name: "News" });
    expect(pub.api_key).toMatch(/^ek_pub_/);
    const { testEnv } = await import("./helpers");
    const row = await testEnv.DB.prepare("SELECT api_key_hash FROM advertisers WHERE advertiser_id = ?")
      .bind(s.advertiser_id)
      .first<{ api_key_hash: string }>();
    expect(row!.api_key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.api_key_hash).not.toContain(s.key);
  });

  it("answers 401 without a valid admin token and 403 to another key", async () => {
    const s = await seedAd();
    const post = (headers: Record<string, string>) =>
      call("http://query.test/v1/admin/advertisers", { method: "POST", headers, body: '{"name":"x"}' });
    const none = await post({});
    expect(none.status).toBe(401);
    expect(await json(none)).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
    expect((await post({ Authorization: "Bearer wrong" })).status).toBe(401);
    expect((await post({ Authorization: `Bearer ${s.key}` })).status).toBe(403);
  });

  it("refuses landing URLs that are not plain http(s)", async () => {
    const s = await seedAd();
    for (const landing_url of [
      "javascript:alert(1)",
      "data:text/html,hi",
      "ftp://x.example/",
      "/relative",
      "https://user:pw@example.com/",
      "",
    ]) {
      const res = await call("http://query.test/v1/admin/ads", {
        method: "POST",
        headers: ADMIN,
        body: JSON.stringify({ campaign_id: s.campaign_id, landing_url }),
      });
      expect(res.status, landing_url).toBe(400);
      expect((await json<{ error: { code: string } }>(res)).error.code).toBe("invalid_request");
    }
  });
});

describe("GET /click", () => {
  it("redirects to the registered landing page, uncached, and counts the click", async () => {
    const s = await seedAd({ landing_url: "https://shop.example/spring?x=1" });
    const res = await call(`${s.click_url}&user_id=u1`, {
      headers: { "User-Agent": BROWSER, "CF-Connecting-IP": "198.51.100.1", "CF-IPCountry": "DE" },
    });
    expect(res.status).toBe(302);
    expect(landingOf(res.headers.get("Location"))).toBe("https://shop.example/spring?x=1");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(await count(s.ad_id, s.key)).toBe(1);
    expect(await count(s.ad_id, s.key, "&filter=country:DE")).toBe(1);
    expect(await count(s.ad_id, s.key, "&filter=country:US")).toBe(0);
  });

  it("answers every one of many simultaneous clicks on one campaign, and counts each once", async () => {
    const s = await seedAd();
    const res = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call(`${s.click_url}&user_id=burst-${i}`, { headers: { "User-Agent": BROWSER, "CF-Connecting-IP": `198.51.100.${i + 1}` } }),
      ),
    );
    expect(res.map((r) => r.status)).toEqual(res.map(() => 302));
    expect(await count(s.ad_id, s.key)).toBe(40);
  });

  it("answers 404 JSON for an unknown ad, and never redirects to a URL from the request", async () => {
    const res = await call("http://ingest.test/click?ad_id=ad_nope&url=https://evil.example/");
    expect(res.status).toBe(404);
    expect(res.headers.get("Location")).toBeNull();
    expect((await json<{ error: { code: string } }>(res)).error.code).toBe("unknown_ad");
    const s = await seedAd();
    const moved = await call(`${s.click_url}&redirect=https://evil.example/&landing_url=https://evil.example/`);
    expect(landingOf(moved.headers.get("Location"))).toBe("https://example.com/landing");
  });

  it("checks signed links: a signature for another ad or publisher is 403 and counted as bad_signature", async () => {
    const s = await seedAd();
    const other = await seedAd();
    const pub = await adminPost("publishers", { name: "News" });
    const { click_url } = await adminPost("click-urls", { ad_id: s.ad_id, publisher_id: pub.publisher_id });
    expect((await call(click_url, { headers: { "User-Agent": BROWSER } })).status).toBe(302);
    const moved = click_url.replace(s.ad_id, other.ad_id);
    const res = await call(moved, { headers: { "User-Agent": BROWSER } });
    expect(res.status).toBe(403);
    expect((await json<{ error: { code: string } }>(res)).error.code).toBe("bad_signature");
    expect(await count(s.ad_id, s.key)).toBe(1);
    expect(await count(other.ad_id, other.key)).toBe(0);
  });
});

describe("POST /v1/events", () => {
  it("accepts a batch, rejects bad events by index, and counts what it accepted", async () => {
    const s = await seedAd();
    const pub = await adminPost("publishers", { name: "Net" });
    const now = Date.now();
    const body = [
      {
        event_id: "e1",
        timestamp: new Date(now).toISOString(),
        ad_id: s.ad_id,
        user_id: "u1",
        ip_address: "203.0.113.9",
        user_agent: BROWSER,
        country: "FR",
      },
      { event_id: "e2", timestamp: now, ad_id: s.ad_id, user_id: "u2" },
      { timestamp: now, ad_id: s.ad_id },
      { event_id: "e4", timestamp: now - 8 * 86_400_000, ad_id: s.ad_id },
      { event_id: "e5", timestamp: now, ad_id: "ad_unknown" },
      { event_id: "e6", timestamp: now, ad_id: s.ad_id, cost_per_click: -1 },
      { event_id: "e1", timestamp: now, ad_id: s.ad_id, user_id: "u9" },
    ];
    const res = await call("http://ingest.test/v1/events", {
      method: "POST",
      headers: { Authorization: `Bearer ${pub.api_key}` },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    const out = await json<{ accepted: number; rejected: { index: number; code: string }[] }>(res);
    expect(out.accepted).toBe(3);
    expect(out.rejected.map((r) => [r.index, r.code])).toEqual([
      [2, "missing_field"],
      [3, "timestamp_out_of_range"],
      [4, "unknown_ad"],
      [5, "invalid_field"],
    ]);
    // e1 twice: the second is a duplicate, not a click.
    expect(await count(s.ad_id, s.key)).toBe(2);
  });

  it("takes NDJSON, and needs a publisher key", async () => {
    const s = await seedAd();
    const pub = await adminPost("publishers", { name: "Net" });
    const lines = `{"event_id":"n1","timestamp":${Date.now()},"ad_id":"${s.ad_id}"}\nnot json\n{"event_id":"n2","timestamp":${Date.now()},"ad_id":"${s.ad_id}"}\n`;
    const res = await call("http://ingest.test/v1/events", {
      method: "POST",
      headers: { Authorization: `Bearer ${pub.api_key}`, "Content-Type": "application/x-ndjson" },
      body: lines,
    });
    expect(await json(res)).toEqual({ accepted: 2, rejected: [{ index: 1, code: "invalid_json", message: expect.any(String) }] });
    expect((await call("http://ingest.test/v1/events", { method: "POST", body: "[]" })).status).toBe(401);
    expect(
      (await call("http://ingest.test/v1/events", { method: "POST", headers: { Authorization: `Bearer ${s.key}` }, body: "[]" })).status,
    ).toBe(403);
  });
});

describe("tenant isolation", () => {
  it("shows another advertiser's ad and billing as 404, like ones that do not exist", async () => {
    const a = await seedAd();
    const b = await seedAd();
    const asB = { headers: { Authorization: `Bearer ${b.key}` } };
    const foreign = await call(`http://query.test/v1/ads/${a.ad_id}/aggregated_count?${range()}`, asB);
    const missing = await call(`http://query.test/v1/ads/ad_missing/aggregated_count?${range()}`, asB);
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    expect((await json<{ error: { code: string } }>(foreign)).error.code).toBe(
      (await json<{ error: { code: string } }>(missing)).error.code,
    );
    const bill = await call(`http://query.test/v1/billing?campaign_id=${a.campaign_id}&from=2026-01-01&to=2027-01-01`, asB);
    expect(bill.status).toBe(404);
    const own = await call(`http://query.test/v1/billing?campaign_id=${b.campaign_id}&from=2026-01-01&to=2027-01-01`, asB);
    expect(own.status).toBe(200);
  });
});

describe("billing", () => {
  it("rolls the archive up into D1 rows that match the clicks, and re-running changes nothing", async () => {
    const s = await seedAd({ cost_per_click: 0.4 });
    const headers = (ip: string, country: string, ua = BROWSER) => ({ "User-Agent": ua, "CF-Connecting-IP": ip, "CF-IPCountry": country });
    await call(`${s.click_url}&user_id=a`, { headers: headers("192.0.2.1", "US") });
    await call(`${s.click_url}&user_id=b`, { headers: headers("192.0.2.2", "US") });
    await call(`${s.click_url}&user_id=a`, { headers: headers("192.0.2.1", "US") }); // same minute: duplicate
    await call(`${s.click_url}&user_id=c`, { headers: headers("192.0.2.3", "GB", "curl/8.5") });
    const { runDurableObjectAlarm } = await import("cloudflare:test");
    const { campaignStub } = await import("../../durable-objects/client");
    const { testEnv } = await import("./helpers");
    await runDurableObjectAlarm(campaignStub(testEnv.CAMPAIGN, s.campaign_id, 0));

    const today = new Date().toISOString().slice(0, 10);
    const billing = async () => {
      await adminPost<{ rows: number }>("rollup", { date: today });
      const res = await call(
        `http://query.test/v1/billing?campaign_id=${s.campaign_id}&from=${today}&to=${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}`,
        {
          headers: { Authorization: `Bearer ${s.key}` },
        },
      );
      return (await json<{ rows: Record<string, unknown>[] }>(res)).rows;
    };
    const rows = await waitFor("billing rows", async () => {
      const r = await billing();
      return r.length === 2 ? r : null;
    });
    expect(rows).toEqual([
      {
        date: today,
        country: "GB",
        device_type: "bot",
        ad_group_id: null,
        clicks: 0,
        unique_users: 0,
        cost: 0,
        invalid_clicks: 1,
        suspicious_clicks: 0,
        duplicates: 0,
        late_events: 0,
        over_budget_clicks: 0,
        event_id_repeats: 0,
        status: "provisional",
        archived_through: expect.any(String),
        time_zone: "UTC",
      },
      {
        date: today,
        country: "US",
        device_type: "desktop",
        ad_group_id: null,
        clicks: 2,
        unique_users: 2,
        cost: 0.8,
        invalid_clicks: 0,
        suspicious_clicks: 0,
        duplicates: 1,
        late_events: 0,
        over_budget_clicks: 0,
        event_id_repeats: 0,
        status: "provisional",
        archived_through: expect.any(String),
        time_zone: "UTC",
      },
    ]);
    expect(await billing()).toEqual(rows);
  });
});
