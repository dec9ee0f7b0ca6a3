import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import type { TestEnv } from "./entry";

export const testEnv = env as TestEnv;
export const ADMIN = { Authorization: "Bearer test-admin-token" };

function fetchWorker(url: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(url, { redirect: "manual", ...init }));
}

/** Counts read back by a test: real time is fresh within a second of the answer, not at the answer. */
const COUNT_READS = /^\/v1\/(ads|metrics|campaigns|billing|reconciliation)/;

/** Waits until the (local) edge buffers have delivered everything they acknowledged to the campaign objects. */
export async function drained(timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetchWorker("http://query.test/v1/admin/buffers?colo=local", { headers: ADMIN });
    const { buffers } = (await res.json()) as { buffers: { waiting_rows: number }[] };
    if (buffers.every((b) => b.waiting_rows === 0)) return;
    if (Date.now() > until) throw new Error("edge buffers did not drain");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Calls the test Worker (ingest on host ingest.test, query on anything else). A read of counts first
 * waits for the edge buffers to drain, so a test reads what it just sent.
 */
export async function call(url: string, init?: RequestInit): Promise<Response> {
  const u = new URL(url);
  if (u.hostname !== "ingest.test" && COUNT_READS.test(u.pathname) && (init?.method ?? "GET") === "GET") await drained();
  return fetchWorker(url, init);
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
  const cmp = await adminPost("campaigns", {
    advertiser_id: adv.advertiser_id,
    name: "Spring",
    cost_per_click: opts.cost_per_click ?? 0.25,
  });
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

/** A Location without the click id /click adds to it (the landing page as registered). */
export function landingOf(location: string | null): string | null {
  return location === null ? null : location.replace(/[?&]ec_click_id=[A-Za-z0-9._-]+(?=#|$)/, "");
}
