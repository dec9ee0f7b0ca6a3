/** `npm run loadgen` against the real local stack: every acknowledged event counted, per verdict, none twice. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isLoopback, runLoadgen } from "../../scripts/loadgen.mjs";
import { ADMIN_TOKEN, api, removeDir, startTestStack, type TestStack } from "./harness";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.close();
  if (stack) for (const dir of [stack.persistTo, stack.buildDir]) removeDir(dir);
});

describe("loadgen", () => {
  it("puts mixed, realistic traffic on the stack and finds every acknowledged event counted", async () => {
    const result = await runLoadgen({
      target: stack.ingestUrl,
      query: stack.queryUrl,
      adminToken: ADMIN_TOKEN,
      rate: 300,
      durationS: 6,
      maxEvents: 5_000,
      clickShare: 0.6,
      fraud: 0.2,
      late: 0.05,
      dupes: 0.05,
      progress: false,
      log: () => {},
    });
    expect(result.ledger.acknowledged).toBeGreaterThan(1000);
    const byVerdict = Object.fromEntries(result.rows.map((r: { verdict: string; expected: number }) => [r.verdict, r.expected]));
    // Every kind of traffic was there.
    for (const v of ["clicks", "bot_ua", "blocklisted_ip", "ip_burst_second", "duplicates", "late_events"])
      expect(byVerdict[v], v).toBeGreaterThan(0);
    expect(result.rows.filter((r: { ok: boolean }) => !r.ok)).toEqual([]);

    // The ops view shows the same traffic, from the objects themselves (window wide enough for the late events).
    const counted = Object.fromEntries(result.rows.map((r: { verdict: string; counted: number }) => [r.verdict, r.counted]));
    const view = await api<{
      ingest: { clicks: number; duplicates: number; late_events: number; invalid_by_reason: Record<string, number>; events: number };
      fraud: { rate: number };
      campaigns: { campaign_id: string; events_per_second: number }[];
      alerts: { code: string }[];
    }>(`${stack.queryUrl}/v1/ops?minutes=240`, { token: ADMIN_TOKEN });
    expect(view.status).toBe(200);
    expect(view.body.ingest).toMatchObject({
      clicks: counted.clicks,
      duplicates: counted.duplicates,
      late_events: counted.late_events,
      invalid_by_reason: { bot_ua: counted.bot_ua, blocklisted_ip: counted.blocklisted_ip, ip_burst_second: counted.ip_burst_second },
    });
    const invalid = counted.bot_ua + counted.blocklisted_ip + counted.ip_burst_second;
    expect(view.body.fraud.rate).toBeCloseTo(invalid / (invalid + counted.clicks), 3);
    expect(view.body.campaigns.map((c) => c.campaign_id)).toContain(result.campaign_id);
    expect((await api(`${stack.queryUrl}/v1/ops`, { token: "wrong" })).status).toBe(401);
  });

  it("takes only this machine as a target unless told otherwise", () => {
    expect(isLoopback("http://127.0.0.1:8787")).toBe(true);
    expect(isLoopback("http://localhost:8787")).toBe(true);
    expect(isLoopback("http://[::1]:8787")).toBe(true);
    expect(isLoopback("https://ingest.example.com")).toBe(false);
    expect(isLoopback("http://10.0.0.5:8787")).toBe(false);
  });
});
