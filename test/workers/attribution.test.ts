/**
 * Attribution (issue 12) through the public surface: click ids on the redirect and in the archive.
 */
import { describe, expect, it } from "vitest";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Conversion } from "../../domain/conversion";
import { campaignStub } from "../../durable-objects/client";
import { heatCell } from "../../domain/heatmap";
import { normalCdf, pickVariant, twoProportionZTest } from "../../domain/variants";
import { makeEvent, uniq } from "./fixtures";
import { mintClickId, readClickId, withQueryParam, type ClickClaims } from "../../domain/click-id";
import { hourPartition } from "../../domain/archive-layout";
import { decodeArchive, decodeConversions } from "../../domain/parquet";
import { parseSigningKeys } from "../../domain/signing";
import { ADMIN, BROWSER, adminPost, call, json, seedAd, testEnv, waitFor } from "./helpers";

const KEYS = parseSigningKeys("k2:test-signing-key-two,k1:test-signing-key-one");
const CLAIMS: ClickClaims = {
  campaign_id: "cmp_a",
  ad_id: "ad_a",
  ad_group_id: null,
  publisher_id: "pub.with|odd~chars",
  variant: "B",
  country: "DE",
  device_type: "mobile",
  os: "iOS",
  ad_format: null,
  timestamp: 1_790_000_000_000,
};

async function clickOf(url: string, user: string, ip = "198.51.100.40"): Promise<Response> {
  return call(`${url}&user_id=${user}`, { headers: { "User-Agent": BROWSER, "CF-Connecting-IP": ip } });
}

describe("click ids (unit)", () => {
  it("read back only by their own advertiser, untampered, under an active key", async () => {
    const id = (await mintClickId(KEYS, "adv_1", CLAIMS))!;
    expect(id).toMatch(/^k2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(await readClickId(KEYS, "adv_1", id)).toEqual(CLAIMS);
    // Unique: a nonce in every id.
    expect(await mintClickId(KEYS, "adv_1", CLAIMS)).not.toBe(id);
    expect(await readClickId(KEYS, "adv_2", id)).toBeNull();
    const [kid, payload, mac] = id.split(".");
    const flipped = payload.slice(0, 5) + (payload[5] === "A" ? "B" : "A") + payload.slice(6);
    for (const bad of [
      `${kid}.${flipped}.${mac}`,
      `${kid}.${payload}.${mac.slice(1)}A`,
      `k9.${payload}.${mac}`,
      `${kid}.${payload}`,
      "",
      "garbage",
      "a.b.c",
      "x".repeat(600),
    ]) {
      expect(await readClickId(KEYS, "adv_1", bad), bad).toBeNull();
    }
    // Rotation: an id minted under the old key is read while that key is still listed.
    const old = (await mintClickId(parseSigningKeys("k1:test-signing-key-one"), "adv_1", CLAIMS))!;
    expect(await readClickId(KEYS, "adv_1", old)).toEqual(CLAIMS);
    expect(await readClickId(parseSigningKeys("k3:another-secret-key"), "adv_1", old)).toBeNull();
  });

  it("adds one query parameter and keeps the query string and the fragment byte for byte", () => {
    expect(withQueryParam("https://a.example/", "ec_click_id", "v")).toBe("https://a.example/?ec_click_id=v");
    expect(withQueryParam("https://a.example/p?x=1&y=%20+#top", "ec_click_id", "v")).toBe(
      "https://a.example/p?x=1&y=%20+&ec_click_id=v#top",
    );
    expect(withQueryParam("https://a.example/p?#f?g", "gclid", "v")).toBe("https://a.example/p?gclid=v#f?g");
    expect(withQueryParam("https://a.example/p#frag", "gclid", "a.b_c-d")).toBe("https://a.example/p?gclid=a.b_c-d#frag");
  });
});

describe("GET /click adds a click id", () => {
  it("to the registered landing URL as ec_click_id, tied to the advertiser, never taken from the request", async () => {
    const landing = "https://shop.example/p?utm_source=x&q=a%20b#reviews";
    const s = await seedAd({ landing_url: landing });
    const res = await clickOf(`${s.click_url}&ec_click_id=forged`, "cid-1");
    expect(res.status).toBe(302);
    const location = res.headers.get("Location")!;
    const m = /^https:\/\/shop\.example\/p\?utm_source=x&q=a%20b&ec_click_id=([A-Za-z0-9._-]+)#reviews$/.exec(location);
    expect(m, location).not.toBeNull();
    const claims = await readClickId(KEYS, s.advertiser_id, m![1]);
    expect(claims).toMatchObject({ campaign_id: s.campaign_id, ad_id: s.ad_id, variant: null });
    expect(Math.abs(claims!.timestamp - Date.now())).toBeLessThan(60_000);
    // Another advertiser's hands: not a click id at all.
    const other = await seedAd();
    expect(await readClickId(KEYS, other.advertiser_id, m![1])).toBeNull();
    // Every click its own id.
    const again = (await clickOf(s.click_url, "cid-2")).headers.get("Location")!;
    expect(again).not.toBe(location);
  });

  it("under the ad's own parameter name, or not at all when click_id_param is null", async () => {
    const s = await seedAd();
    const named = await adminPost("ads", { campaign_id: s.campaign_id, landing_url: "https://n.example/x", click_id_param: "gclid" });
    expect((await clickOf(named.click_url, "p-1")).headers.get("Location")).toMatch(/^https:\/\/n\.example\/x\?gclid=[A-Za-z0-9._-]+$/);
    const off = await adminPost("ads", { campaign_id: s.campaign_id, landing_url: "https://off.example/x?a=1", click_id_param: null });
    expect((await clickOf(off.click_url, "p-2")).headers.get("Location")).toBe("https://off.example/x?a=1");
    for (const click_id_param of ["", "has space", "a&b", "x".repeat(65), 5]) {
      const bad = await call("http://query.test/v1/admin/ads", {
        method: "POST",
        headers: ADMIN,
        body: JSON.stringify({ campaign_id: s.campaign_id, landing_url: "https://b.example/", click_id_param }),
      });
      expect(bad.status, String(click_id_param)).toBe(400);
      expect((await json<{ error: { message: string } }>(bad)).error.message).toMatch(/^click_id_param/);
    }
  });

  it("is archived with its click (Parquet column click_id)", async () => {
    const s = await seedAd();
    const location = (await clickOf(s.click_url, "arch-1")).headers.get("Location")!;
    const clickId = new URL(location).searchParams.get("ec_click_id");
    const prefix = `raw/${hourPartition(Date.now())}/${s.campaign_id}`;
    const row = await waitFor(
      "the click in the archive",
      async () => {
        const { objects } = await testEnv.ARCHIVE.list({ prefix });
        for (const o of objects) {
          const rows = await decodeArchive(await (await testEnv.ARCHIVE.get(o.key))!.arrayBuffer(), ["click_id", "ad_id", "user_id"]);
          const hit = rows.find((r) => r.user_id === "arch-1");
          if (hit) return hit;
        }
        return null;
      },
      15_000,
    );
    expect(row).toEqual({ click_id: clickId, ad_id: s.ad_id, user_id: "arch-1" });
  });
});

const INGEST = "http://ingest.test";

async function postConversions(key: string, body: unknown, raw = false) {
  const res = await call(`${INGEST}/v1/conversions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}` },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, body: await json<{ accepted: number; rejected: { index: number; code: string; message: string }[] }>(res) };
}

