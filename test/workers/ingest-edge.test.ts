/**
 * What the edge puts on an event, and what it never keeps: enrichment from the User-Agent and from
 * `request.cf` (with the header fallbacks of CONTRACT), the privacy limits (keyed IP hashes only, User-Agent
 * cut to 256 characters), landing URLs as registered, and the click parameters that can or cannot refuse
 * a click. Events are read back from the R2 archive, as the billing and analysts see them.
 */
import { describe, expect, it } from "vitest";
import { runDurableObjectAlarm } from "cloudflare:test";
import { hashIp } from "../../domain/crypto";
import { edgeContext } from "../../domain/edge";
import { decodeArchive } from "../../domain/parquet";
import { USER_AGENT_MAX } from "../../domain/useragent";
import { campaignStub } from "../../durable-objects/client";
import { adminPost, call, json, seedAd, testEnv, waitFor, landingOf } from "./helpers";

const I = "http://ingest.test";
const Q = "http://query.test";

const IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";

type Row = Record<string, unknown>;

/** The campaign's events as archived in R2 (Parquet), once `n` of them are there. */
async function archived(campaignId: string, n: number): Promise<Row[]> {
  await runDurableObjectAlarm(campaignStub(testEnv.CAMPAIGN, campaignId, 0));
  return waitFor(`${n} archived events of ${campaignId}`, async () => {
    const { objects } = await testEnv.ARCHIVE.list({ prefix: "raw/" });
    const mine = objects.filter((o) => o.key.includes(`/${campaignId}.0-`));
    const rows = (
      await Promise.all(mine.map(async (o) => decodeArchive(await (await testEnv.ARCHIVE.get(o.key))!.arrayBuffer())))
    ).flat() as Row[];
    return rows.length >= n ? rows : null;
  });
}

const byUser = (rows: Row[]) => Object.fromEntries(rows.map((r) => [r.user_id as string, r]));

describe("edge context", () => {
  const req = (headers: Record<string, string>, cf?: Record<string, unknown>) =>
    new Request("http://ingest.test/click", { headers, ...(cf ? { cf } : {}) } as RequestInit);

  it("takes geography from request.cf first", () => {
    const e = edgeContext(
      req(
        { "CF-IPCountry": "FR", "CF-IPCity": "Paris", "CF-Ray": "8f1c2a3b4c5d6e7f-CDG" },
        { country: "de", city: "Berlin", asn: 3320, colo: "fra" },
      ),
    );
    expect(e).toMatchObject({ country: "DE", city: "Berlin", asn: 3320, colo: "FRA" });
  });

  it("falls back to CF-IPCountry, CF-IPCity and the colo of CF-Ray, else XX and nothing", () => {
    expect(edgeContext(req({ "CF-IPCountry": "fr", "CF-IPCity": "Paris", "CF-Ray": "8f1c2a3b4c5d6e7f-CDG" }))).toMatchObject({
      country: "FR",
      city: "Paris",
      asn: null,
      colo: "CDG",
    });
    expect(edgeContext(req({}))).toMatchObject({
      ip: "unknown",
      country: "XX",
      city: null,
      asn: null,
      colo: null,
      user_agent: null,
      referer: null,
    });
  });

  it("ignores values that are not what they claim", () => {
    const e = edgeContext(
      req({ "CF-IPCountry": "ZZ", "CF-IPCity": "   ", "CF-Ray": "not-a-ray-id" }, { country: "Germany", asn: "AS3320", colo: "FRANKFURT" }),
    );
    expect(e).toMatchObject({ country: "XX", city: null, asn: null, colo: null });
    expect(edgeContext(req({}, { asn: 2 ** 32, city: "x".repeat(500) }))).toMatchObject({ asn: null, city: "x".repeat(128) });
    expect(edgeContext(req({ Referer: `https://r.example/${"p".repeat(5000)}` })).referer).toHaveLength(2048);
    expect(edgeContext(req({ "CF-Connecting-IP": " 203.0.113.9 " })).ip).toBe("203.0.113.9");
  });
});

