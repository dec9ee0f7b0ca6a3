/**
 * Verifiable statements (issue 11): GET /v1/statements lists the archive files of a campaign's month with their
 * SHA-256; scripts/reproduce-statement.mjs checks them and recomputes every row with DuckDB from exactly those files.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { reproduceStatement } from "../../scripts/reproduce-statement.mjs";
import { DAY, MINUTE, zoneDate, zoneFloor } from "../../domain/time";
import { ADMIN_TOKEN, BROWSER, api, archiveBucket, removeDir, seed, startTestStack, waitFor, type TestStack } from "./harness";

let stack: TestStack | null = null;
const dirs: string[] = [];
afterAll(async () => {
  await stack?.close();
  for (const d of dirs) removeDir(d);
});

interface Statement {
  campaign_id: string;
  month: string;
  time_zone: string;
  rows: { date: string; clicks: number; unique_users: number; country: string }[];
  files: { key: string; size: number; sha256: string; bucket: "main" | "eu" }[];
  totals: { clicks: number; cost: number };
  sha256: string;
}

describe("GET /v1/statements", () => {
  it("lists the files a month is billed from, and DuckDB reproduces every row from exactly those files", async () => {
    stack = await startTestStack();
    dirs.push(stack.persistTo, stack.buildDir);
    const acme = await seed(stack, "Stated");
    // A second ad in an ad group: its clicks are rows of their own, in the statement and in the reproduction.
    const admin = async <T>(path: string, body: unknown) =>
      (await api<T>(`${stack!.queryUrl}/v1/admin/${path}`, { method: "POST", token: ADMIN_TOKEN, body: JSON.stringify(body) })).body;
    const { ad_group_id } = await admin<{ ad_group_id: string }>("ad-groups", { campaign_id: acme.campaign_id, name: "Video" });
    const grouped = await admin<{ click_url: string }>("ads", {
      campaign_id: acme.campaign_id,
      landing_url: "https://stated.example/video",
      ad_group_id,
    });
    const clicks = [
      { user: "ann", ua: BROWSER, ip: "203.0.113.61", country: "NL", url: acme.click_url },
      { user: "ben", ua: BROWSER, ip: "203.0.113.62", country: "NL", url: acme.click_url },
      { user: "ben", ua: BROWSER, ip: "203.0.113.62", country: "NL", url: acme.click_url }, // same minute: duplicate
      { user: "cat", ua: "curl/8.5.0", ip: "203.0.113.63", country: "BE", url: acme.click_url }, // bot
      { user: "dan", ua: BROWSER, ip: "203.0.113.64", country: "BE", url: acme.click_url },
      { user: "ann", ua: BROWSER, ip: "203.0.113.61", country: "NL", url: grouped.click_url },
    ];
    for (const c of clicks) {
      const r = await fetch(`${c.url}&user_id=${c.user}`, {
        redirect: "manual",
        headers: { "User-Agent": c.ua, "CF-Connecting-IP": c.ip, "CF-IPCountry": c.country },
      });
      expect(r.status).toBe(302);
    }
    const month = new Date().toISOString().slice(0, 7);
    const url = `${stack.queryUrl}/v1/statements?campaign_id=${acme.campaign_id}&month=${month}`;
    const { value: statement } = await waitFor(
      "the six clicks billed",
      async () => {
        await api(`${stack!.queryUrl}/v1/admin/rollup`, { method: "POST", token: ADMIN_TOKEN, body: "{}" });
        const r = await api<Statement>(url, { token: acme.key });
        const judged = r.body.rows.reduce((n, row) => n + row.clicks, 0);
        return r.status === 200 && judged === 4 ? r.body : null;
      },
      30_000,
    );
    expect(statement.totals).toMatchObject({ clicks: 4, cost: 1.4 });
    expect(statement.files.length).toBeGreaterThan(0);
    expect(statement.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256) && f.key.startsWith("raw/"))).toBe(true);
    // Another advertiser's key: the campaign does not exist for it.
    const other = await seed(stack, "Nosy");
    expect((await api(url, { token: other.key })).status).toBe(404);

    // The auditor's copy: exactly the listed files, under their keys.
    const bucket = await archiveBucket(stack);
    const dir = mkdtempSync(join(tmpdir(), "edgeclick-statement-"));
    dirs.push(dir);
    for (const f of statement.files) {
      const path = join(dir, f.key);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, Buffer.from(await (await bucket.get(f.key))!.arrayBuffer()));
    }
    const reproduced = await reproduceStatement(statement, dir);
    expect(reproduced.problems).toEqual([]);
    expect(reproduced.rows.map((r) => [r.country, r.ad_group_id, r.clicks])).toEqual([
      ["BE", null, 0],
      ["BE", null, 1],
      ["NL", null, 2],
      ["NL", ad_group_id, 1],
    ]);

    // A recalculation (dan's IP blocklisted afterwards) changes the bill only through an overlay: the statement
    // then lists the overlay beside the events, and DuckDB reproduces the new figures from exactly those files.
    const adminCall = (path: string, body: unknown) =>
      api<Record<string, unknown>>(`${stack!.queryUrl}${path}`, { method: "POST", token: ADMIN_TOKEN, body: JSON.stringify(body) });
    expect((await adminCall("/v1/admin/blocklist", { ips: ["203.0.113.64"] })).status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    const rec = await adminCall("/v1/admin/recalculate", { from: today, to: today, campaign_id: acme.campaign_id });
    expect(rec.status).toBe(201);
    expect(rec.body).toMatchObject({ changed: 1 });
    expect((await adminCall(`/v1/admin/recalculations/${rec.body.recalculation_id}/apply`, {})).status).toBe(200);
    const after = (await api<Statement>(url, { token: acme.key })).body;
    expect(after.totals).toMatchObject({ clicks: 3, cost: 1.05 });
    expect(after.files.some((f) => f.key.startsWith("raw/overlays/"))).toBe(true);
    const dir2 = mkdtempSync(join(tmpdir(), "edgeclick-statement-"));
    dirs.push(dir2);
    for (const f of after.files) {
      const path = join(dir2, f.key);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, Buffer.from(await (await bucket.get(f.key))!.arrayBuffer()));
    }
    const again = await reproduceStatement(after, dir2);
    expect(again.problems).toEqual([]);
    expect(again.rows.map((r) => [r.country, r.device_type, r.ad_group_id, r.clicks, r.invalid_clicks])).toEqual([
      ["BE", "bot", null, 0, 1],
      ["BE", "desktop", null, 0, 1],
      ["NL", "desktop", null, 2, 0],
      ["NL", "desktop", ad_group_id, 1, 0],
    ]);

    // A changed figure or a changed file is caught.
    const edited = { ...statement, rows: statement.rows.map((r, i) => (i === 0 ? { ...r, clicks: r.clicks + 1 } : r)) };
    expect((await reproduceStatement(edited, dir)).problems.join("\n")).toMatch(/fingerprint[\s\S]*rows differ/);
    const first = join(dir, statement.files[0].key);
    writeFileSync(first, Buffer.concat([Buffer.from(await (await bucket.get(statement.files[0].key))!.arrayBuffer()), Buffer.from([0])]));
    expect((await reproduceStatement(statement, dir)).problems.join("\n")).toMatch(/sha256: raw\//);
  });

  it("bills a zoned advertiser's month in local days, and DuckDB reproduces it in the statement's time zone", async () => {
    stack ??= await startTestStack();
    if (!dirs.includes(stack.persistTo)) dirs.push(stack.persistTo, stack.buildDir);
    const zone = "Europe/Amsterdam";
    const post = async <T>(path: string, body: unknown, token = ADMIN_TOKEN) =>
      (await api<T>(`${stack!.queryUrl}/v1/admin/${path}`, { method: "POST", token, body: JSON.stringify(body) })).body;
    const adv = await post<{ advertiser_id: string; api_key: string }>("advertisers", { name: "Zoned", time_zone: zone });
    const { campaign_id } = await post<{ campaign_id: string }>("campaigns", {
      advertiser_id: adv.advertiser_id,
      name: "Zoned launch",
      cost_per_click: 0.35,
    });
    const { ad_id } = await post<{ ad_id: string }>("ads", { campaign_id, landing_url: "https://zoned.example/offer" });
    // Around the start of yesterday (local): one UTC day folder holds clicks of two local dates.
    const midnight = zoneFloor(zoneFloor(Date.now(), DAY, zone) - 1, DAY, zone);
    const clicks = [
      { user_id: "ann", timestamp: midnight - 30 * MINUTE },
      { user_id: "ann", timestamp: midnight + 30 * MINUTE },
      { user_id: "ben", timestamp: midnight + 40 * MINUTE },
    ].map((c, i) => ({ ...c, event_id: `z${i}`, ad_id, user_agent: BROWSER, ip_address: `203.0.113.${71 + i}` }));
    const pub = await post<{ api_key: string }>("publishers", { name: "Zoned feed" });
    const sent = await api<{ accepted: number }>(`${stack.ingestUrl}/v1/events`, {
      method: "POST",
      token: pub.api_key,
      body: JSON.stringify(clicks),
    });
    expect(sent.body).toMatchObject({ accepted: 3 });
    const day = zoneDate(midnight, zone);
    const before = zoneDate(midnight - 1, zone);
    const month = day.slice(0, 7);
    const url = `${stack.queryUrl}/v1/statements?campaign_id=${campaign_id}&month=${month}`;
    const { value: statement } = await waitFor(
      "the zoned clicks billed",
      async () => {
        await api(`${stack!.queryUrl}/v1/admin/rollup`, { method: "POST", token: ADMIN_TOKEN, body: "{}" });
        const r = await api<Statement>(url, { token: adv.api_key });
        return r.status === 200 && r.body.rows.some((row) => row.date === day && row.clicks === 2) ? r.body : null;
      },
      30_000,
    );
    expect(statement.time_zone).toBe(zone);
    const byDate = Object.fromEntries(statement.rows.map((r) => [r.date, [r.clicks, r.unique_users]]));
    expect(byDate[day]).toEqual([2, 2]);
    if (before.startsWith(month)) expect(byDate[before]).toEqual([1, 1]);

    const bucket = await archiveBucket(stack);
    const dir = mkdtempSync(join(tmpdir(), "edgeclick-statement-"));
    dirs.push(dir);
    for (const f of statement.files) {
      const path = join(dir, f.key);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, Buffer.from(await (await bucket.get(f.key))!.arrayBuffer()));
    }
    const reproduced = await reproduceStatement(statement, dir);
    expect(reproduced.problems).toEqual([]);
    expect(reproduced.rows.find((r) => r.date === day)).toMatchObject({ clicks: 2, unique_users: 2 });
    // Read in UTC, the same files give other days: the zone is part of what the statement proves.
    const utc = await reproduceStatement({ ...statement, time_zone: "UTC" }, dir);
    expect(utc.problems.join("\n")).toMatch(/fingerprint[\s\S]*rows differ/);
  });
});