async function clickIdOf(clickUrl: string, user: string, ip?: string): Promise<string> {
  const location = (await clickOf(clickUrl, user, ip)).headers.get("Location")!;
  return new URL(location).searchParams.get("ec_click_id")!;
}

type Bucket = { clicks: number; conversions: number; conversion_value: number; conversion_rate: number | null; group?: string | null };

async function metricsOf(key: string, query: string): Promise<Bucket[]> {
  const start = new Date(Date.now() - 2 * 3_600_000).toISOString();
  const end = new Date(Date.now() + 3_600_000).toISOString();
  const res = await call(`http://query.test/v1/metrics?${query}&start=${start}&end=${end}&granularity=day`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(200);
  return (await json<{ metrics: Bucket[] }>(res)).metrics;
}

const total = (bs: Bucket[]) =>
  bs.reduce((t, b) => ({ clicks: t.clicks + b.clicks, conversions: t.conversions + b.conversions, value: t.value + b.conversion_value }), {
    clicks: 0,
    conversions: 0,
    value: 0,
  });

describe("POST /v1/conversions", () => {
  it("counts each conversion_id once in its click's bucket; unknown, malformed and foreign click ids are unknown_click", async () => {
    const s = await seedAd();
    const ids = [await clickIdOf(s.click_url, "cv-1"), await clickIdOf(s.click_url, "cv-2"), await clickIdOf(s.click_url, "cv-3")];
    const other = await seedAd();
    const foreign = await clickIdOf(other.click_url, "cv-x");
    const [kid, payload, mac] = ids[2].split(".");
    const res = await postConversions(s.key, [
      { conversion_id: "order-1", click_id: ids[0], name: "purchase", value: 10.5, currency: "eur" },
      { conversion_id: "order-1", click_id: ids[0], value: 10.5 },
      { conversion_id: "order-2", click_id: ids[1], value: 5 },
      { conversion_id: "order-3", click_id: foreign },
      { conversion_id: "order-4", click_id: "not-a-click-id" },
      { conversion_id: "order-5", click_id: `${kid}.${payload}.${mac.slice(0, -2)}AA` },
      { conversion_id: "order-6" },
      { conversion_id: "order-7", click_id: ids[2], value: -1 },
      "nonsense",
    ]);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(3);
    expect(res.body.rejected.map((r) => [r.index, r.code])).toEqual([
      [3, "unknown_click"],
      [4, "unknown_click"],
      [5, "unknown_click"],
      [6, "missing_field"],
      [7, "invalid_field"],
      [8, "invalid_conversion"],
    ]);
    // The same message for every unknown_click: nothing tells a foreign click id from a made-up one.
    expect(new Set(res.body.rejected.slice(0, 3).map((r) => r.message)).size).toBe(1);

    const expectTotals = async () => {
      const t = total(await metricsOf(s.key, `ad_id=${s.ad_id}`));
      expect(t).toEqual({ clicks: 3, conversions: 2, value: 15.5 });
    };
    await expectTotals();
    const [bucket] = (await metricsOf(s.key, `ad_id=${s.ad_id}`)).filter((b) => b.clicks > 0);
    expect(bucket.conversion_rate).toBeCloseTo(2 / 3, 5);
    const live = await json<{ conversions: number; conversion_value: number; conversion_rate: number }>(
      await call(`http://query.test/v1/campaigns/${s.campaign_id}/live?minutes=10`, { headers: { Authorization: `Bearer ${s.key}` } }),
    );
    expect(live).toMatchObject({ conversions: 2, conversion_value: 15.5 });
    expect(live.conversion_rate).toBeCloseTo(2 / 3, 5);

    // A resend of the whole batch, as NDJSON: accepted again, counted nothing twice.
    const ndjson = [
      { conversion_id: "order-1", click_id: ids[0], value: 10.5 },
      { conversion_id: "order-2", click_id: ids[1], value: 5 },
    ]
      .map((c) => JSON.stringify(c))
      .join("\n");
    expect((await postConversions(s.key, ndjson, true)).body).toEqual({ accepted: 2, rejected: [] });
    await expectTotals();

    // Another campaign of the same advertiser: a conversion_id already reported counts once across campaigns.
    const cmp2 = await adminPost("campaigns", { advertiser_id: s.advertiser_id, name: "Other", cost_per_click: 0.1 });
    const ad2 = await adminPost("ads", { campaign_id: cmp2.campaign_id, landing_url: "https://two.example/" });
    const id2 = await clickIdOf(ad2.click_url, "cv-4");
    expect((await postConversions(s.key, [{ conversion_id: "order-1", click_id: id2 }])).body).toEqual({ accepted: 1, rejected: [] });
    expect(total(await metricsOf(s.key, `ad_id=${ad2.ad_id}`))).toEqual({ clicks: 1, conversions: 0, value: 0 });
    // …and the other advertiser's own order-1 is its own.
    expect((await postConversions(other.key, [{ conversion_id: "order-1", click_id: foreign }])).body.accepted).toBe(1);
    expect(total(await metricsOf(other.key, `ad_id=${other.ad_id}`))).toEqual({ clicks: 1, conversions: 1, value: 0 });

    // Archived once each, as Parquet under conversions/.
    const archived = await waitFor(
      "the conversions archive",
      async () => {
        const { objects } = await testEnv.ARCHIVE.list({ prefix: "conversions/" });
        const rows = [];
        for (const o of objects) {
          const file = await (await testEnv.ARCHIVE.get(o.key))!.arrayBuffer();
          rows.push(...(await decodeConversions(file)).filter((r) => r.advertiser_id === s.advertiser_id));
        }
        return rows.length >= 2 ? rows : null;
      },
      15_000,
    );
    expect(archived.map((r) => [r.conversion_id, r.ad_id, r.value, r.currency]).sort()).toEqual([
      ["order-1", s.ad_id, 10.5, "EUR"],
      ["order-2", s.ad_id, 5, null],
    ]);
  });

  it("refuses clicks older than the campaign's attribution window", async () => {
    const s = await seedAd();
    const cmp = await adminPost("campaigns", {
      advertiser_id: s.advertiser_id,
      name: "Short",
      cost_per_click: 0.1,
      attribution_window_days: 1,
    });
    const ad = await adminPost("ads", { campaign_id: cmp.campaign_id, landing_url: "https://short.example/" });
    const claims = (t: number): ClickClaims => ({ ...CLAIMS, campaign_id: cmp.campaign_id, ad_id: ad.ad_id, timestamp: t });
    const old = (await mintClickId(KEYS, s.advertiser_id, claims(Date.now() - 25 * 3_600_000)))!;
    const recent = (await mintClickId(KEYS, s.advertiser_id, claims(Date.now() - 23 * 3_600_000)))!;
    const res = await postConversions(s.key, [
      { conversion_id: "w-1", click_id: old },
      { conversion_id: "w-2", click_id: recent },
    ]);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected).toEqual([{ index: 0, code: "unknown_click", message: expect.any(String) }]);
    const bad = await call("http://query.test/v1/admin/campaigns", {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ advertiser_id: s.advertiser_id, name: "x", cost_per_click: 1, attribution_window_days: 91 }),
    });
    expect(bad.status).toBe(400);
  });

  it("takes only an advertiser's key, and refuses a body that is not conversions", async () => {
    const s = await seedAd();
    const pub = await adminPost("publishers", { name: "P" });
    expect((await postConversions(pub.api_key, [])).status).toBe(403);
    expect((await postConversions("ek_adv_nope", [])).status).toBe(401);
    const empty = await postConversions(s.key, "", true);
    expect([empty.status, (empty.body as unknown as { error: { code: string } }).error.code]).toEqual([400, "empty_body"]);
    const text = await postConversions(s.key, "hello", true);
    expect(text.status).toBe(400);
  });
});

