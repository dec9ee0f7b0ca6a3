/** Starts the real local stack (scripts/stack.mjs) on free ports with its own state, for HTTP tests. */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStack } from "../../scripts/stack.mjs";

export const ADMIN_TOKEN = "dev-admin-token";
export const BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export type TestStack = Awaited<ReturnType<typeof startStack>> & { buildDir: string };

export interface R2BucketLike {
  list(opts: { prefix: string }): Promise<{ objects: { key: string }[] }>;
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
}

/** The archive bucket, read from Node through Miniflare. */
export async function archiveBucket(stack: TestStack): Promise<R2BucketLike> {
  return (await stack.mf.getR2Bucket("ARCHIVE", "edgeclick-aggregator")) as unknown as R2BucketLike;
}

/** A stack with its own ports, state and build directory; `persistTo` reuses state (restart tests). */
export async function startTestStack(
  opts: { persistTo?: string; buildDir?: string; build?: boolean; vars?: Record<string, string>; objectRttMs?: number } = {},
): Promise<TestStack> {
  const persistTo = opts.persistTo ?? mkdtempSync(join(tmpdir(), "edgeclick-e2e-state-"));
  const buildDir = opts.buildDir ?? mkdtempSync(join(tmpdir(), "edgeclick-e2e-build-"));
  // A port found free can be taken by another process (another test project, a runtime's own sockets)
  // before the stack binds it: then try again with other ports.
  for (let attempt = 1; ; attempt++) {
    try {
      const stack = await startStack({
        ingestPort: await freePort(),
        queryPort: await freePort(),
        persistTo,
        buildDir,
        build: attempt === 1 ? (opts.build ?? true) : false,
        crons: false,
        vars: opts.vars,
        objectRttMs: opts.objectRttMs,
      });
      return { ...stack, buildDir };
    } catch (err) {
      if (
        attempt >= 4 ||
        !/ADDRESS_IN_USE|already in use/i.test(String((err as Error)?.message ?? err) + String((err as { code?: string })?.code ?? ""))
      )
        throw err;
    }
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function api<T = Record<string, unknown>>(
  url: string,
  init: RequestInit & { token?: string } = {},
): Promise<{ status: number; body: T }> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  const res = await fetch(url, { ...init, headers, redirect: "manual" });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const value = await fn();
    if (value) return { value, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A fresh advertiser with one campaign (0.35 a click) and one ad, through the admin API. */
export async function seed(stack: TestStack, name: string) {
  const post = async <T>(path: string, body: unknown) => {
    const r = await api<T>(`${stack.queryUrl}/v1/admin/${path}`, { method: "POST", token: ADMIN_TOKEN, body: JSON.stringify(body) });
    if (r.status !== 201) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const adv = await post<{ advertiser_id: string; api_key: string }>("advertisers", { name });
  const cmp = await post<{ campaign_id: string }>("campaigns", {
    advertiser_id: adv.advertiser_id,
    name: `${name} launch`,
    cost_per_click: 0.35,
  });
  const ad = await post<{ ad_id: string; click_url: string }>("ads", {
    campaign_id: cmp.campaign_id,
    landing_url: `https://${name.toLowerCase()}.example/offer`,
  });
  return { key: adv.api_key, campaign_id: cmp.campaign_id, ...ad };
}

export const hourRange = () =>
  `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;

/** Waits until the stack's (local) edge buffers have delivered what they acknowledged: real time is fresh within a second. */
export async function drained(stack: TestStack, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    "edge buffers drained",
    async () => {
      const r = await api<{ buffers: { waiting_rows: number }[] }>(`${stack.queryUrl}/v1/admin/buffers?colo=local`, { token: ADMIN_TOKEN });
      return r.status === 200 && r.body.buffers.every((b) => b.waiting_rows === 0);
    },
    timeoutMs,
  );
}

export async function countOf(stack: TestStack, adId: string, key: string): Promise<number> {
  await drained(stack);
  const r = await api<{ count: number }>(`${stack.queryUrl}/v1/ads/${adId}/aggregated_count?${hourRange()}`, { token: key });
  if (r.status !== 200) throw new Error(`count: ${r.status}`);
  return r.body.count;
}

/** A Location without the click id /click adds to it (the landing page as registered). */
export function landingOf(location: string | null): string | null {
  return location === null ? null : location.replace(/[?&]ec_click_id=[A-Za-z0-9._-]+(?=#|$)/, "");
}