describe("enrichment on recorded events", () => {
  it("puts device type, OS, browser, country, city, ASN and colo on a click", async () => {
    const s = await seedAd();
    const cf = { country: "DE", city: "Berlin", asn: 3320, colo: "FRA" };
    const viaCf = await call(`${s.click_url}&user_id=cf`, {
      headers: { "User-Agent": IPHONE, "CF-Connecting-IP": "203.0.113.10", "CF-IPCountry": "FR" },
      cf,
    } as RequestInit);
    expect(viaCf.status).toBe(302);
    const viaHeaders = await call(`${s.click_url}&user_id=hdr`, {
      headers: {
        "User-Agent": FIREFOX_LINUX,
        "CF-Connecting-IP": "203.0.113.11",
        "CF-IPCountry": "FR",
        "CF-IPCity": "Paris",
        "CF-Ray": "8f1c2a3b4c5d6e7f-CDG",
      },
    });
    expect(viaHeaders.status).toBe(302);
    const bare = await call(`${s.click_url}&user_id=bare`);
    expect(bare.status).toBe(302);

    const rows = byUser(await archived(s.campaign_id, 3));
    expect(rows.cf).toMatchObject({
      device_type: "mobile",
      os: "iOS",
      browser: "Safari",
      country: "DE",
      edge_country: "DE",
      city: "Berlin",
      asn: 3320,
      colo: "FRA",
    });
    expect(rows.hdr).toMatchObject({
      device_type: "desktop",
      os: "Linux",
      browser: "Firefox",
      country: "FR",
      edge_country: "FR",
      city: "Paris",
      asn: null,
      colo: "CDG",
    });
    expect(rows.bare).toMatchObject({
      device_type: "unknown",
      os: "unknown",
      browser: "unknown",
      country: "XX",
      city: null,
      asn: null,
      colo: null,
      user_agent: null,
    });
  });

  it("derives what a posted event leaves out from its user_agent, and keeps what it states", async () => {
    const s = await seedAd();
    const pub = await adminPost("publishers", { name: "Net" });
    const now = Date.now();
    const body = [
      { event_id: "p1", timestamp: now, ad_id: s.ad_id, user_id: "parsed", user_agent: IPHONE, city: "Lyon" },
      { event_id: "p2", timestamp: now, ad_id: s.ad_id, user_id: "stated", user_agent: IPHONE, device_type: "Tablet", os: "iPadOS" },
    ];
    const res = await call(`${I}/v1/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${pub.api_key}` },
      body: JSON.stringify(body),
    });
    expect(await json(res)).toEqual({ accepted: 2, rejected: [] });
    const rows = byUser(await archived(s.campaign_id, 2));
    expect(rows.parsed).toMatchObject({
      device_type: "mobile",
      os: "iOS",
      browser: "Safari",
      city: "Lyon",
      publisher_id: pub.publisher_id,
      source: "api",
    });
    expect(rows.stated).toMatchObject({ device_type: "tablet", os: "iPadOS", browser: "Safari", city: null });
  });
});

describe("privacy", () => {
  it("keeps the client IP only as a keyed hash and the User-Agent cut to 256 characters", async () => {
    const s = await seedAd();
    const pub = await adminPost("publishers", { name: "Net" });
    const clickIp = "203.0.113.77";
    const postedIp = "2001:db8::77";
    const longUa = `${IPHONE} ${"x".repeat(1000)}`;
    expect((await call(`${s.click_url}&user_id=click`, { headers: { "User-Agent": longUa, "CF-Connecting-IP": clickIp } })).status).toBe(
      302,
    );
    const event = {
      event_id: "priv",
      timestamp: Date.now(),
      ad_id: s.ad_id,
      user_id: "posted",
      ip_address: postedIp,
      user_agent: longUa.slice(0, 1024),
    };
    const res = await call(`${I}/v1/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${pub.api_key}`, "CF-Connecting-IP": "198.51.100.9" },
      body: JSON.stringify([event]),
    });
    expect(await json(res)).toEqual({ accepted: 1, rejected: [] });

    const rows = byUser(await archived(s.campaign_id, 2));
    expect(rows.click.ip_hash).toBe(await hashIp(testEnv.IP_HASH_KEY, clickIp));
    expect(rows.posted.ip_hash).toBe(await hashIp(testEnv.IP_HASH_KEY, postedIp));
    // The hash is keyed: without the key, it is not the IP's plain hash, and another key gives another value.
    expect(rows.click.ip_hash).not.toBe(await hashIp("another-key", clickIp));
    for (const row of Object.values(rows)) {
      expect(row.user_agent).toBe(longUa.slice(0, USER_AGENT_MAX));
      // No column anywhere holds an IP, in any spelling.
      const text = JSON.stringify(row, (_, v) => (typeof v === "bigint" ? String(v) : v));
      for (const ip of [clickIp, postedIp, "198.51.100.9", "2001:0db8"]) expect(text).not.toContain(ip);
    }
  });
});