describe("conversions across restarts and stored layouts", () => {
  it("a ledger that restarts (before or after its checkpoint) still knows every conversion_id", async () => {
    const s = await seedAd();
    const ids = [await clickIdOf(s.click_url, "rs-1"), await clickIdOf(s.click_url, "rs-2")];
    const ledger = testEnv.CONVERSIONS.getByName(s.advertiser_id);
    expect((await postConversions(s.key, [{ conversion_id: "r-1", click_id: ids[0] }])).body.accepted).toBe(1);
    // Evicted before any checkpoint: the id is in the log only.
    await evictDurableObject(ledger);
    expect((await postConversions(s.key, [{ conversion_id: "r-1", click_id: ids[1] }])).body.accepted).toBe(1);
    // After a checkpoint (the alarm) the log rows are gone once handed on; the id is in a checkpoint.
    await waitFor("the ledger's log to empty", async () => {
      await runDurableObjectAlarm(ledger);
      return (await ledger.stats()).log_rows === 0;
    });
    await evictDurableObject(ledger);
    expect((await postConversions(s.key, [{ conversion_id: "r-1", click_id: ids[1] }])).body.accepted).toBe(1);
    expect((await postConversions(s.key, [{ conversion_id: "r-2", click_id: ids[1], value: 2 }])).body.accepted).toBe(1);
    expect(total(await metricsOf(s.key, `ad_id=${s.ad_id}`))).toEqual({ clicks: 2, conversions: 2, value: 2 });
    // Rows written: one log row per batch with anything new, none for a batch of repeats.
    const st = await ledger.stats();
    expect(st.statements["INSERT log"]).toEqual(expect.objectContaining({ calls: 1, rows_written: 1 }));
  });

  it("a conversion logged between two click batches is not archived as clicks, and every row is archived and dropped", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const clicks = [makeEvent({ campaign_id }), makeEvent({ campaign_id })];
    await stub.record(0, [clicks[0]]);
    const conversion: Conversion = {
      ...CLAIMS,
      campaign_id,
      ad_id: "ad_test",
      conversion_id: "between",
      click_id: "x",
      advertiser_id: "adv_test",
      click_timestamp: clicks[0].timestamp,
      timestamp: Date.now(),
      received_at: Date.now(),
      name: null,
      value: 1,
      currency: null,
    };
    await stub.convert("adv_test", 1, [conversion]);
    await stub.record(0, [clicks[1]]);
    await waitFor(
      "every log row archived and dropped",
      async () => {
        await runDurableObjectAlarm(stub);
        stub.checkpointNow();
        await runDurableObjectAlarm(stub);
        return (await stub.backlog()).log_rows === 0;
      },
      15_000,
    );
    const keys = (await testEnv.ARCHIVE.list({ prefix: `raw/${hourPartition(clicks[0].timestamp)}/${campaign_id}` })).objects;
    const archived = [];
    for (const o of keys) archived.push(...(await decodeArchive(await (await testEnv.ARCHIVE.get(o.key))!.arrayBuffer(), ["event_id"])));
    expect(archived.map((r) => r.event_id).sort()).toEqual(clicks.map((c) => c.event_id).sort());
  });

  it("reads cell partitions written in layout 1 (six dimensions, no conversions) and rewrites them in the current layout", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const ts = Math.floor(Date.now() / 60_000) * 60_000;
    const part = Math.floor(ts / 600_000) * 600_000;
    // [ts, late, ad, country, device, os, publisher, format, clicks, cost, suspicious, duplicates, invalid, 7 invalid reasons, geo, users]
    const v1 = [[ts, 0, "ad_old", "DE", "mobile", "iOS", "", "", 3, 1_500_000, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, ""]];
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec(
        "INSERT INTO blob (name, chunk, body) VALUES (?, 0, ?)",
        `c:minute:${part}`,
        new TextEncoder().encode(JSON.stringify(v1)).buffer,
      );
    });
    await evictDurableObject(stub);
    const q = { granularity: "minute" as const, from: ts, to: ts + 60_000, group_by: "variant" as const };
    const before = await stub.cells(q);
    expect(before).toEqual([
      expect.objectContaining({
        ts,
        group: "",
        clicks: 3,
        cost_micros: 1_500_000,
        duplicates: 1,
        invalid: 1,
        conversions: 0,
        reasons: { bot_ua: 1 },
      }),
    ]);
    const conversion: Conversion = {
      ...CLAIMS,
      campaign_id,
      ad_id: "ad_old",
      variant: null,
      publisher_id: null,
      country: "DE",
      device_type: "mobile",
      os: "iOS",
      conversion_id: "o-1",
      click_id: "x",
      advertiser_id: "adv_old",
      click_timestamp: ts + 5,
      timestamp: Date.now(),
      received_at: Date.now(),
      name: null,
      value: 4.25,
      currency: null,
    };
    await stub.convert("adv_old", 1, [conversion]);
    await stub.convert("adv_old", 1, [conversion]); // the ledger handing the same row on again
    stub.checkpointNow();
    await evictDurableObject(stub);
    expect(await stub.cells(q)).toEqual([
      expect.objectContaining({ clicks: 3, conversions: 1, conversion_value_micros: 4_250_000, reasons: { bot_ua: 1 } }),
    ]);
    const stored = await runInDurableObject(stub, (_o, state) => {
      const row = state.storage.sql.exec<{ body: ArrayBuffer }>("SELECT body FROM blob WHERE name = ?", `c:minute:${part}`).one();
      return JSON.parse(new TextDecoder().decode(row.body)) as { v: number; cells: unknown[][] };
    });
    expect(stored.v).toBe(3);
    expect(stored.cells[0].slice(2, 10)).toEqual(["ad_old", "DE", "mobile", "iOS", "", "", "", ""]);
  });
});

