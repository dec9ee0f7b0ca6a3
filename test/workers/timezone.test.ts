/**
 * Advertiser time zones (issue 11, item 8): set at creation or by PATCH, validated with Intl; real-time hour and day
 * buckets of /v1/metrics in a zone (tz=, default the advertiser's), DST days of 23 and 25 hours.
 */
import { describe, expect, it } from "vitest";
import { DAY, HOUR, MINUTE, canonicalZone, floorTo, zoneBucketStarts, zoneDate, zoneFloor, zoneOffset } from "../../domain/time";
import { DEFAULT_ADVERTISER_LIMITS } from "../../domain/limits";
import { ADMIN, BROWSER, adminPost, call, json, seedAd, waitFor } from "./helpers";

describe("zones (unit)", () => {
  it("knows IANA names by Intl, in their canonical spelling, and nothing else", () => {
    expect(canonicalZone("Europe/Amsterdam")).toBe("Europe/Amsterdam");
    expect(canonicalZone("UTC")).toBe("UTC");
    for (const bad of ["Mars/Olympus", "", "+01:00", "Europe/Amsterdam; DROP"]) expect(canonicalZone(bad), bad).toBeNull();
  });

  it("starts local days and hours where the zone does: UTC+1, a DST day of 23 and one of 25 hours, +5:30", () => {
    // 23:30 UTC on 30 November is 00:30 on 1 December in Amsterdam (UTC+1 in winter).
    const late = Date.UTC(2026, 10, 30, 23, 30);
    expect(zoneDate(late, "Europe/Amsterdam")).toBe("2026-12-01");
    expect(zoneFloor(late, DAY, "Europe/Amsterdam")).toBe(Date.UTC(2026, 10, 30, 23));
    // 29 March 2026: clocks go from 02:00 to 03:00; 25 October 2026: from 03:00 back to 02:00.
    const spring = zoneBucketStarts(Date.UTC(2026, 2, 28, 23), Date.UTC(2026, 2, 30, 22), DAY, "Europe/Amsterdam");
    expect(spring).toEqual([Date.UTC(2026, 2, 28, 23), Date.UTC(2026, 2, 29, 22)]);
    expect(spring[1] - spring[0]).toBe(23 * HOUR);
    const autumn = zoneBucketStarts(Date.UTC(2026, 9, 24, 22), Date.UTC(2026, 9, 26, 23), DAY, "Europe/Amsterdam");
    expect(autumn).toEqual([Date.UTC(2026, 9, 24, 22), Date.UTC(2026, 9, 25, 23)]);
    expect(autumn[1] - autumn[0]).toBe(25 * HOUR);
    expect(zoneBucketStarts(Date.UTC(2026, 2, 29, 0), Date.UTC(2026, 2, 29, 3), HOUR, "Europe/Amsterdam")).toHaveLength(3);
    expect(zoneOffset(Date.UTC(2026, 10, 30), "Asia/Kolkata")).toBe(5.5 * HOUR);
    expect(zoneFloor(Date.UTC(2026, 10, 30, 10, 15), HOUR, "Asia/Kolkata")).toBe(Date.UTC(2026, 10, 30, 9, 30));
    expect(zoneFloor(Date.UTC(2026, 10, 30, 10, 15), DAY, "Asia/Kolkata")).toBe(Date.UTC(2026, 10, 29, 18, 30));
  });
});

type Bucket = { timestamp: string; clicks: number };

async function metrics(key: string, query: string) {
  const res = await call(`http://query.test/v1/metrics?${query}`, { headers: { Authorization: `Bearer ${key}` } });
  return { status: res.status, body: await json<{ tz: string; metrics: Bucket[]; error?: { code: string } }>(res) };
}

async function post(key: string, adId: string, events: { event_id: string; timestamp: number }[]) {
  const res = await call("http://ingest.test/v1/events", {
    method: "POST",
    headers: { Authorization: `Bearer ${key}` },
    body: JSON.stringify(
      events.map((e, i) => ({ ...e, ad_id: adId, user_id: `tz-${e.event_id}`, ip_address: `203.0.113.${i + 1}`, user_agent: BROWSER })),
    ),
  });
  expect((await json<{ accepted: number }>(res)).accepted).toBe(events.length);
}

