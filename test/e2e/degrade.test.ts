/**
 * Degrade without loss: with the campaign objects, the queue, or both unavailable at the edge
 * (EDGECLICK_FAULTS, read by the dev-only ingest entry), a click is still redirected and recorded by the path that is up, and counted —
 * exactly once — when it comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BROWSER, archiveBucket, countOf, removeDir, seed, startTestStack, waitFor, type TestStack, landingOf } from "./harness";

let buildDir: string;
const dirs: string[] = [];
const stacks: TestStack[] = [];

async function stackWith(faults: string, persistTo?: string): Promise<TestStack> {
  const dir = persistTo ?? mkdtempSync(join(tmpdir(), "edgeclick-degrade-"));
  if (!persistTo) dirs.push(dir);
  // The dev ingest entry (scripts/dev/ingest.ts) takes the paths down; production code has no fault switch.
  const s = await startTestStack({ persistTo: dir, buildDir, build: false, objectRttMs: 0, vars: { EDGECLICK_FAULTS: faults } });
  stacks.push(s);
  return s;
}

async function click(_s: TestStack, url: string) {
  const res = await fetch(`${url}&user_id=degraded`, {
    redirect: "manual",
    headers: { "User-Agent": BROWSER, "CF-Connecting-IP": "203.0.113.77" },
  });
  return { status: res.status, location: landingOf(res.headers.get("location")) };
}

async function archived(s: TestStack, campaignId: string): Promise<number> {
  const { objects } = await (await archiveBucket(s)).list({ prefix: "raw/" });
  return objects.filter((o) => o.key.includes(campaignId)).length;
}

beforeAll(async () => {
  const first = await startTestStack();
  buildDir = first.buildDir;
  dirs.push(first.persistTo, buildDir);
  await first.close();
});

afterAll(async () => {
  for (const s of stacks) await s.close().catch(() => {});
  for (const d of dirs) removeDir(d);
});

describe("degraded ingestion", () => {
  it("campaign objects down: redirected, queued, counted seconds later", async () => {
    const s = await stackWith("campaign");
    const ad = await seed(s, "Initech");
    expect(await click(s, ad.click_url)).toEqual({ status: 302, location: "https://initech.example/offer" });
    await waitFor("the queued click to be counted", async () => (await countOf(s, ad.ad_id, ad.key)) === 1, 15_000);
    await waitFor("its archive", async () => (await archived(s, ad.campaign_id)) > 0, 15_000);
    expect(await countOf(s, ad.ad_id, ad.key)).toBe(1);
  });

  it("queue down: redirected and counted at once, archived when the queue is back", async () => {
    const s = await stackWith("queue");
    const ad = await seed(s, "Hooli");
    expect((await click(s, ad.click_url)).status).toBe(302);
    expect(await countOf(s, ad.ad_id, ad.key)).toBe(1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await archived(s, ad.campaign_id)).toBe(0);
    await s.close();
    const back = await stackWith("", s.persistTo);
    await waitFor("the outbox to reach the archive", async () => (await archived(back, ad.campaign_id)) > 0, 20_000);
    expect(await countOf(back, ad.ad_id, ad.key)).toBe(1);
  });

  it("both down: redirected, spooled to R2, counted and archived once the cron sweeps it", async () => {
    const s = await stackWith("campaign,queue");
    const ad = await seed(s, "Vandelay");
    expect((await click(s, ad.click_url)).status).toBe(302);
    expect(await countOf(s, ad.ad_id, ad.key)).toBe(0);
    const spool = await (await archiveBucket(s)).list({ prefix: "spool/" });
    expect(spool.objects).toHaveLength(1);
    await s.close();
    const back = await stackWith("", s.persistTo);
    await back.fire("edgeclick-batch", "*/10 * * * *");
    expect(await countOf(back, ad.ad_id, ad.key)).toBe(1);
    await waitFor("the swept click in the archive", async () => (await archived(back, ad.campaign_id)) > 0, 20_000);
    expect((await (await archiveBucket(back)).list({ prefix: "spool/" })).objects).toHaveLength(0);
    // A second sweep finds nothing and counts nothing twice.
    await back.fire("edgeclick-batch", "*/10 * * * *");
    expect(await countOf(back, ad.ad_id, ad.key)).toBe(1);
  });
});
