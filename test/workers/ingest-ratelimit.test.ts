/**
 * Edge rate limits (workers/ingest/limits.ts): `/click` per client IP, `POST /v1/events` per publisher.
 * The limits are the test Worker's `[[ratelimits]]` (test/wrangler.test.toml), the same as deployed;
 * each test has its own IP or publisher, so no other test shares a counter.
 */
import { describe, expect, it } from "vitest";
import { ADMIN, BROWSER, adminPost, call, json, seedAd } from "./helpers";

/** test/wrangler.test.toml: CLICK_LIMITER and EVENTS_LIMITER, `simple = { limit = 600, period = 60 }`. */
const CLICK_LIMIT = 600;
const EVENTS_LIMIT = 600;
const PERIOD_MS = 60_000;

const Q = "http://query.test";
const I = "http://ingest.test";

/**
 * Runs `attempt` so that it falls in one limiter window. Miniflare's windows are aligned to the clock,
 * so an attempt that straddles a boundary sees its counter reset; it is then repeated with a fresh key.
 */
async function inOneWindow<T>(attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 0; n < 3; n++) {
    const w0 = Math.floor(Date.now() / PERIOD_MS);
    const result = await attempt(n);
    if (Math.floor(Date.now() / PERIOD_MS) === w0) return result;
  }
  throw new Error("every attempt straddled a rate limit window");
}

/** Sends `n` requests, 50 at a time, and returns their statuses. */
async function burst(n: number, request: (i: number) => Promise<Response>): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i += 50) {
    const answers = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => request(i + k)));
    for (const r of answers) {
      statuses.push(r.status);
      await r.body?.cancel();
    }
  }
  return statuses;
}

async function totals(s: { campaign_id: string }) {
  const now = Date.now();
  const q = new URLSearchParams({ campaign_id: s.campaign_id, start: String(now - 3_600_000), end: String(now + 3_600_000), granularity: "hour" });
  const { metrics } = await json<{ metrics: { clicks: number; invalid_clicks: number; invalid_by_reason: Record<string, number> }[] }>(
    await call(`${Q}/v1/metrics?${q}`, { headers: ADMIN }),
  );
  return {
    clicks: metrics.reduce((n, m) => n + m.clicks, 0),
    invalid: metrics.reduce((n, m) => n + m.invalid_clicks, 0),
    rate_limited: metrics.reduce((n, m) => n + (m.invalid_by_reason.rate_limited ?? 0), 0),
  };
}

describe("GET /click rate limit, per client IP", () => {
  it("still redirects a person over the limit, and records that click as invalid rate_limited", async () => {
    const headers = (ip: string) => ({ "User-Agent": BROWSER, "CF-Connecting-IP": ip });
    const { s, last, over } = await inOneWindow(async (n) => {
      const s = await seedAd({ landing_url: "https://limited.example/" });
      const ip = `198.19.${n}.${Math.floor(Math.random() * 250) + 1}`;
      // Every request counts, even one for an ad that does not exist: the limit protects the edge.
      const spent = await burst(CLICK_LIMIT - 1, () => call(`${I}/click?ad_id=ad_doesnotexist`, { headers: headers(ip) }));
      expect(spent.every((st) => st === 404)).toBe(true);
      const last = await call(`${s.click_url}&user_id=last`, { headers: headers(ip) });
      const over = await call(`${s.click_url}&user_id=over`, { headers: headers(ip) });
      return { s, last, over };
    });
    for (const res of [last, over]) {
      expect(res.status).toBe(302);
      expect(res.headers.get("Location")).toBe("https://limited.example/");
    }
    // Another IP is not limited by this one.
    const other = await call(`${s.click_url}&user_id=other`, { headers: headers("198.19.200.1") });
    expect(other.status).toBe(302);

    // The last click within the limit and the other IP's are clean; the one over the limit is invalid.
    expect(await totals(s)).toEqual({ clicks: 2, invalid: 1, rate_limited: 1 });
  });
});

describe("POST /v1/events rate limit, per publisher", () => {
  it("answers 429 with Retry-After over the limit, before reading the body, and records nothing of it", async () => {
    const { s, last, over, overBadBody } = await inOneWindow(async (n) => {
      const s = await seedAd();
      const pub = await adminPost("publishers", { name: `Busy network ${n}` });
      const post = (body: string) => call(`${I}/v1/events`, { method: "POST", headers: { Authorization: `Bearer ${pub.api_key}` }, body });
      const spent = await burst(EVENTS_LIMIT - 1, () => post("[]"));
      expect(spent.every((st) => st === 202)).toBe(true);
      return { s, last: await post(batch(s.ad_id, "last")), over: await post(batch(s.ad_id, "over")), overBadBody: await post("{") };
    });
    expect(last.status).toBe(202);
    expect(await json(last)).toEqual({ accepted: 1, rejected: [] });
    for (const res of [over, overBadBody]) {
      expect(res.status).toBe(429);
      expect(res.headers.get("Retry-After")).toBe("60");
      expect(await json(res)).toEqual({ error: { code: "rate_limited", message: expect.any(String) } });
    }
    // Only the batch within the limit was counted.
    expect(await count(s)).toBe(1);

    // Another publisher is not held back by this one.
    const other = await adminPost("publishers", { name: "Quiet network" });
    const res = await call(`${I}/v1/events`, { method: "POST", headers: { Authorization: `Bearer ${other.api_key}` }, body: batch(s.ad_id, "quiet") });
    expect(await json(res)).toEqual({ accepted: 1, rejected: [] });
    expect(await count(s)).toBe(2);
  });
});

const batch = (adId: string, id: string) => JSON.stringify([{ event_id: id, timestamp: Date.now(), ad_id: adId, user_id: id }]);

async function count(s: { ad_id: string; key: string }): Promise<number> {
  const q = new URLSearchParams({ from: String(Date.now() - 3_600_000), to: String(Date.now() + 3_600_000) });
  return (await json<{ count: number }>(await call(`${Q}/v1/ads/${s.ad_id}/aggregated_count?${q}`, { headers: { Authorization: `Bearer ${s.key}` } }))).count;
}
