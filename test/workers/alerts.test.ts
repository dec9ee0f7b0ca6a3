/** The alert rules (domain/alerts.ts): thresholds, minimum volumes, one alert per episode, signatures; and bad webhook input. */
import { describe, expect, it } from "vitest";
import {
  ALERT_KINDS,
  EPISODE_QUIET_MS,
  budgetSpent,
  evaluateAlerts,
  signature,
  type CampaignWindow,
  type Episodes,
} from "../../domain/alerts";
import { ADMIN, call, json, seedAd } from "./helpers";

const quiet: CampaignWindow = {
  campaign_id: "c",
  minute: 0,
  minute_traffic: 0,
  baseline_per_minute: 0,
  hour_clicks: 0,
  hour_invalid: 0,
  spend_today: 0,
  daily_budget: null,
};
const kinds = (w: Partial<CampaignWindow>) =>
  Object.entries(ALERT_KINDS)
    .filter(([, rule]) => rule({ ...quiet, ...w }))
    .map(([k]) => k);

describe("alert rules", () => {
  it("page on a spike over 3× the baseline, never below the minimum volume", () => {
    expect(kinds({ minute_traffic: 19 })).toEqual([]); // no history, but too quiet to page
    expect(kinds({ minute_traffic: 20 })).toEqual(["traffic_spike"]);
    expect(kinds({ minute_traffic: 30, baseline_per_minute: 10 })).toEqual([]); // exactly 3×
    expect(kinds({ minute_traffic: 31, baseline_per_minute: 10 })).toEqual(["traffic_spike"]);
  });

  it("judge the hour's invalid share against the 5–30 % band from 100 events on", () => {
    expect(kinds({ hour_clicks: 60, hour_invalid: 30 })).toEqual([]); // 90 events: too few
    expect(kinds({ hour_clicks: 69, hour_invalid: 31 })).toEqual(["invalid_rate_high"]);
    expect(kinds({ hour_clicks: 70, hour_invalid: 30 })).toEqual([]);
    expect(kinds({ hour_clicks: 96, hour_invalid: 4 })).toEqual(["invalid_rate_low"]);
    expect(kinds({ hour_clicks: 95, hour_invalid: 5 })).toEqual([]);
  });

  it("fire once per episode; an episode ends after its condition has been quiet for 10 minutes", () => {
    const spike = { ...quiet, minute_traffic: 50 };
    let open: Episodes = {};
    const at = (now: number, w: CampaignWindow) => {
      const r = evaluateAlerts([w], open, now);
      open = r.episodes;
      return r.fired.map((f) => f.kind);
    };
    expect(at(0, spike)).toEqual(["traffic_spike"]);
    expect(at(60_000, spike)).toEqual([]);
    expect(at(120_000, quiet)).toEqual([]);
    expect(at(60_000 + EPISODE_QUIET_MS - 1, spike)).toEqual([]); // back within the quiet time: the same episode
    expect(at(60_000 + 2 * EPISODE_QUIET_MS, quiet)).toEqual([]);
    expect(open).toEqual({});
    expect(at(60_000 + 2 * EPISODE_QUIET_MS + 60_000, spike)).toEqual(["traffic_spike"]);
  });

  it("make a budget alert one rule (campaigns without a budget never fire it)", () => {
    const b80 = budgetSpent(0.8);
    expect(b80({ ...quiet, spend_today: 100 })).toBeNull();
    expect(b80({ ...quiet, spend_today: 79.9, daily_budget: 100 })).toBeNull();
    expect(b80({ ...quiet, spend_today: 80, daily_budget: 100 })).toMatchObject({ threshold: 80 });
  });

  it("fire each budget alert once per UTC day, even when a raised budget stops and restarts it", () => {
    const DAY = 86_400_000;
    let open: Episodes = {};
    const at = (now: number, spend_today: number, daily_budget = 10) => {
      const r = evaluateAlerts([{ ...quiet, minute: now - 60_000, spend_today, daily_budget }], open, now);
      open = r.episodes;
      return r.fired.map((f) => f.kind);
    };
    const t = 3 * DAY + 3_600_000;
    expect(at(t, 7.9)).toEqual([]);
    expect(at(t + 60_000, 8)).toEqual(["budget_80"]);
    expect(at(t + 120_000, 9)).toEqual([]);
    expect(at(t + 180_000, 10)).toEqual(["budget_100"]);
    expect(at(t + 240_000, 12)).toEqual([]);
    // Raised: neither holds for an hour, then both again the same day: no second alert.
    expect(at(t + 300_000, 12, 100)).toEqual([]);
    expect(at(t + 3_600_000 + 300_000, 100, 100)).toEqual([]);
    // The next day starts afresh.
    expect(at(4 * DAY + 60_000, 0, 100)).toEqual([]);
    expect(at(4 * DAY + 120_000, 80, 100)).toEqual(["budget_80"]);
    expect(evaluateAlerts([{ ...quiet, spend_today: 80, daily_budget: 100 }], {}, 0).fired[0]).not.toHaveProperty("episode");
  });

  it("sign the timestamp and the body with HMAC-SHA256", async () => {
    // RFC 4231 test case 2 shape: key "Jefe"; message "<t>.<body>".
    const sig = await signature("Jefe", 1, "what do ya want for nothing?");
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("Jefe"), { name: "HMAC", hash: "SHA-256" }, false, [
      "verify",
    ]);
    const hex = sig.split(",v1=")[1];
    const mac = Uint8Array.from(hex.match(/../g)!, (h) => Number.parseInt(h, 16));
    expect(sig.startsWith("t=1,v1=")).toBe(true);
    expect(await crypto.subtle.verify("HMAC", key, mac, new TextEncoder().encode("1.what do ya want for nothing?"))).toBe(true);
  });
});

describe("PUT /v1/alerts/webhook", () => {
  it("refuses bad URLs and secrets with a 400 and keeps the webhook it had", async () => {
    const s = await seedAd();
    const auth = { Authorization: `Bearer ${s.key}` };
    const put = (body: unknown, headers = auth, query = "") =>
      call(`http://query.test/v1/alerts/webhook${query}`, { method: "PUT", headers, body: JSON.stringify(body) });
    const ok = await put({ url: "https://hooks.example.com/a", secret: "a-secret-of-enough-length" });
    expect(await json(ok)).toEqual({ url: "https://hooks.example.com/a", secret: null, signature_header: "Edgeclick-Signature" });
    for (const body of [
      { url: "http://hooks.example.com/plain" },
      { url: "https://user:pw@hooks.example.com/" },
      { url: "ftp://x" },
      { url: "https://hooks.example.com/", secret: "short" },
      { url: "https://hooks.example.com/", extra: 1 },
    ]) {
      const res = await put(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await json(res)).toMatchObject({ error: { code: "invalid_request" } });
    }
    expect((await put({ url: "https://x.example/" }, ADMIN)).status).toBe(400); // the admin names the advertiser
    const listed = await json(await call("http://query.test/v1/alerts", { headers: auth }));
    expect(listed).toEqual({ webhook: { url: "https://hooks.example.com/a" }, alerts: [] });
  });
});
