/**
 * One click all the way: the real local stack (the same one `npm start` runs) over HTTP, from the
 * registry to the redirect, the real-time count, the Parquet archive (read back by DuckDB), the billing
 * rollup and the billing API, then a restart of the runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import {
  ADMIN_TOKEN,
  BROWSER,
  api,
  archiveBucket,
  hourRange,
  removeDir,
  seed,
  startTestStack,
  waitFor,
  type TestStack,
  landingOf,
} from "./harness";

const ROOT = resolve(import.meta.dirname, "../..");
let stack: TestStack;
const cleanup: string[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  cleanup.push(stack.persistTo, stack.buildDir);
});

afterAll(async () => {
  await stack?.close();
  for (const dir of cleanup) removeDir(dir);
});

describe("a click through the whole local stack", () => {
  it("is redirected, counted within 2 s, archived as standard Parquet within 15 s, billed after a rollup, and survives a restart", async () => {
    // Ready from the first request: both doors answer /healthz, the registry's tables already exist.
    for (const url of [stack.ingestUrl, stack.queryUrl]) {
      const health = await api<{ ok: boolean }>(`${url}/healthz`);
      expect(health).toMatchObject({ status: 200, body: { ok: true } });
    }
    const acme = await seed(stack, "Acme");
    const other = await seed(stack, "Globex");
    expect(acme.click_url.startsWith(stack.ingestUrl)).toBe(true);

    const clickedAt = Date.now();
    const res = await fetch(`${acme.click_url}&user_id=alice`, {
      redirect: "manual",
      headers: { "User-Agent": BROWSER, "CF-Connecting-IP": "203.0.113.50", "CF-IPCountry": "NL" },
    });
    expect(res.status).toBe(302);
    expect(landingOf(res.headers.get("location"))).toBe("https://acme.example/offer");
    expect(res.headers.get("cache-control")).toBe("no-store");

    // Real time: the count moves within 2 s.
    const counted = await waitFor(
      "the real-time count",
      async () => {
        const r = await api<{ count: number }>(`${stack.queryUrl}/v1/ads/${acme.ad_id}/aggregated_count?${hourRange()}`, {
          token: acme.key,
        });
        return r.status === 200 && r.body.count === 1;
      },
      2_000,
    );
    expect(Date.now() - clickedAt).toBeLessThan(2_000);
    expect(counted.value).toBe(true);

    // Another advertiser cannot see it.
    expect((await api(`${stack.queryUrl}/v1/ads/${acme.ad_id}/aggregated_count?${hourRange()}`, { token: other.key })).status).toBe(404);

    // Archive: a Parquet file in R2 within 15 s, readable by DuckDB.
    const bucket = await archiveBucket(stack);
    const archived = await waitFor(
      "the Parquet archive",
      async () => {
        const { objects } = await bucket.list({ prefix: "raw/" });
        return objects.find((o) => o.key.includes(acme.campaign_id)) ?? null;
      },
      15_000,
    );
    expect(archived.value.key).toMatch(/^raw\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/.+\.parquet$/);
    const file = join(stack.persistTo, "archived.parquet");
    writeFileSync(file, Buffer.from(await (await bucket.get(archived.value.key))!.arrayBuffer()));
    const duck = await DuckDBInstance.create(":memory:");
    const conn = await duck.connect();
    const rows = (
      await conn.runAndReadAll(
        `SELECT ad_id, campaign_id, user_id, country, device_type, os, verdict, cost_per_click, ip_hash, typeof(timestamp) AS ts_type,
              epoch_ms(timestamp) AS ts FROM read_parquet('${file}')`,
      )
    ).getRowObjectsJS();
    conn.closeSync();
    duck.closeSync();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      ad_id: acme.ad_id,
      campaign_id: acme.campaign_id,
      user_id: "alice",
      country: "NL",
      device_type: "desktop",
      os: "macOS",
      verdict: "clean",
      cost_per_click: 0.35,
      ts_type: "TIMESTAMP",
    });
    expect(Math.abs(Number(rows[0].ts) - clickedAt)).toBeLessThan(5_000);
    // The IP is kept only as a keyed hash.
    expect(String(rows[0].ip_hash)).not.toContain("203.0.113.50");
    expect(String(rows[0].ip_hash)).toMatch(/^[A-Za-z0-9_-]{22}$/);

    // Billing: after a rollup, the click is on the bill.
    const rollup = await api<{ rows: number }>(`${stack.queryUrl}/v1/admin/rollup`, { method: "POST", token: ADMIN_TOKEN, body: "{}" });
    expect(rollup.status).toBe(200);
    expect(rollup.body.rows).toBeGreaterThanOrEqual(1);
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const bill = await api<{ rows: Record<string, unknown>[] }>(
      `${stack.queryUrl}/v1/billing?campaign_id=${acme.campaign_id}&from=${today}&to=${tomorrow}`,
      { token: acme.key },
    );
    expect(bill.status).toBe(200);
    expect(bill.body.rows).toEqual([
      {
        date: today,
        country: "NL",
        device_type: "desktop",
        ad_group_id: null,
        clicks: 1,
        unique_users: 1,
        cost: 0.35,
        invalid_clicks: 0,
        suspicious_clicks: 0,
        duplicates: 0,
        late_events: 0,
        over_budget_clicks: 0,
        event_id_repeats: 0,
        status: "provisional",
        archived_through: expect.any(String),
        time_zone: "UTC",
      },
    ]);
    expect(
      (await api(`${stack.queryUrl}/v1/billing?campaign_id=${acme.campaign_id}&from=${today}&to=${tomorrow}`, { token: other.key })).status,
    ).toBe(404);

    // Anyone can reproduce the bill from the archive: docs/reproduce-billing.sql over a copy of raw/.
    const more = [
      { user: "bob", ua: BROWSER, ip: "203.0.113.51", country: "NL" },
      { user: "bob", ua: BROWSER, ip: "203.0.113.51", country: "NL" }, // same minute: duplicate
      { user: "carol", ua: "curl/8.5.0", ip: "203.0.113.52", country: "BE" }, // bot
      { user: "dave", ua: BROWSER, ip: "203.0.113.53", country: "BE" },
    ];
    for (const m of more) {
      await fetch(`${acme.click_url}&user_id=${m.user}`, {
        redirect: "manual",
        headers: { "User-Agent": m.ua, "CF-Connecting-IP": m.ip, "CF-IPCountry": m.country },
      });
    }
    const copy = join(stack.persistTo, "ARCHIVE");
    await waitFor(
      "all five clicks in the archive",
      async () => {
        const { objects } = await bucket.list({ prefix: "raw/" });
        let n = 0;
        for (const o of objects.filter((x) => x.key.includes(acme.campaign_id))) {
          const path = join(copy, o.key);
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, Buffer.from(await (await bucket.get(o.key))!.arrayBuffer()));
          n += Number(
            (
              await (
                await DuckDBInstance.create(":memory:")
              )
                .connect()
                .then((c) => c.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${path}')`))
            ).getRowObjectsJS()[0].n,
          );
        }
        return n === 5;
      },
      15_000,
    );
    await api(`${stack.queryUrl}/v1/admin/rollup`, { method: "POST", token: ADMIN_TOKEN, body: "{}" });
    const billed = await api<{ rows: Record<string, unknown>[] }>(
      `${stack.queryUrl}/v1/billing?campaign_id=${acme.campaign_id}&from=${today}&to=${tomorrow}`,
      { token: acme.key },
    );
    const sql = readFileSync(join(ROOT, "docs/reproduce-billing.sql"), "utf8").replace("ARCHIVE/raw", `${copy}/raw`);
    const duck2 = await DuckDBInstance.create(":memory:");
    const conn2 = await duck2.connect();
    const reproduced = (await conn2.runAndReadAll(sql)).getRowObjectsJS().filter((r) => r.campaign_id === acme.campaign_id);
    conn2.closeSync();
    duck2.closeSync();
    expect(reproduced.length).toBe(3); // NL desktop, BE desktop, BE bot
    expect(
      reproduced.map(({ campaign_id: _c, ...r }) => ({
        ...r,
        clicks: Number(r.clicks),
        unique_users: Number(r.unique_users),
        invalid_clicks: Number(r.invalid_clicks),
        suspicious_clicks: Number(r.suspicious_clicks),
        duplicates: Number(r.duplicates),
        late_events: Number(r.late_events),
        over_budget_clicks: Number(r.over_budget_clicks),
        event_id_repeats: Number(r.event_id_repeats),
        cost: Number(r.cost),
        status: "provisional",
        time_zone: "UTC",
      })),
    ).toEqual(billed.body.rows.map(({ archived_through: _a, ...r }) => r));

    // Restart the runtime on the same state: nothing acknowledged is lost.
    await stack.close();
    stack = await startTestStack({ persistTo: stack.persistTo, buildDir: stack.buildDir, build: false });
    const after = await api<{ count: number }>(`${stack.queryUrl}/v1/ads/${acme.ad_id}/aggregated_count?${hourRange()}`, {
      token: acme.key,
    });
    expect(after.body.count).toBe(3);
  });
});