describe("advertiser time zones", () => {
  it("are set at creation and by PATCH, canonical; a zone Intl does not know is a 400 that changes nothing", async () => {
    const adv = await adminPost<{ advertiser_id: string; time_zone: string }>("advertisers", {
      name: "Zoned",
      time_zone: "europe/amsterdam",
    });
    expect(adv.time_zone).toBe("Europe/Amsterdam");
    expect((await adminPost<{ time_zone: string }>("advertisers", { name: "Plain" })).time_zone).toBe("UTC");
    const patch = (id: string, body: unknown) =>
      call(`http://query.test/v1/admin/advertisers/${id}`, { method: "PATCH", headers: ADMIN, body: JSON.stringify(body) });
    const bad = await patch(adv.advertiser_id, { time_zone: "Mars/Olympus" });
    expect(bad.status).toBe(400);
    expect((await json<{ error: { message: string } }>(bad)).error.message).toMatch(/time_zone: must be an IANA time zone/);
    expect(
      (
        await call("http://query.test/v1/admin/advertisers", {
          method: "POST",
          headers: ADMIN,
          body: '{"name":"x","time_zone":"Nope/Nope"}',
        })
      ).status,
    ).toBe(400);
    expect((await patch("adv_nope", { time_zone: "UTC" })).status).toBe(404);
    const ok = await patch(adv.advertiser_id, { time_zone: "Asia/Kolkata" });
    expect(await json(ok)).toEqual({ advertiser_id: adv.advertiser_id, time_zone: "Asia/Kolkata", limits: DEFAULT_ADVERTISER_LIMITS });
  });

  it("day buckets in a zone: a click just before local midnight is on the previous local day, one after on the next", async () => {
    const s = await seedAd();
    const pub = await adminPost<{ api_key: string }>("publishers", { name: "TZ" });
    // Real time keeps events older than an hour out of its buckets: use the local midnight of a whole-hour zone that
    // falls in the last hour (or the next minutes, which ingest accepts as clock skew).
    const now = Date.now();
    const midnight = now - floorTo(now, HOUR) <= 55.5 * MINUTE ? floorTo(now, HOUR) : floorTo(now, HOUR) + HOUR;
    const hourUtc = new Date(midnight).getUTCHours();
    // Local = UTC + offset, local midnight at `midnight`: offset ≡ −hourUtc (mod 24); Etc/GMT-N is UTC+N.
    const offset = hourUtc <= 12 ? -hourUtc : 24 - hourUtc;
    const zone = offset === 0 ? "UTC" : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
    await post(pub.api_key, s.ad_id, [
      { event_id: "before", timestamp: midnight - 4 * MINUTE },
      { event_id: "after", timestamp: midnight + 30_000 },
      { event_id: "after2", timestamp: midnight + 20_000 },
    ]);
    const range = `campaign_id=${s.campaign_id}&start=${midnight - 2 * DAY}&end=${midnight + DAY}&granularity=day`;
    const zoned = await waitFor("three clicks counted", async () => {
      const r = await metrics(s.key, `${range}&tz=${encodeURIComponent(zone)}`);
      if (r.status !== 200) throw new Error(JSON.stringify(r.body));
      return r.body.metrics.reduce((n, b) => n + b.clicks, 0) === 3 && r;
    });
    expect(zoned.status).toBe(200);
    expect(zoned.body.tz).toBe(zone);
    const days = Object.fromEntries(zoned.body.metrics.filter((b) => b.clicks).map((b) => [b.timestamp, b.clicks]));
    expect(days).toEqual({
      [new Date(midnight - DAY).toISOString().replace(".000", "")]: 1,
      [new Date(midnight).toISOString().replace(".000", "")]: 2,
    });
    // The default is the advertiser's zone, UTC unless set: UTC days as before.
    const utc = await metrics(s.key, range);
    expect(utc.body.tz).toBe("UTC");
    expect(utc.body.metrics.every((b) => Date.parse(b.timestamp) % DAY === 0)).toBe(true);
    const patched = await call(`http://query.test/v1/admin/advertisers/${s.advertiser_id}`, {
      method: "PATCH",
      headers: ADMIN,
      body: JSON.stringify({ time_zone: zone }),
    });
    expect(patched.status).toBe(200);
    expect((await metrics(s.key, range)).body).toEqual(zoned.body);
    // Reconciliation compares billing's local date with real time over the same local day.
    const reconciled = async (date: string) =>
      (
        await json<{ campaigns: { realtime_clicks: number }[] }>(
          await call(`http://query.test/v1/reconciliation?date=${date}`, { headers: { Authorization: `Bearer ${s.key}` } }),
        )
      ).campaigns[0].realtime_clicks;
    expect(await reconciled(zoneDate(midnight, zone))).toBe(2);
    expect(await reconciled(zoneDate(midnight - 1, zone))).toBe(1);

    // Hours in a zone 5:30 from UTC start on the half hour, summed from minute cells; beyond their 48 hours, a 400.
    const kolkata = await metrics(
      s.key,
      `campaign_id=${s.campaign_id}&start=${now - 3 * HOUR}&end=${now + HOUR}&granularity=hour&tz=Asia/Kolkata`,
    );
    expect(kolkata.status).toBe(200);
    expect(kolkata.body.metrics.every((b) => Date.parse(b.timestamp) % HOUR === 30 * MINUTE)).toBe(true);
    expect(kolkata.body.metrics.reduce((n, b) => n + b.clicks, 0)).toBe(3);
    const old = await metrics(s.key, `campaign_id=${s.campaign_id}&start=${now - 5 * DAY}&end=${now}&granularity=day&tz=Asia/Kolkata`);
    expect(old.status).toBe(400);
    expect(old.body.error?.code).toBe("unsupported_time_zone");
    expect((await metrics(s.key, `${range}&tz=Mars/Olympus`)).status).toBe(400);
  });
});
