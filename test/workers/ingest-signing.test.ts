/**
 * Signed click links (domain/signing.ts): key rotation, and what happens to links that do not verify.
 * The test Worker runs with two active keys, `CLICK_SIGNING_KEYS = "k2:…,k1:…"` (vitest.config.ts): k2
 * is the new one, k1 the one being retired.
 */
import { describe, expect, it } from "vitest";
import { parseSigningKeys, signClick, verifyClick, type SigningKey } from "../../domain/signing";
import { ADMIN, BROWSER, adminPost, call, json, seedAd, testEnv, landingOf } from "./helpers";

const Q = "http://query.test";
const I = "http://ingest.test";

const k = (id: string, secret: string): SigningKey => ({ id, secret });
const OLD = k("k1", "old-secret-0123456789");
const NEW = k("k2", "new-secret-9876543210");

describe("signing keys", () => {
  it("reads newest first, keeps at most two, and skips malformed entries", () => {
    expect(parseSigningKeys("k2:new-secret-1, k1:old-secret-2")).toEqual([k("k2", "new-secret-1"), k("k1", "old-secret-2")]);
    expect(parseSigningKeys("k3:third-secret,k2:second-secret,k1:first-secret").map((x) => x.id)).toEqual(["k3", "k2"]);
    // No colon, a short secret, an id with other characters: not keys.
    expect(parseSigningKeys("nocolon,k1:short,bad id:long-enough-secret,k2:good-secret")).toEqual([k("k2", "good-secret")]);
    // A secret may itself contain colons.
    expect(parseSigningKeys("k1:a:b:c:d:e:f")).toEqual([k("k1", "a:b:c:d:e:f")]);
    expect(parseSigningKeys(undefined)).toEqual([]);
    expect(parseSigningKeys("")).toEqual([]);
  });

  it("signs with the newest key and verifies with whichever active key a link names", async () => {
    const oldLink = await signClick([OLD], "ad_1", "pub_1");
    expect(oldLink.startsWith("k1.")).toBe(true);
    // Rotation: k2 becomes the signing key, k1 stays active for the links already out there.
    const rotated = [NEW, OLD];
    expect(await verifyClick(rotated, "ad_1", "pub_1", oldLink)).toBe(true);
    const newLink = await signClick(rotated, "ad_1", "pub_1");
    expect(newLink.startsWith("k2.")).toBe(true);
    expect(await verifyClick(rotated, "ad_1", "pub_1", newLink)).toBe(true);
    // Once k1 is retired, its links stop verifying; new links keep working.
    expect(await verifyClick([NEW], "ad_1", "pub_1", oldLink)).toBe(false);
    expect(await verifyClick([NEW], "ad_1", "pub_1", newLink)).toBe(true);
    await expect(signClick([], "ad_1", "pub_1")).rejects.toThrow();
  });

  it("refuses a signature for another ad or publisher, another secret, an unknown key id, or a mangled tag", async () => {
    const sig = await signClick([NEW, OLD], "ad_1", "pub_1");
    const tag = sig.slice(sig.indexOf(".") + 1);
    const keys = [NEW, OLD];
    expect(await verifyClick(keys, "ad_2", "pub_1", sig)).toBe(false);
    expect(await verifyClick(keys, "ad_1", "pub_2", sig)).toBe(false);
    // "ad_1|pub_1" must not be confusable with a shifted separator.
    expect(await verifyClick(keys, "ad_1|pub", "_1", sig)).toBe(false);
    expect(await verifyClick([k("k2", "some-other-secret")], "ad_1", "pub_1", sig)).toBe(false);
    expect(await verifyClick(keys, "ad_1", "pub_1", `k9.${tag}`)).toBe(false);
    expect(await verifyClick(keys, "ad_1", "pub_1", `k1.${tag}`)).toBe(false);
    for (const bad of [
      tag,
      `.${tag}`,
      "k2.",
      `k2.${tag.slice(0, -1)}`,
      `k2.${tag}A`,
      `k2.${tag.replace(/^./, (c) => (c === "A" ? "B" : "A"))}`,
      "k2.!!!!",
      `k2.${tag}==`,
      "",
    ]) {
      expect(await verifyClick(keys, "ad_1", "pub_1", bad), bad).toBe(false);
    }
  });
});

