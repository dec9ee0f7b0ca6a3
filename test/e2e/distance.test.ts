/**
 * Clicks are answered at the edge: the first durable write is the nearby edge buffer, so the redirect
 * never waits for the campaign object. With the campaign object unreachable for 30 s (the dev entry's
 * switch), every click is still answered while it is down, and all of them are counted exactly once
 * afterwards, in real time and in the archive.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BROWSER, api, archiveBucket, countOf, removeDir, seed, startTestStack, waitFor, type TestStack } from "./harness";
import { decodeArchive } from "../../domain/parquet";

let stack: TestStack;

interface ObjectNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(url: string, init?: RequestInit): Promise<Response> };
}

beforeAll(async () => {
  stack = await startTestStack({ objectRttMs: 0 });
});

afterAll(async () => {
  await stack?.close();
  if (stack) for (const dir of [stack.persistTo, stack.buildDir]) removeDir(dir);
});

describe("clicks answered at the edge", () => {
  it("answers every click while the campaign object is unreachable for 30 s, and counts each exactly once afterwards", async () => {
    const acme = await seed(stack, "Faraway");
    // Miniflare hands Node a stub of the object; the dev entry answers its switch over fetch.
    const ns = (await stack.mf.getDurableObjectNamespace("CAMPAIGN", "edgeclick-ingest")) as unknown as ObjectNamespace;
    const object = ns.get(ns.idFromName(`${acme.campaign_id}#0`));
    const down = await object.fetch("http://object/__dev/unreachable?ms=30000", { method: "POST" });
    expect(down.status).toBe(200);
    const downUntil = Date.parse(((await down.json()) as { unreachable_until: string }).unreachable_until);

    const users = Array.from({ length: 120 }, (_, i) => `far-${i}`);
    for (let i = 0; i < users.length; i += 8) {
      const answers = await Promise.all(
        users.slice(i, i + 8).map((u, k) =>
          fetch(`${acme.click_url}&user_id=${u}`, {
            redirect: "manual",
            headers: { "User-Agent": BROWSER, "CF-Connecting-IP": `203.0.113.${(i + k) % 250}` },
          }),
        ),
      );
      for (const r of answers) expect(r.status).toBe(302);
    }
    // Every click was answered while the object could not be reached.
    expect(Date.now()).toBeLessThan(downUntil);
    // Nothing reached it meanwhile: the query (which asks the object) is refused, not answered with a count.
    expect(
      (
        await api(
          `${stack.queryUrl}/v1/ads/${acme.ad_id}/aggregated_count?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`,
          { token: acme.key },
        )
      ).status,
    ).toBeGreaterThanOrEqual(500);

    // Once it is back, the buffers deliver everything, exactly once.
    const counted = await waitFor(
      "every click counted",
      async () => {
        if (Date.now() < downUntil) return false;
        const n = await countOf(stack, acme.ad_id, acme.key).catch(() => -1);
        return n >= users.length ? n : false;
      },
      90_000,
    );
    expect(counted.value).toBe(users.length);
    const bucket = await archiveBucket(stack);
    const archived = await waitFor(
      "every click archived once",
      async () => {
        const { objects } = await bucket.list({ prefix: "raw/" });
        const rows = [];
        for (const o of objects.filter((x) => x.key.includes(acme.campaign_id))) {
          rows.push(...(await decodeArchive(await (await bucket.get(o.key))!.arrayBuffer(), ["user_id", "verdict"])));
        }
        return rows.length >= users.length ? rows : false;
      },
      60_000,
    );
    expect(archived.value.map((r) => r.user_id).sort()).toEqual([...users].sort());
    expect(archived.value.every((r) => r.verdict === "clean")).toBe(true);
  });
});