describe("landing URLs and the Location header", () => {
  it("stores a landing URL in its plain ASCII form and redirects exactly there", async () => {
    const cases: [string, string][] = [
      ["https://Example.COM:443/a/../b?q=ü#top", "https://example.com/b?q=%C3%BC#top"],
      ["HTTPS://SHOP.example", "https://shop.example/"],
      ["https://bücher.example/😀", "https://xn--bcher-kva.example/%F0%9F%98%80"],
      ["http://example.com:8080/x?y=1&z=%20", "http://example.com:8080/x?y=1&z=%20"],
      ["  https://trimmed.example/  ", "https://trimmed.example/"],
    ];
    for (const [input, stored] of cases) {
      const s = await seedAd({ landing_url: input });
      const row = await testEnv.DB.prepare("SELECT landing_url FROM ads WHERE ad_id = ?").bind(s.ad_id).first<{ landing_url: string }>();
      expect(row!.landing_url, input).toBe(stored);
      const res = await call(`${s.click_url}&user_id=u`);
      expect(res.status, input).toBe(302);
      expect(landingOf(res.headers.get("Location")), input).toBe(stored);
    }
  });

  it("refuses landing URLs a browser could be sent anywhere dangerous with", async () => {
    const s = await seedAd();
    for (const landing_url of [
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "java\tscript:alert(1)",
      "java\nscript:alert(1)",
      "\u0000javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:msgbox(1)",
      "file:///etc/passwd",
      "ws://example.com/",
      "https://user:pw@example.com/",
      "https://:pw@example.com/",
      "https://user@example.com/",
      "https://example.com/\u0000",
      "https://exa\u0007mple.com/",
      "https://example.com/\r\nLocation: https://evil.example/",
      "https://example.com/ x",
      "https://example.com/a\u00a0b",
      "https://example.com/a\u2028b",
      "https://example.com\\@evil.example/",
      `https://example.com/${"a".repeat(2030)}`,
      `https://example.com/${"é".repeat(700)}`,
    ]) {
      const res = await call(`${Q}/v1/admin/ads`, {
        method: "POST",
        headers: { Authorization: "Bearer test-admin-token" },
        body: JSON.stringify({ campaign_id: s.campaign_id, landing_url }),
      });
      expect(res.status, JSON.stringify(landing_url)).toBe(400);
      expect((await json<{ error: { code: string; message: string } }>(res)).error.code).toBe("invalid_request");
    }
  });
});

describe("click parameters", () => {
  it("sends the person on when a tracking parameter is malformed, and drops only that parameter", async () => {
    const s = await seedAd({ landing_url: "https://lenient.example/" });
    const good = await call(`${s.click_url}&user_id=good&x=12&y=-7&variant=B.2&ad_format=banner`);
    const bad = await call(
      `${s.click_url}&x={CLICK_X}&y=1e9&variant=bad%20variant!&ad_format=${"f".repeat(40)}&user_id=${"u".repeat(200)}`,
    );
    const empty = await call(`${s.click_url}&user_id=empty&x=&y=&variant=`);
    for (const res of [good, bad, empty]) {
      expect(res.status).toBe(302);
      expect(landingOf(res.headers.get("Location"))).toBe("https://lenient.example/");
    }
    // Without a usable user_id the browser gets the first-party id cookie instead.
    const cookie = /ec_uid=(u_[a-z0-9]+)/.exec(bad.headers.get("Set-Cookie") ?? "");
    expect(cookie).not.toBeNull();
    expect(good.headers.get("Set-Cookie")).toBeNull();

    const rows = await archived(s.campaign_id, 3);
    const find = (user: string) => rows.find((r) => r.user_id === user)!;
    expect(find("good")).toMatchObject({ x: 12, y: -7, variant: "B.2", ad_format: "banner" });
    expect(find(cookie![1])).toMatchObject({ x: null, y: null, variant: null, ad_format: null });
    expect(find("empty")).toMatchObject({ x: null, y: null, variant: null });
  });

  it("answers HEAD like GET but does not count it: link checkers are not people", async () => {
    const s = await seedAd({ landing_url: "https://head.example/" });
    const res = await call(`${s.click_url}&user_id=checker`, { method: "HEAD" });
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toBe("https://head.example/");
    expect(res.headers.get("Set-Cookie")).toBeNull();
    const missing = await call(`${I}/click?ad_id=ad_doesnotexist`, { method: "HEAD" });
    expect(missing.status).toBe(404);
    expect((await call(`${s.click_url}&user_id=person`)).status).toBe(302);
    const q = new URLSearchParams({ from: String(Date.now() - 3_600_000), to: String(Date.now() + 3_600_000) });
    const { count } = await json<{ count: number }>(
      await call(`${Q}/v1/ads/${s.ad_id}/aggregated_count?${q}`, { headers: { Authorization: `Bearer ${s.key}` } }),
    );
    expect(count).toBe(1);
  });
});
