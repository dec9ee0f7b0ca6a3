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
export async function startTestStack(opts: { persistTo?: string; buildDir?: string; build?: boolean } = {}): Promise<TestStack> {
  const persistTo = opts.persistTo ?? mkdtempSync(join(tmpdir(), "edgeclick-e2e-state-"));
  const buildDir = opts.buildDir ?? mkdtempSync(join(tmpdir(), "edgeclick-e2e-build-"));
  const stack = await startStack({
    ingestPort: await freePort(),
    queryPort: await freePort(),
    persistTo,
    buildDir,
    build: opts.build ?? true,
    crons: false,
  });
  return { ...stack, buildDir };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function api<T = Record<string, unknown>>(url: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; body: T }> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  const res = await fetch(url, { ...init, headers, redirect: "manual" });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const value = await fn();
    if (value) return { value, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