describe("A/B experiments (unit)", () => {
  it("picks by weight, the same variant for the same (ad, user), independently per ad", () => {
    const vs = [
      { name: "A", landing_url: "https://a.example/", weight: 1 },
      { name: "B", landing_url: "https://b.example/", weight: 3 },
    ];
    const n = 20_000;
    let b = 0;
    for (let i = 0; i < n; i++) {
      const v = pickVariant(vs, "ad_x", `user-${i}`);
      expect(pickVariant(vs, "ad_x", `user-${i}`)).toBe(v);
      if (v.name === "B") b++;
    }
    // 3σ of a binomial(20000, 0.75) is about 184.
    expect(Math.abs(b - 0.75 * n)).toBeLessThan(184);
    // Another ad splits the same users independently (about half of B's users are B there too, not all).
    let both = 0;
    for (let i = 0; i < 4_000; i++)
      if (pickVariant(vs, "ad_x", `u${i}`).name === "B" && pickVariant(vs, "ad_y", `u${i}`).name === "B") both++;
    expect(Math.abs(both / 4_000 - 0.5625)).toBeLessThan(0.03);
  });

  it("two-proportion z-test: known values", () => {
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
    // 200/1000 against 150/1000: pooled p 0.175, z = 0.05 / sqrt(0.175 · 0.825 · 0.002) = 2.9424, p = 0.00326.
    const t = twoProportionZTest(200, 1000, 150, 1000);
    expect(t.z).toBeCloseTo(2.94245, 4);
    expect(t.p_value).toBeCloseTo(0.003258, 5);
    expect(twoProportionZTest(10, 100, 10, 100)).toEqual({ z: 0, p_value: 1 });
    expect(twoProportionZTest(0, 100, 0, 50)).toEqual({ z: 0, p_value: 1 });
    expect(twoProportionZTest(1, 0, 0, 10)).toEqual({ z: 0, p_value: 1 });
  });
});