describe("signed click links at the edge", () => {
  it("keeps old links working through a rotation, signs new ones with the new key, and counts every bad link as bad_signature", async () => {
    const active = parseSigningKeys(testEnv.CLICK_SIGNING_KEYS);
    expect(active.map((x) => x.id)).toEqual(["k2", "k1"]);
    const [current, previous] = active;

    const s = await seedAd({ landing_url: "https://signed.example/" });
    const other = await seedAd({ landing_url: "https://other.example/" });
    const pub = await adminPost("publishers", { name: "Pub" });
    const pub2 = await adminPost("publishers", { name: "Pub 2" });

    // New links come signed with the current key alone.
    const { click_url } = await adminPost("click-urls", { ad_id: s.ad_id, publisher_id: pub.publisher_id });
    const fresh = new URL(click_url);
    expect(fresh.searchParams.get("sig")!.startsWith(`${current.id}.`)).toBe(true);
    expect(await verifyClick([current], s.ad_id, pub.publisher_id, fresh.searchParams.get("sig")!)).toBe(true);

    const link = (adId: string, p: string, sig: string) => `${I}/click?${new URLSearchParams({ ad_id: adId, pub: p, sig })}`;
    const oldLink = link(s.ad_id, pub.publisher_id, await signClick([previous], s.ad_id, pub.publisher_id));
    const good = [click_url, oldLink];
    const bad = [
      // Signed with a key that has been retired (not in CLICK_SIGNING_KEYS any more).
      link(s.ad_id, pub.publisher_id, await signClick([k("k0", "retired-secret-000")], s.ad_id, pub.publisher_id)),
      // The right HMAC under a key id that is not active.
      link(s.ad_id, pub.publisher_id, (await signClick([previous], s.ad_id, pub.publisher_id)).replace(/^[^.]+/, "k7")),
      // A valid link moved to another publisher.
      link(s.ad_id, pub2.publisher_id, fresh.searchParams.get("sig")!),
    ];
    // A valid link moved to another ad: counted on that ad's campaign.
    const moved = link(other.ad_id, pub.publisher_id, fresh.searchParams.get("sig")!);

    let ip = 0;
    const click = (url: string) => call(url, { headers: { "User-Agent": BROWSER, "CF-Connecting-IP": `192.0.2.${++ip}` } });
    for (const url of good) {
      const res = await click(url);
      expect(res.status, url).toBe(302);
      expect(landingOf(res.headers.get("Location"))).toBe("https://signed.example/");
    }
    for (const url of [...bad, moved]) {
      const res = await click(url);
      expect(res.status, url).toBe(403);
      expect(res.headers.get("Location")).toBeNull();
      expect(await json(res)).toEqual({ error: { code: "bad_signature", message: expect.any(String) } });
    }

    const byPublisher = async (t: { campaign_id: string }) => {
      const now = Date.now();
      const q = new URLSearchParams({
        campaign_id: t.campaign_id,
        start: String(now - 3_600_000),
        end: String(now + 3_600_000),
        granularity: "hour",
        group_by: "publisher_id",
      });
      const { metrics } = await json<{ metrics: { group: string; clicks: number; invalid_by_reason: Record<string, number> }[] }>(
        await call(`${Q}/v1/metrics?${q}`, { headers: ADMIN }),
      );
      const out: Record<string, { clicks: number; bad_signature: number }> = {};
      for (const m of metrics) {
        const g = (out[m.group] ??= { clicks: 0, bad_signature: 0 });
        g.clicks += m.clicks;
        g.bad_signature += m.invalid_by_reason.bad_signature ?? 0;
      }
      return Object.fromEntries(Object.entries(out).filter(([, v]) => v.clicks + v.bad_signature > 0));
    };
    // Valid clicks are the publisher's; forged ones are invalid, under the publisher they claimed.
    expect(await byPublisher(s)).toEqual({
      [pub.publisher_id]: { clicks: good.length, bad_signature: bad.length - 1 },
      [pub2.publisher_id]: { clicks: 0, bad_signature: 1 },
    });
    expect(await byPublisher(other)).toEqual({ [pub.publisher_id]: { clicks: 0, bad_signature: 1 } });
  });
});
