/**
 * Attribution (issue 12) through the public surface: click ids on the redirect and in the archive.
 */
import { describe, expect, it } from "vitest";
import { mintClickId, readClickId, withQueryParam, type ClickClaims } from "../../domain/click-id";
import { hourPartition } from "../../domain/archive-layout";
import { decodeArchive } from "../../domain/parquet";
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
