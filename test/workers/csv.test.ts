/**
 * CSV exports of /v1/metrics, /v1/billing and /v1/reconciliation: RFC 4180, a header row, and, read back,
 * exactly the JSON answer's rows (nested counts per reason code as one column each).
 */
import { describe, expect, it } from "vitest";
import { csvColumns, csvLine, csvLines } from "../../domain/csv";
import { INVALID_REASONS } from "../../domain/event";
import * as R from "../../domain/api/responses";
import { parseCsv } from "../csv";
import { BROWSER, call, json, seedAd, testEnv } from "./helpers";

const Q = "http://query.test";

/** A JSON row as the CSV must hold it: every field as text, each reason code its own column (absent: 0). */
function flat(row: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v !== null && typeof v === "object")
      for (const r of INVALID_REASONS) out[`${k}.${r}`] = String((v as Record<string, number>)[r] ?? 0);
    else out[k] = v === null ? "" : String(v);
  }
  return out;
}

async function both(path: string, key: string): Promise<{ json: Record<string, unknown>; csv: Response; text: string }> {
  const headers = { Authorization: `Bearer ${key}` };
  const body = await json(await call(`${Q}${path}`, { headers }));
  const csv = await call(`${Q}${path}&format=csv`, { headers });
  expect(csv.status).toBe(200);
  // The body arrives as a stream, not one string built up front.
  expect(csv.body).toBeInstanceOf(ReadableStream);
  return { json: body, csv, text: await csv.text() };
}

describe("CSV", () => {
  it("quotes fields with commas, quotes and line breaks, and ends lines with CRLF", () => {
    expect(csvLine(["a", "b,c", 'say "hi"', "two\nlines", null, 1.5])).toBe('a,"b,c","say ""hi""","two\nlines",,1.5\r\n');
    const row = csvColumns(R.metricBucket).map((c) => c.name);
    expect(row).toContain("invalid_by_reason.bot_ua");
    expect(row.indexOf("invalid_clicks")).toBeLessThan(row.indexOf("invalid_by_reason.blocklisted_ip"));
    const lines = [...csvLines(csvColumns(R.metricBucket), [{ timestamp: "t", clicks: 1, invalid_by_reason: { bot_ua: 2 } }])];
    expect(lines[1].split(",").slice(0, 2)).toEqual(["t", "1"]);
  });

  it("exports /v1/metrics: the JSON buckets, flattened, header first, as a file", async () => {
    const s = await seedAd({ cost_per_click: 0.3 });
    for (const [user, ua, country] of [
      ["a", BROWSER, "DE"],
      ["b", BROWSER, "FR"],
      ["c", "curl/8.5", "DE"],
    ])
      await call(`${s.click_url}&user_id=${user}`, { headers: { "User-Agent": ua, "CF-IPCountry": country } });
    const now = Date.now();
    const range = `start=${new Date(now - 3_600_000).toISOString()}&end=${new Date(now + 60_000).toISOString()}`;
    for (const extra of ["&granularity=minute", "&granularity=hour&group_by=country"]) {
      const { json: body, csv, text } = await both(`/v1/metrics?campaign_id=${s.campaign_id}&${range}${extra}`, s.key);
      expect(csv.headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
      expect(csv.headers.get("Content-Disposition")).toMatch(/^attachment; filename="metrics-cmp_\w+-\w+-[\w.-]+\.csv"$/);
      expect(text.endsWith("\r\n")).toBe(true);
      const header = text.slice(0, text.indexOf("\r\n")).split(",");
      expect(header).toEqual([
        "timestamp",
        "clicks",
        "unique_users",
        "cost",
        "invalid_clicks",
        ...INVALID_REASONS.map((r) => `invalid_by_reason.${r}`),
        "suspicious_clicks",
        "duplicates",
        "over_budget_clicks",
        "conversions",
        "conversion_value",
        "conversion_rate",
        "late_events",
        ...(extra.includes("group_by") ? ["group"] : []),
      ]);
      const buckets = body.metrics as Record<string, unknown>[];
      expect(parseCsv(text)).toEqual(buckets.map(flat));
      expect(buckets.reduce((n, b) => n + (b.clicks as number), 0)).toBe(2);
    }
    // Accept: text/csv asks the same; format=json wins over it.
    const headers = { Authorization: `Bearer ${s.key}`, Accept: "text/csv" };
    const path = `${Q}/v1/metrics?campaign_id=${s.campaign_id}&${range}`;
    expect((await call(path, { headers })).headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
    expect((await call(`${path}&format=json`, { headers })).headers.get("Content-Type")).toMatch(/^application\/json/);
    const bad = await call(`${path}&format=xml`, { headers });
    expect(bad.status).toBe(400);
    expect(await json(bad)).toEqual({ error: { code: "invalid_request", message: expect.stringMatching(/^format: /) } });
  });

  it("exports /v1/billing and /v1/reconciliation: the same rows as JSON", async () => {
    const s = await seedAd();
    const today = new Date().toISOString().slice(0, 10);
    // Billing rows as the rollup writes them (r2-batch); read back through the API only.
    // '' is D1's "no ad group" (the API says null).
    const rows = [
      ["US", "desktop", "", 7, 6, 2_100_000, 1],
      ["GB", "mobile", "adg_csv", 3, 3, 900_000, 0],
    ];
    await testEnv.DB.batch(
      rows.map(([country, device, group, clicks, users, cost, invalid]) =>
        testEnv.DB.prepare(
          `INSERT INTO billing_daily (campaign_id, date, country, device_type, ad_group_id, clicks, unique_users, cost_micros,
             invalid_clicks, suspicious_clicks, duplicates, late_events, status, computed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1, 0, 'provisional', 0)`,
        ).bind(s.campaign_id, today, country, device, group, clicks, users, cost, invalid),
      ),
    );
    const billing = await both(`/v1/billing?campaign_id=${s.campaign_id}&from=${today}&to=${today}T23:59:59Z`, s.key);
    expect(billing.csv.headers.get("Content-Disposition")).toContain(`billing-${s.campaign_id}-`);
    const billed = billing.json.rows as Record<string, unknown>[];
    expect(billed.map((r) => [r.country, r.ad_group_id])).toEqual([
      ["GB", "adg_csv"],
      ["US", null],
    ]);
    expect(parseCsv(billing.text)).toEqual(billed.map(flat));

    const recon = await both(`/v1/reconciliation?date=${today}`, s.key);
    const campaigns = recon.json.campaigns as Record<string, unknown>[];
    expect(campaigns).toEqual([expect.objectContaining({ campaign_id: s.campaign_id, billed_clicks: 10 })]);
    expect(parseCsv(recon.text)).toEqual(campaigns.map(flat));
  });

  it("streams a long range in chunks", async () => {
    const s = await seedAd();
    // 10,000 minute buckets: more than one chunk of the stream.
    const start = Date.UTC(2026, 0, 1);
    const res = await call(
      `${Q}/v1/metrics?campaign_id=${s.campaign_id}&start=${start}&end=${start + 10_000 * 60_000}&granularity=minute&format=csv`,
      { headers: { Authorization: `Bearer ${s.key}` } },
    );
    const reader = res.body!.getReader();
    let chunks = 0;
    let text = "";
    // Counted on the whole text: a chunk may end between a line's CR and its LF.
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      text += decoder.decode(value, { stream: true });
    }
    expect(text.split("\r\n").length - 1).toBe(10_001);
    expect(chunks).toBeGreaterThan(1);
  });
});
