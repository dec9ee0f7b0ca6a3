/**
 * Edge limits (workers/ingest/limits.ts): `/click` per client IP (the test Worker's `[[ratelimits]]`, as
 * deployed), `POST /v1/events` per publisher key and `POST /v1/conversions` per advertiser key, each with the
 * account's own settings (its KeyGate).
 * Each test has its own IP or publisher, so no other test shares a counter.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_ADVERTISER_LIMITS, DEFAULT_PUBLISHER_LIMITS, MAX_EVENTS, itemCapacity, refill, take } from "../../domain/limits";
import { ADMIN, BROWSER, adminPost, call, json, seedAd, landingOf, waitFor } from "./helpers";

/** test/wrangler.test.toml: CLICK_LIMITER, `simple = { limit = 600, period = 60 }`. */
const CLICK_LIMIT = 600;
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
  const q = new URLSearchParams({
    campaign_id: s.campaign_id,
    start: String(now - 3_600_000),
    end: String(now + 3_600_000),
    granularity: "hour",
  });
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
      expect(landingOf(res.headers.get("Location"))).toBe("https://limited.example/");
    }
    // Another IP is not limited by this one.
    const other = await call(`${s.click_url}&user_id=other`, { headers: headers("198.19.200.1") });
    expect(other.status).toBe(302);

    // The last click within the limit and the other IP's are clean; the one over the limit is invalid.
    expect(await totals(s)).toEqual({ clicks: 2, invalid: 1, rate_limited: 1 });
  });
});

describe("POST /v1/events limits, per publisher, as settings", () => {
  const post = (key: string, body: string) => call(`${I}/v1/events`, { method: "POST", headers: { Authorization: `Bearer ${key}` }, body });

  it("has today's limits by default and takes others at creation or with PATCH (null restores the default)", async () => {
    const plain = await adminPost("publishers", { name: "Plain network" });
    expect(plain.limits).toEqual(DEFAULT_PUBLISHER_LIMITS);
    const big = await adminPost("publishers", { name: "Big network", requests_per_minute: 60_000, events_per_second: 200_000 });
    expect(big.limits).toEqual({ requests_per_minute: 60_000, events_per_second: 200_000 });
    const patch = (id: string, body: unknown) =>
      call(`${Q}/v1/admin/publishers/${id}`, { method: "PATCH", headers: ADMIN, body: JSON.stringify(body) });
    const res = await patch(big.publisher_id, { requests_per_minute: null });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ publisher_id: big.publisher_id, limits: { requests_per_minute: 600, events_per_second: 200_000 } });
    for (const [body, status] of [
      [{}, 400],
      [{ events_per_second: 0 }, 400],
      [{ requests_per_minute: 1.5 }, 400],
      [{ rpm: 5 }, 400],
    ] as const) {
      expect((await patch(big.publisher_id, body)).status, JSON.stringify(body)).toBe(status);
    }
    expect((await patch("pub_nope", { events_per_second: 10 })).status).toBe(404);
    expect(
      (
        await call(`${Q}/v1/admin/publishers/${big.publisher_id}`, {
          method: "PATCH",
          headers: { Authorization: `Bearer ${big.api_key}` },
          body: "{}",
        })
      ).status,
    ).toBe(403);
  });

  it("answers 429 over the requests a minute, before reading the body, says how long to wait, and records nothing of it", async () => {
    const s = await seedAd();
    const pub = await adminPost("publishers", { name: "Busy network", requests_per_minute: 30 });
    const started = Date.now();
    let accepted = 0;
    let refused: Response | null = null;
    while (!refused && accepted < 100) {
      const res = await post(pub.api_key, batch(s.ad_id, `e${accepted}`));
      if (res.status === 429) refused = res;
      else {
        expect(res.status).toBe(202);
        await res.body?.cancel();
        accepted++;
      }
    }
    // 30 at once, plus what refilled (one every 2 s) while they were sent.
    expect(accepted).toBeGreaterThanOrEqual(30);
    expect(accepted).toBeLessThanOrEqual(31 + Math.ceil((Date.now() - started) / 2000));
    expect(refused!.status).toBe(429);
    const wait = Number(refused!.headers.get("Retry-After"));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(2);
    expect(await json(refused!)).toEqual({ error: { code: "rate_limited", message: expect.stringContaining("30 requests a minute") } });
    // Refused before the body is read: a broken body is not even looked at.
    const badBody = await post(pub.api_key, "{");
    expect(badBody.status).toBe(429);
    await badBody.body?.cancel();
    expect(await count(s)).toBe(accepted);

    // After the wait it says, the publisher gets in again; another publisher was never held back.
    await new Promise((r) => setTimeout(r, wait * 1000 + 100));
    expect(await json(await post(pub.api_key, batch(s.ad_id, "after")))).toEqual({ accepted: 1, rejected: [] });
    const other = await adminPost("publishers", { name: "Quiet network" });
    expect(await json(await post(other.api_key, batch(s.ad_id, "quiet")))).toEqual({ accepted: 1, rejected: [] });
    expect(await count(s)).toBe(accepted + 2);
  });

  it("refuses a batch whole when it does not fit the events a second, and says how long until it would", async () => {
    const s = await seedAd();
    // 1 event a second: a bucket of one full batch (1,000 events) that refills one event a second.
    const pub = await adminPost("publishers", { name: "Slow network", events_per_second: 1 });
    const events = (prefix: string, n: number) =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          event_id: `${prefix}${i}`,
          timestamp: Date.now(),
          ad_id: s.ad_id,
          user_id: `${prefix}${i}`,
          ip_address: ipOf(nextIp++),
        })),
      );
    expect(await json(await post(pub.api_key, events("a", 600)))).toMatchObject({ accepted: 600 });
    const over = await post(pub.api_key, events("b", 600));
    expect(over.status).toBe(429);
    const wait = Number(over.headers.get("Retry-After"));
    // 200 events short at one a second (a little refilled meanwhile).
    expect(wait).toBeGreaterThan(190);
    expect(wait).toBeLessThanOrEqual(200);
    expect(await json(over)).toEqual({ error: { code: "rate_limited", message: expect.stringContaining("1 events a second") } });
    // What fits still goes in; nothing of the refused batch was recorded.
    expect(await json(await post(pub.api_key, events("c", 300)))).toMatchObject({ accepted: 300 });
    expect(await count(s)).toBe(900);
  });
});

