import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import type { TestEnv } from "./entry";

export const testEnv = env as unknown as TestEnv;
export const ADMIN = { Authorization: "Bearer test-admin-token" };

/** Calls the test Worker (ingest on host ingest.test, query on anything else). */
export function call(url: string, init?: RequestInit): Promise<Response> {
  return (exports as unknown as { default: Fetcher }).default.fetch(new Request(url, { redirect: "manual", ...init }));
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export async function adminPost<T = Record<string, string>>(path: string, body: unknown): Promise<T> {
  const res = await call(`http://query.test/v1/admin/${path}`, { method: "POST", headers: ADMIN, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return json<T>(res);
}

/** A fresh advertiser with one campaign and one ad. */
export async function seedAd(opts: { cost_per_click?: number; landing_url?: string } = {}) {
  const adv = await adminPost("advertisers", { name: "Acme" });
  const cmp = await adminPost("campaigns", { advertiser_id: adv.advertiser_id, name: "Spring", cost_per_click: opts.cost_per_click ?? 0.25 });
  const ad = await adminPost("ads", { campaign_id: cmp.campaign_id, landing_url: opts.landing_url ?? "https://example.com/landing" });
  return { advertiser_id: adv.advertiser_id, key: adv.api_key, campaign_id: cmp.campaign_id, ad_id: ad.ad_id, click_url: ad.click_url };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