describe("A/B experiments", () => {
  it("refuses variants that do not make an experiment", async () => {
    const s = await seedAd();
    const v = (name: string, weight = 1) => ({ name, landing_url: `https://${name.toLowerCase()}.example/`, weight });
    for (const body of [
      { variants: [v("A")] },
      { variants: Array.from({ length: 11 }, (_, i) => v(`V${i}`)) },
      { variants: [v("A"), v("B", 0)] },
      { variants: [v("A"), v("B", -1)] },
      { variants: [v("A"), v("A")] },
      { variants: [v("A"), { ...v("B"), landing_url: "javascript:alert(1)" }] },
      { variants: [v("A"), v("B")], landing_url: "https://x.example/" },
      {},
    ]) {
      const res = await call("http://query.test/v1/admin/ads", {
        method: "POST",
        headers: ADMIN,
        body: JSON.stringify({ campaign_id: s.campaign_id, ...body }),
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });

  it("splits users by weight, keeps each on one variant, and summarises clicks, conversions and significance", async () => {
    const s = await seedAd();
    const ad = await adminPost("ads", {
      campaign_id: s.campaign_id,
      variants: [
        { name: "control", landing_url: "https://exp.example/a?x=1", weight: 1 },
        { name: "bold", landing_url: "https://exp.example/b", weight: 3 },
      ],
    });
    const users = 200;
    const seen = new Map<string, { variant: string; clickId: string }>();
    for (let i = 0; i < users; i++) {
      const ip = `10.77.${i >> 8}.${i & 255}`;
      for (let k = 0; k < 2; k++) {
        const location = (await clickOf(ad.click_url, `exp-${i}`, ip)).headers.get("Location")!;
        const variant = location.startsWith("https://exp.example/a?x=1&ec_click_id=") ? "control" : "bold";
        if (variant === "bold") expect(location).toMatch(/^https:\/\/exp\.example\/b\?ec_click_id=/);
        const prev = seen.get(`exp-${i}`);
        if (prev) expect(variant, `user ${i}`).toBe(prev.variant);
        else seen.set(`exp-${i}`, { variant, clickId: new URL(location).searchParams.get("ec_click_id")! });
      }
    }
    const clicks = { control: 0, bold: 0 };
    for (const { variant } of seen.values()) clicks[variant as keyof typeof clicks]++;
    // Weight 3 of 4: 150 expected; 4σ of binomial(200, 0.75) is about 24.
    expect(Math.abs(clicks.bold - 150)).toBeLessThan(24);

    // Conversions: every 2nd bold user, every 10th control user (plus a repeat, which counts once).
    const conversions: { conversion_id: string; click_id: string }[] = [];
    const converted = { control: 0, bold: 0 };
    let i = 0;
    for (const [user, { variant, clickId }] of seen) {
      if (i++ % (variant === "bold" ? 2 : 10) !== 0) continue;
      conversions.push({ conversion_id: `buy-${user}`, click_id: clickId });
      converted[variant as keyof typeof converted]++;
    }
    conversions.push({ ...conversions[0] });
    expect((await postConversions(s.key, conversions)).body).toEqual({ accepted: conversions.length, rejected: [] });

    const res = await call(`http://query.test/v1/ads/${ad.ad_id}/experiment`, { headers: { Authorization: `Bearer ${s.key}` } });
    expect(res.status).toBe(200);
    const body = await json<Record<string, unknown>>(res);
    const rate = (v: keyof typeof clicks) => converted[v] / clicks[v];
    const t = twoProportionZTest(converted.bold, clicks.bold, converted.control, clicks.control);
    expect(body).toMatchObject({
      ad_id: ad.ad_id,
      variants: [
        {
          name: "control",
          weight: 1,
          clicks: clicks.control,
          conversions: converted.control,
          conversion_rate: expect.closeTo(rate("control"), 5),
        },
        { name: "bold", weight: 3, clicks: clicks.bold, conversions: converted.bold, conversion_rate: expect.closeTo(rate("bold"), 5) },
      ],
      best: "bold",
      runner_up: "control",
      method: expect.stringMatching(/two-proportion z-test/),
      alpha: 0.05,
      z: expect.closeTo(t.z, 4),
      p_value: expect.closeTo(t.p_value, 6),
      significant: t.p_value < 0.05,
    });
    expect(body.significant).toBe(true);

    // group_by=variant in metrics says the same.
    const byVariant = await metricsOf(s.key, `ad_id=${ad.ad_id}&group_by=variant`);
    const sums = new Map<string, { clicks: number; conversions: number }>();
    for (const b of byVariant) {
      const t2 = sums.get(b.group ?? "") ?? { clicks: 0, conversions: 0 };
      sums.set(b.group ?? "", { clicks: t2.clicks + b.clicks, conversions: t2.conversions + b.conversions });
    }
    expect(Object.fromEntries(sums)).toEqual({
      control: { clicks: clicks.control, conversions: converted.control },
      bold: { clicks: clicks.bold, conversions: converted.bold },
    });
    const filtered = total(await metricsOf(s.key, `ad_id=${ad.ad_id}&filter=variant:bold`));
    expect(filtered).toMatchObject({ clicks: clicks.bold, conversions: converted.bold });
    // Another advertiser's key: 404, as if it did not exist.
    const other = await seedAd();
    const foreign = await call(`http://query.test/v1/ads/${ad.ad_id}/experiment`, { headers: { Authorization: `Bearer ${other.key}` } });
    expect(foreign.status).toBe(404);
  });
});

describe("heatmaps", () => {
  it("normalises points into a 20 × 20 grid and ignores what is missing or outside the creative", () => {
    expect(heatCell({ x: 0, y: 0, w: 300, h: 250 })).toBe(0);
    expect(heatCell({ x: 299, y: 249, w: 300, h: 250 })).toBe(19 * 20 + 19);
    expect(heatCell({ x: 150, y: 125, w: 300, h: 250 })).toBe(10 * 20 + 10);
    for (const bad of [
      { x: 300, y: 0, w: 300, h: 250 },
      { x: -1, y: 0, w: 300, h: 250 },
      { x: 0, y: 250, w: 300, h: 250 },
      { x: 5, y: 5, w: null, h: 250 },
      { x: null, y: 5, w: 300, h: 250 },
      { x: 5, y: 5, w: 0, h: 0 },
    ]) {
      expect(heatCell(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it("GET /v1/ads/{ad_id}/heatmap counts clean clicks per cell; a bad point never stops the person", async () => {
    const s = await seedAd();
    const clicks: [user: string, query: string, ua?: string][] = [
      ["h1", "x=0&y=0&w=300&h=250"],
      ["h2", "x=10&y=5&w=300&h=250"],
      ["h3", "x=299&y=249&w=300&h=250"],
      ["h4", "x=150&y=125&w=300&h=250"],
      ["h4", "x=150&y=125&w=300&h=250"], // the same user in the same minute: a duplicate, not a click
      ["h5", "x=150&y=125&w=300&h=250", "curl/8.5.0"], // a bot: invalid
      ["h6", "x=300&y=10&w=300&h=250"], // outside
      ["h7", "x=-5&y=10&w=300&h=250"],
      ["h8", "x=10&y=10"], // no frame
      ["h9", "x={x}&y={y}&w=300&h=250"], // an unexpanded macro
      ["h10", "x=1e3&y=2&w=abc&h=250"],
    ];
    let n = 0;
    for (const [user, query, ua] of clicks) {
      const res = await call(`${s.click_url}&user_id=${user}&${query}`, {
        headers: { "User-Agent": ua ?? BROWSER, "CF-Connecting-IP": `198.51.100.${100 + n++}` },
      });
      expect(res.status, query).toBe(302);
    }
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const url = `http://query.test/v1/ads/${s.ad_id}/heatmap?from=${from}&to=${to}`;
    const res = await call(url, { headers: { Authorization: `Bearer ${s.key}` } });
    expect(res.status).toBe(200);
    const body = await json<{ cols: number; rows: number; cells: { col: number; row: number; clicks: number }[] }>(res);
    expect(body).toMatchObject({ ad_id: s.ad_id, cols: 20, rows: 20 });
    expect(body.cells).toEqual([
      { col: 0, row: 0, clicks: 2 },
      { col: 10, row: 10, clicks: 1 },
      { col: 19, row: 19, clicks: 1 },
    ]);
    const other = await seedAd();
    expect((await call(url, { headers: { Authorization: `Bearer ${other.key}` } })).status).toBe(404);
    const backwards = await call(`http://query.test/v1/ads/${s.ad_id}/heatmap?from=${to}&to=${from}`, { headers: ADMIN });
    expect(backwards.status).toBe(400);
    expect((await call(`http://query.test/v1/ads/${s.ad_id}/heatmap?from=${from}`, { headers: ADMIN })).status).toBe(400);
    // Kept across a restart of the campaign object (checkpoint or log replay).
    const stub = campaignStub(testEnv.CAMPAIGN, s.campaign_id, 0);
    await evictDurableObject(stub);
    expect((await json<{ cells: unknown[] }>(await call(url, { headers: ADMIN }))).cells).toEqual(body.cells);
  });
});

describe("ad groups", () => {
  it("group a campaign's ads: metrics group and filter by ad_group_id and ad_id, conversions included", async () => {
    const s = await seedAd();
    const g1 = await adminPost("ad-groups", { campaign_id: s.campaign_id, name: "Video" });
    const g2 = await adminPost("ad-groups", { campaign_id: s.campaign_id, name: "Display" });
    expect(g1.ad_group_id).toMatch(/^adg_/);
    const ad = (group?: string) =>
      adminPost("ads", { campaign_id: s.campaign_id, landing_url: "https://grp.example/", ...(group ? { ad_group_id: group } : {}) });
    const [a1, a2, a3] = [await ad(g1.ad_group_id), await ad(g1.ad_group_id), await ad(g2.ad_group_id)];
    // The campaign lists its groups, and each ad its group.
    const listed = await json<{ campaigns: { ad_groups: unknown[]; ads: { ad_id: string; ad_group_id: string | null }[] }[] }>(
      await call(`http://query.test/v1/campaigns`, { headers: { Authorization: `Bearer ${s.key}` } }),
    );
    expect(listed.campaigns[0].ad_groups).toEqual([
      { ad_group_id: g1.ad_group_id, name: "Video" },
      { ad_group_id: g2.ad_group_id, name: "Display" },
    ]);
    const groupOf = Object.fromEntries(listed.campaigns[0].ads.map((a) => [a.ad_id, a.ad_group_id]));
    expect(groupOf).toEqual({ [s.ad_id]: null, [a1.ad_id]: g1.ad_group_id, [a2.ad_id]: g1.ad_group_id, [a3.ad_id]: g2.ad_group_id });
    const plan: [typeof a1, number][] = [
      [a1, 3],
      [a2, 2],
      [a3, 4],
      [{ ad_id: s.ad_id, click_url: s.click_url }, 1],
    ];
    const clickIds = new Map<string, string[]>();
    let n = 0;
    for (const [a, users] of plan) {
      for (let i = 0; i < users; i++) {
        const id = await clickIdOf(a.click_url, `grp-${n}`, `10.88.0.${n++}`);
        clickIds.set(a.ad_id, [...(clickIds.get(a.ad_id) ?? []), id]);
      }
    }
    const conversions = [
      { conversion_id: "g-1", click_id: clickIds.get(a1.ad_id)![0], value: 1 },
      { conversion_id: "g-2", click_id: clickIds.get(a3.ad_id)![0], value: 2 },
      { conversion_id: "g-3", click_id: clickIds.get(a3.ad_id)![1], value: 3 },
    ];
    expect((await postConversions(s.key, conversions)).body.accepted).toBe(3);

    const grouped = async (query: string) => {
      const out: Record<string, { clicks: number; conversions: number; value: number }> = {};
      for (const b of await metricsOf(s.key, query)) {
        const k = b.group ?? "(none)";
        const t = out[k] ?? { clicks: 0, conversions: 0, value: 0 };
        out[k] = { clicks: t.clicks + b.clicks, conversions: t.conversions + b.conversions, value: t.value + b.conversion_value };
      }
      return out;
    };
    expect(await grouped(`campaign_id=${s.campaign_id}&group_by=ad_group_id`)).toEqual({
      [g1.ad_group_id]: { clicks: 5, conversions: 1, value: 1 },
      [g2.ad_group_id]: { clicks: 4, conversions: 2, value: 5 },
      "(none)": { clicks: 1, conversions: 0, value: 0 },
    });
    expect(await grouped(`campaign_id=${s.campaign_id}&group_by=ad_id`)).toEqual({
      [a1.ad_id]: { clicks: 3, conversions: 1, value: 1 },
      [a2.ad_id]: { clicks: 2, conversions: 0, value: 0 },
      [a3.ad_id]: { clicks: 4, conversions: 2, value: 5 },
      [s.ad_id]: { clicks: 1, conversions: 0, value: 0 },
    });
    expect(total(await metricsOf(s.key, `campaign_id=${s.campaign_id}&filter=ad_group_id:${g1.ad_group_id}`))).toEqual({
      clicks: 5,
      conversions: 1,
      value: 1,
    });
    expect(total(await metricsOf(s.key, `campaign_id=${s.campaign_id}&filter=ad_id:${a3.ad_id}`))).toEqual({
      clicks: 4,
      conversions: 2,
      value: 5,
    });

    // Billing breaks the campaign down by ad group as well: per group, what real time counted that day.
    const today = new Date().toISOString().slice(0, 10);
    const billingUrl = `http://query.test/v1/billing?campaign_id=${s.campaign_id}&from=${today}&to=${today}T23:59:59.999Z`;
    type Row = { ad_group_id: string | null; clicks: number; unique_users: number };
    const rows = await waitFor(
      "the ten clicks billed",
      async () => {
        await adminPost("rollup", { date: today });
        const body = await json<{ rows: Row[] }>(await call(billingUrl, { headers: { Authorization: `Bearer ${s.key}` } }));
        return body.rows.reduce((n, r) => n + r.clicks, 0) === 10 && body.rows;
      },
      30_000,
    );
    const billedByGroup: Record<string, { clicks: number; unique_users: number }> = {};
    for (const r of rows) {
      const t = billedByGroup[r.ad_group_id ?? "(none)"] ?? { clicks: 0, unique_users: 0 };
      billedByGroup[r.ad_group_id ?? "(none)"] = { clicks: t.clicks + r.clicks, unique_users: t.unique_users + r.unique_users };
    }
    const realtime = await grouped(`campaign_id=${s.campaign_id}&group_by=ad_group_id`);
    expect(Object.fromEntries(Object.entries(billedByGroup).map(([g, b]) => [g, b.clicks]))).toEqual(
      Object.fromEntries(Object.entries(realtime).map(([g, m]) => [g, m.clicks])),
    );
    // One user per click here, each in one row.
    expect(billedByGroup).toEqual({
      [g1.ad_group_id]: { clicks: 5, unique_users: 5 },
      [g2.ad_group_id]: { clicks: 4, unique_users: 4 },
      "(none)": { clicks: 1, unique_users: 1 },
    });
  });

  it("refuses unknown campaigns and groups, a group of another campaign, and non-admins", async () => {
    const s = await seedAd();
    const other = await seedAd();
    const foreignGroup = await adminPost("ad-groups", { campaign_id: other.campaign_id, name: "Theirs" });
    const post = (path: string, body: unknown, headers = ADMIN) =>
      call(`http://query.test/v1/admin/${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    expect((await post("ad-groups", { campaign_id: "cmp_nope", name: "x" })).status).toBe(404);
    expect((await post("ad-groups", { campaign_id: s.campaign_id })).status).toBe(400);
    expect((await post("ad-groups", { campaign_id: s.campaign_id, name: "x", extra: 1 })).status).toBe(400);
    expect((await post("ad-groups", { campaign_id: s.campaign_id, name: "x" }, { Authorization: `Bearer ${s.key}` })).status).toBe(403);
    const landing_url = "https://g.example/";
    expect((await post("ads", { campaign_id: s.campaign_id, landing_url, ad_group_id: "adg_nope" })).status).toBe(404);
    const cross = await post("ads", { campaign_id: s.campaign_id, landing_url, ad_group_id: foreignGroup.ad_group_id });
    expect(cross.status).toBe(400);
    expect((await json<{ error: { message: string } }>(cross)).error.message).toMatch(/^ad_group_id/);
    const bad = await call(`http://query.test/v1/metrics?campaign_id=${s.campaign_id}&start=0&end=60000&group_by=nope`, { headers: ADMIN });
    expect(bad.status).toBe(400);
  });
});