describe("POST /v1/conversions limits, per advertiser, as settings", () => {
  const post = (key: string, body: unknown) =>
    call(`${I}/v1/conversions`, { method: "POST", headers: { Authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  const patch = (id: string, body: unknown) =>
    call(`${Q}/v1/admin/advertisers/${id}`, { method: "PATCH", headers: ADMIN, body: JSON.stringify(body) });
  /** An advertiser with an ad and one real click of it, whose id any number of conversions may name. */
  async function clicked(limits: Record<string, number>) {
    const s = await seedAd();
    if (Object.keys(limits).length) expect((await patch(s.advertiser_id, limits)).status).toBe(200);
    const res = await call(`${s.click_url}&user_id=conv`, { headers: { "User-Agent": BROWSER, "CF-Connecting-IP": ipOf(nextIp++) } });
    const clickId = new URL(res.headers.get("Location")!).searchParams.get("ec_click_id")!;
    return {
      ...s,
      conversions: (prefix: string, n: number) =>
        Array.from({ length: n }, (_, i) => ({ conversion_id: `${prefix}${i}`, click_id: clickId })),
    };
  }
  async function converted(s: { key: string; campaign_id: string }): Promise<number> {
    const q = new URLSearchParams({
      campaign_id: s.campaign_id,
      start: String(Date.now() - 3_600_000),
      end: String(Date.now() + 3_600_000),
      granularity: "day",
    });
    const { metrics } = await json<{ metrics: { conversions: number }[] }>(
      await call(`${Q}/v1/metrics?${q}`, { headers: { Authorization: `Bearer ${s.key}` } }),
    );
    return metrics.reduce((n, m) => n + m.conversions, 0);
  }

  it("has the publishers' defaults and takes others with PATCH beside the time zone (null restores the default)", async () => {
    const adv = await adminPost("advertisers", { name: "Limits" });
    expect(await json(await patch(adv.advertiser_id, { time_zone: "Europe/Amsterdam" }))).toEqual({
      advertiser_id: adv.advertiser_id,
      time_zone: "Europe/Amsterdam",
      limits: DEFAULT_ADVERTISER_LIMITS,
    });
    expect(DEFAULT_ADVERTISER_LIMITS).toEqual({ requests_per_minute: 600, conversions_per_second: 5_000 });
    expect(await json(await patch(adv.advertiser_id, { requests_per_minute: 60, conversions_per_second: 10 }))).toEqual({
      advertiser_id: adv.advertiser_id,
      time_zone: "Europe/Amsterdam",
      limits: { requests_per_minute: 60, conversions_per_second: 10 },
    });
    expect(await json(await patch(adv.advertiser_id, { conversions_per_second: null }))).toMatchObject({
      limits: { requests_per_minute: 60, conversions_per_second: 5_000 },
    });
    for (const body of [{}, { conversions_per_second: 0 }, { requests_per_minute: 1.5 }, { events_per_second: 5 }]) {
      expect((await patch(adv.advertiser_id, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await patch("adv_nope", { requests_per_minute: 10 })).status).toBe(404);
  });

  it("answers 429 over the requests a minute, before reading the body, and holds back no other advertiser", async () => {
    const s = await clicked({ requests_per_minute: 30 });
    let admitted = 0;
    let refused: Response | null = null;
    while (!refused && admitted < 100) {
      const res = await post(s.key, s.conversions(`r${admitted}-`, 1));
      if (res.status === 429) refused = res;
      else {
        expect(res.status).toBe(202);
        await res.body?.cancel();
        admitted++;
      }
    }
    expect(admitted).toBeGreaterThanOrEqual(30);
    expect(admitted).toBeLessThan(40);
    const wait = Number(refused!.headers.get("Retry-After"));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(2);
    expect(await json(refused!)).toEqual({
      error: { code: "rate_limited", message: expect.stringContaining("This advertiser key may make 30 requests a minute") },
    });
    // Refused before the body is read: a broken body is not even looked at.
    const badBody = await call(`${I}/v1/conversions`, { method: "POST", headers: { Authorization: `Bearer ${s.key}` }, body: "{" });
    expect(badBody.status).toBe(429);
    await badBody.body?.cancel();
    const other = await clicked({});
    expect(await json(await post(other.key, other.conversions("o", 1)))).toEqual({ accepted: 1, rejected: [] });
  });

  it("refuses a batch whole when it does not fit the conversions a second, and says how long until it would", async () => {
    // 1 a second: a bucket of one full batch (1,000) that refills one a second.
    const s = await clicked({ conversions_per_second: 1 });
    expect(await json(await post(s.key, s.conversions("a", 600)))).toMatchObject({ accepted: 600 });
    const over = await post(s.key, s.conversions("b", 600));
    expect(over.status).toBe(429);
    const wait = Number(over.headers.get("Retry-After"));
    expect(wait).toBeGreaterThan(190);
    expect(wait).toBeLessThanOrEqual(200);
    expect(await json(over)).toEqual({ error: { code: "rate_limited", message: expect.stringContaining("1 conversions a second") } });
    // Only what would be recorded is charged: unknown click ids cost nothing.
    const unknown = Array.from({ length: 900 }, (_, i) => ({ conversion_id: `u${i}`, click_id: "nope" }));
    expect(await json(await post(s.key, unknown))).toMatchObject({ accepted: 0 });
    expect(await json(await post(s.key, s.conversions("c", 300)))).toMatchObject({ accepted: 300 });
    // Nothing of the refused batch was recorded.
    await waitFor("conversions counted", async () => (await converted(s)) === 900);
    await new Promise((r) => setTimeout(r, 300));
    expect(await converted(s)).toBe(900);
  });
});

describe("token buckets", () => {
  it("refill at their rate up to capacity, and say how long until enough", () => {
    const t0 = 1_000_000;
    let r = take({ tokens: 10, at: t0 }, 10, 2, 10, t0);
    expect(r).toEqual({ bucket: { tokens: 0, at: t0 }, wait_ms: 0 });
    r = take(r.bucket, 1, 2, 10, t0 + 100);
    expect(r.wait_ms).toBe(400);
    expect(r.bucket.tokens).toBeCloseTo(0.2);
    r = take(r.bucket, 1, 2, 10, t0 + 500);
    expect(r.wait_ms).toBe(0);
    expect(refill({ tokens: 0, at: t0 }, 2, 10, t0 + 3_600_000)).toEqual({ tokens: 10, at: t0 + 3_600_000 });
    // A clock that steps back refills nothing.
    expect(refill({ tokens: 1, at: t0 }, 2, 10, t0 - 5_000).tokens).toBe(1);
    expect(itemCapacity({ requests_per_minute: 600, items_per_second: 5_000 })).toBe(50_000);
    expect(itemCapacity({ requests_per_minute: 600, items_per_second: 1 })).toBe(MAX_EVENTS);
  });
});

/** A distinct IP per event, so that the per-IP counting rules leave them all clean. */
const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
let nextIp = Math.floor(Math.random() * 1e6);
const batch = (adId: string, id: string) =>
  JSON.stringify([{ event_id: id, timestamp: Date.now(), ad_id: adId, user_id: id, ip_address: ipOf(nextIp++) }]);

async function count(s: { ad_id: string; key: string }): Promise<number> {
  const q = new URLSearchParams({ from: String(Date.now() - 3_600_000), to: String(Date.now() + 3_600_000) });
  return (
    await json<{ count: number }>(
      await call(`${Q}/v1/ads/${s.ad_id}/aggregated_count?${q}`, { headers: { Authorization: `Bearer ${s.key}` } }),
    )
  ).count;
}
