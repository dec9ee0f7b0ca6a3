/**
 * Attribution on the real local stack, the whole story: an ad with two variants in an ad group and a plain
 * ad in another, 1,000 users clicking (with positions on the creative), conversions for a known subset
 * (with repeats, another advertiser's and made-up click ids), then metrics, the experiment summary, the
 * heatmap and the ad-group breakdown, each checked against a calculation of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, BROWSER, api, drained, removeDir, seed, startTestStack, waitFor, type TestStack } from "./harness";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.close();
  if (stack) for (const dir of [stack.persistTo, stack.buildDir]) removeDir(dir);
});

const USERS = 1_000;
const WEIGHTS = { control: 30, bold: 70 };
const W = 320;
const H = 100;

/** Runs fn over items, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Φ by Simpson's rule on the normal density: independent of the server's erf approximation. */
function phi(z: number): number {
  const n = 20_000;
  const a = 0;
  const b = Math.abs(z);
  const h = (b - a) / n;
  const f = (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
  const half = (s * h) / 3;
  return z >= 0 ? 0.5 + half : 0.5 - half;
}

describe("attribution through the whole local stack", () => {
  it("variants, conversions, experiment, heatmap and ad groups agree with what was sent", async () => {
    const admin = (path: string, body: unknown) =>
      api<Record<string, string>>(`${stack.queryUrl}/v1/admin/${path}`, { method: "POST", token: ADMIN_TOKEN, body: JSON.stringify(body) });
    const acme = await seed(stack, "Acme");
    const rival = await seed(stack, "Rival");
    const group = (name: string) => admin("ad-groups", { campaign_id: acme.campaign_id, name }).then((r) => r.body.ad_group_id);
    const [g1, g2] = [await group("Experiment"), await group("Plain")];
    const exp = (
      await admin("ads", {
        campaign_id: acme.campaign_id,
        ad_group_id: g1,
        variants: [
          { name: "control", landing_url: "https://acme.example/a?ref=x#top", weight: WEIGHTS.control },
          { name: "bold", landing_url: "https://acme.example/b", weight: WEIGHTS.bold },
        ],
      })
    ).body;
    const plain = (await admin("ads", { campaign_id: acme.campaign_id, ad_group_id: g2, landing_url: "https://acme.example/p" })).body;
    expect(exp.ad_id).toBeTruthy();

    // 1,000 users click the experiment, each from their own address, most at a point on the 320 × 100 creative.
    type Click = { user: number; variant: "control" | "bold"; clickId: string; cell: number | null };
    const clicks: Click[] = [];
    const point = (u: number) => (u % 10 === 9 ? null : { x: (u * 37) % (W + 20), y: (u * 53) % H });
    await pool(
      Array.from({ length: USERS }, (_, u) => u),
      16,
      async (u) => {
        const p = point(u);
        const at = p ? `&x=${p.x}&y=${p.y}&w=${W}&h=${H}` : "";
        const res = await fetch(`${exp.click_url}&user_id=user-${u}${at}`, {
          redirect: "manual",
          headers: { "User-Agent": BROWSER, "CF-Connecting-IP": `10.${u >> 8}.${u & 255}.7`, "CF-IPCountry": "DE" },
        });
        expect(res.status).toBe(302);
        const location = res.headers.get("location")!;
        const m = /^https:\/\/acme\.example\/(?:a\?ref=x&ec_click_id=([A-Za-z0-9._-]+)#top|b\?ec_click_id=([A-Za-z0-9._-]+))$/.exec(
          location,
        );
        expect(m, location).not.toBeNull();
        const inside = p && p.x < W && p.y < H;
        clicks.push({
          user: u,
          variant: m![1] ? "control" : "bold",
          clickId: m![1] ?? m![2],
          cell: inside ? Math.floor((p.y / H) * 20) * 20 + Math.floor((p.x / W) * 20) : null,
        });
      },
    );
    // Every user stays on their variant (HEAD answers the same redirect without recording a click).
    await pool(clicks.slice(0, 200), 16, async (c) => {
      const res = await fetch(`${exp.click_url}&user_id=user-${c.user}`, { method: "HEAD", redirect: "manual" });
      expect(res.headers.get("location")!.startsWith(c.variant === "control" ? "https://acme.example/a" : "https://acme.example/b")).toBe(
        true,
      );
    });
    const n = { control: clicks.filter((c) => c.variant === "control").length, bold: 0 };
    n.bold = USERS - n.control;
    // Within 4σ of the weights: binomial(1000, 0.3) has σ ≈ 14.5.
    expect(Math.abs(n.control - 300)).toBeLessThan(58);

    // 40 users of the plain ad.
    const plainIds: string[] = [];
    for (let u = 0; u < 40; u++) {
      const res = await fetch(`${plain.click_url}&user_id=plain-${u}`, {
        redirect: "manual",
        headers: { "User-Agent": BROWSER, "CF-Connecting-IP": `10.200.${u}.9` },
      });
      plainIds.push(new URL(res.headers.get("location")!).searchParams.get("ec_click_id")!);
    }
    const rivalRes = await fetch(`${rival.click_url}&user_id=r1`, { redirect: "manual", headers: { "User-Agent": BROWSER } });
    const rivalId = new URL(rivalRes.headers.get("location")!).searchParams.get("ec_click_id")!;

    // Conversions: every 4th bold user and every 9th control user; every 5th plain user. Values vary.
    const converting = clicks.filter((c) => c.user % (c.variant === "bold" ? 4 : 9) === 0);
    const value = (u: number) => (u % 5) + 0.25;
    const lines = [
      ...converting.map((c) => ({ conversion_id: `order-${c.user}`, click_id: c.clickId, value: value(c.user), currency: "EUR" })),
      ...plainIds.filter((_, u) => u % 5 === 0).map((id, k) => ({ conversion_id: `plain-${k}`, click_id: id, value: 1 })),
    ];
    const repeats = lines.slice(0, 25);
    const bad = [
      { conversion_id: "rival", click_id: rivalId },
      { conversion_id: "made-up", click_id: "k1.eyJ4IjoxfQ.AAAAAAAAAAAAAAAAAAAAAA" },
    ];
    const post = (items: unknown[]) =>
      api<{ accepted: number; rejected: { index: number; code: string }[] }>(`${stack.ingestUrl}/v1/conversions`, {
        method: "POST",
        token: acme.key,
        headers: { "Content-Type": "application/x-ndjson" },
        body: items.map((i) => JSON.stringify(i)).join("\n"),
      });
    for (let i = 0; i < lines.length; i += 100) {
      const r = await post(lines.slice(i, i + 100));
      expect(r).toEqual({ status: 202, body: { accepted: Math.min(100, lines.length - i), rejected: [] } });
    }
    const again = await post([...repeats, ...bad]);
    expect(again.body.accepted).toBe(repeats.length);
    expect(again.body.rejected).toEqual([
      { index: repeats.length, code: "unknown_click", message: expect.any(String) },
      { index: repeats.length + 1, code: "unknown_click", message: expect.any(String) },
    ]);
    await drained(stack);

    // What the API must say, computed from what was sent.
    const conv = { control: 0, bold: 0 };
    const val = { control: 0, bold: 0 };
    for (const c of converting) {
      conv[c.variant]++;
      val[c.variant] += value(c.user);
    }
    const plainConversions = plainIds.filter((_, u) => u % 5 === 0).length;
    const start = new Date(Date.now() - 3_600_000).toISOString();
    const end = new Date(Date.now() + 3_600_000).toISOString();
    type Bucket = { group: string | null; clicks: number; conversions: number; conversion_value: number };
    const grouped = async (query: string) => {
      const r = await api<{ metrics: Bucket[] }>(`${stack.queryUrl}/v1/metrics?${query}&start=${start}&end=${end}&granularity=hour`, {
        token: acme.key,
      });
      expect(r.status).toBe(200);
      const out: Record<string, [number, number, number]> = {};
      for (const b of r.body.metrics) {
        const t = out[b.group ?? ""] ?? [0, 0, 0];
        out[b.group ?? ""] = [t[0] + b.clicks, t[1] + b.conversions, Math.round((t[2] + b.conversion_value) * 100) / 100];
      }
      return out;
    };
    const round = (x: number) => Math.round(x * 100) / 100;
    await waitFor(
      "conversions counted",
      async () => (await grouped(`campaign_id=${acme.campaign_id}`))[""]?.[1] === converting.length + plainConversions,
      10_000,
    );
    expect(await grouped(`campaign_id=${acme.campaign_id}&group_by=variant`)).toEqual({
      control: [n.control, conv.control, round(val.control)],
      bold: [n.bold, conv.bold, round(val.bold)],
      "": [40, plainConversions, plainConversions], // the plain ad: no variant
    });
    expect(await grouped(`campaign_id=${acme.campaign_id}&group_by=ad_group_id`)).toEqual({
      [g1]: [USERS, conv.control + conv.bold, round(val.control + val.bold)],
      [g2]: [40, plainConversions, plainConversions],
    });
    expect(await grouped(`campaign_id=${acme.campaign_id}&filter=ad_group_id:${g2}`)).toEqual({
      "": [40, plainConversions, plainConversions],
    });

    // The experiment summary, and its test recomputed here.
    const summary = await api<Record<string, unknown>>(`${stack.queryUrl}/v1/ads/${exp.ad_id}/experiment`, { token: acme.key });
    const rate = { control: conv.control / n.control, bold: conv.bold / n.bold };
    const pooled = (conv.control + conv.bold) / USERS;
    const z = (rate.bold - rate.control) / Math.sqrt(pooled * (1 - pooled) * (1 / n.bold + 1 / n.control));
    const p = 2 * (1 - phi(Math.abs(z)));
    expect(summary.body).toMatchObject({
      variants: [
        { name: "control", weight: 30, clicks: n.control, conversions: conv.control, conversion_rate: expect.closeTo(rate.control, 5) },
        { name: "bold", weight: 70, clicks: n.bold, conversions: conv.bold, conversion_rate: expect.closeTo(rate.bold, 5) },
      ],
      best: "bold",
      runner_up: "control",
      z: expect.closeTo(z, 4),
      p_value: expect.closeTo(p, 6),
      significant: p < 0.05,
    });

    // The heatmap: clean clicks inside the creative, per cell.
    const expected = new Map<number, number>();
    for (const c of clicks) if (c.cell !== null) expected.set(c.cell, (expected.get(c.cell) ?? 0) + 1);
    const heat = await api<{ cols: number; rows: number; cells: { col: number; row: number; clicks: number }[] }>(
      `${stack.queryUrl}/v1/ads/${exp.ad_id}/heatmap?from=${start}&to=${end}`,
      { token: acme.key },
    );
    expect(heat.body.cols).toBe(20);
    expect(heat.body.cells).toEqual(
      [...expected].sort(([a], [b]) => a - b).map(([cell, k]) => ({ col: cell % 20, row: Math.floor(cell / 20), clicks: k })),
    );

    // The rival sees none of it.
    expect((await api(`${stack.queryUrl}/v1/ads/${exp.ad_id}/experiment`, { token: rival.key })).status).toBe(404);
    expect((await api(`${stack.queryUrl}/v1/ads/${exp.ad_id}/heatmap?from=${start}&to=${end}`, { token: rival.key })).status).toBe(404);
  });
});
