/**
 * Alerts on the real local stack: an advertiser's webhook is a local HTTP receiver; a week of traffic is
 * posted (the stack's lateness window is widened so old events count in real time), the query Worker's cron
 * is fired as if at the minute the test set up, and each alert arrives once, signed, after a retry.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { ADMIN_TOKEN, BROWSER, api, drained, freePort, removeDir, seed, startTestStack, waitFor, type TestStack } from "./harness";

const DAY = 86_400_000;
const MINUTE = 60_000;
const Q = () => stack.queryUrl;

let stack: TestStack;
let server: Server;
let hookUrl: string;
/** What the receiver got: headers and raw body; the first delivery is answered 500, to be retried. */
const received: { status: number; signature: string; body: string }[] = [];

beforeAll(async () => {
  stack = await startTestStack({ vars: { ALLOWED_LATENESS_MS: String(8 * DAY) } });
  const port = await freePort();
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const status = received.length === 0 ? 500 : 200;
      received.push({ status, signature: String(req.headers["edgeclick-signature"] ?? ""), body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  hookUrl = `http://127.0.0.1:${port}/hook`;
});

afterAll(async () => {
  server?.close();
  await stack?.close();
  if (stack) for (const dir of [stack.persistTo, stack.buildDir]) removeDir(dir);
});

/** Verifies a delivery the way the README tells a receiver to. */
function verify(secret: string, header: string, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac("sha256", secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2], "hex")) && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

describe("alerts", () => {
  it("delivers a traffic spike and an invalid-click rate once each, signed, retried after a failure", async () => {
    const acme = await seed(stack, "Alerted");
    const post = async <T>(path: string, body: unknown, token = ADMIN_TOKEN, method = "POST") => {
      const r = await api<T>(`${Q()}${path}`, { method, token, body: JSON.stringify(body) });
      if (r.status >= 300) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const { campaigns } = (await api<{ campaigns: { advertiser_id: string }[] }>(`${Q()}/v1/campaigns`, { token: acme.key })).body;
    const advertiserId = campaigns[0].advertiser_id;
    const campaign = async (name: string) => {
      const { campaign_id } = await post<{ campaign_id: string }>("/v1/admin/campaigns", {
        advertiser_id: advertiserId,
        name,
        cost_per_click: 0.1,
      });
      const { ad_id } = await post<{ ad_id: string }>("/v1/admin/ads", { campaign_id, landing_url: "https://example.com/" });
      return { campaign_id, ad_id };
    };
    const spiking = { campaign_id: acme.campaign_id, ad_id: acme.ad_id };
    const steady = await campaign("Steady");
    const botted = await campaign("Botted");

    const hook = await post<{ secret: string; signature_header: string }>("/v1/alerts/webhook", { url: hookUrl }, acme.key, "PUT");
    expect(hook.secret).toMatch(/^whsec_/);
    expect(hook.signature_header).toBe("Edgeclick-Signature");

    // The minute the cron will look at, and a week of the same hour before it.
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE - MINUTE;
    const events: Record<string, unknown>[] = [];
    let n = 0;
    const event = (ad_id: string, timestamp: number, user_agent = BROWSER) => {
      n++;
      events.push({
        event_id: `e${n}`,
        timestamp,
        ad_id,
        user_id: `u${n}`,
        user_agent,
        ip_address: `10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`,
      });
    };
    // Posted events may be at most 7 days old, so the 7th day back stays empty (it counts as 0 in the baseline).
    for (let d = 1; d <= 6; d++) {
      for (let i = 0; i < 60; i++) event(spiking.ad_id, minute - d * DAY + i * 900); // baseline 6 × 60 / 420 ≈ 0.86 a minute
      for (let i = 0; i < 1050; i++) event(steady.ad_id, minute - d * DAY + (i % 60) * 900); // baseline 15 a minute
    }
    for (let i = 0; i < 40; i++) {
      event(spiking.ad_id, minute + i * 1000); // 40 > 3 × 0.86 and ≥ 20: a spike
      event(steady.ad_id, minute + i * 1000); // 40 < 3 × 15: not one
    }
    for (let i = 0; i < 120; i++) event(botted.ad_id, minute - 30 * MINUTE + i * 15_000, i % 2 ? "curl/8.5.0" : BROWSER); // 50 % invalid
    const pub = await post<{ api_key: string }>("/v1/admin/publishers", { name: "Alerts feed", events_per_second: 100_000 });
    for (let i = 0; i < events.length; i += 1000) {
      const r = await api<{ accepted: number }>(`${stack.ingestUrl}/v1/events`, {
        method: "POST",
        token: pub.api_key,
        body: JSON.stringify(events.slice(i, i + 1000)),
      });
      expect(r.body, JSON.stringify(r.body).slice(0, 300)).toMatchObject({ accepted: Math.min(1000, events.length - i) });
    }
    await drained(stack);

    await stack.fire("edgeclick-query", "* * * * *", new Date(minute + MINUTE + 5_000));
    const delivered = () => received.filter((r) => r.status === 200);
    await waitFor("two alerts delivered (one after a retry)", async () => delivered().length >= 2, 40_000);

    const bodies = delivered().map((r) => JSON.parse(r.body));
    expect(bodies.map((b) => `${b.kind} ${b.campaign_id}`).sort()).toEqual(
      [`invalid_rate_high ${botted.campaign_id}`, `traffic_spike ${spiking.campaign_id}`].sort(),
    );
    for (const r of delivered()) expect(verify(hook.secret, r.signature, r.body)).toBe(true);
    expect(verify("another-secret-entirely", delivered()[0].signature, delivered()[0].body)).toBe(false);
    expect(bodies.find((b) => b.kind === "traffic_spike")).toMatchObject({ value: 40, advertiser_id: advertiserId });
    // The failed first attempt was the same alert, retried with the same body.
    expect(received[0].status).toBe(500);
    expect(delivered().map((r) => r.body)).toContain(received[0].body);

    // A minute later both conditions are still in their episodes: nothing fires again.
    await stack.fire("edgeclick-query", "* * * * *", new Date(minute + 2 * MINUTE + 5_000));
    await new Promise((r) => setTimeout(r, 2_000));
    expect(delivered()).toHaveLength(2);
    const listed = await api<{ webhook: { url: string }; alerts: { kind: string; delivery: string; attempts: number }[] }>(
      `${Q()}/v1/alerts`,
      { token: acme.key },
    );
    expect(listed.status).toBe(200);
    expect(listed.body.webhook).toEqual({ url: hookUrl });
    expect(listed.body.alerts.map((a) => [a.kind, a.delivery]).sort()).toEqual([
      ["invalid_rate_high", "delivered"],
      ["traffic_spike", "delivered"],
    ]);
    expect(listed.body.alerts.map((a) => a.attempts).sort()).toEqual([1, 2]);
  });

  it("delivers budget_80 and budget_100 once each as the day's budget is spent, signed", async () => {
    const acme = await seed(stack, "Budgeted");
    const post = async <T>(path: string, body: unknown, token = ADMIN_TOKEN, method = "POST") => {
      const r = await api<T>(`${Q()}${path}`, { method, token, body: JSON.stringify(body) });
      if (r.status >= 300) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const { campaigns } = (await api<{ campaigns: { advertiser_id: string }[] }>(`${Q()}/v1/campaigns`, { token: acme.key })).body;
    const { campaign_id } = await post<{ campaign_id: string }>("/v1/admin/campaigns", {
      advertiser_id: campaigns[0].advertiser_id,
      name: "Capped",
      cost_per_click: 0.1,
      daily_budget: 1,
    });
    const { ad_id } = await post<{ ad_id: string }>("/v1/admin/ads", { campaign_id, landing_url: "https://example.com/" });
    const hook = await post<{ secret: string }>("/v1/alerts/webhook", { url: hookUrl }, acme.key, "PUT");
    const pub = await post<{ api_key: string }>("/v1/admin/publishers", { name: "Budget feed" });
    let n = 0;
    const clicks = async (count: number) => {
      const events = Array.from({ length: count }, () => {
        n++;
        return { event_id: `b${n}`, timestamp: Date.now(), ad_id, user_id: `bu${n}`, user_agent: BROWSER, ip_address: `10.9.0.${n}` };
      });
      const r = await api(`${stack.ingestUrl}/v1/events`, { method: "POST", token: pub.api_key, body: JSON.stringify(events) });
      expect(r.body).toMatchObject({ accepted: count });
      await drained(stack);
    };
    const mine = () => received.filter((r) => r.status === 200 && JSON.parse(r.body).campaign_id === campaign_id);
    const fire = async () => {
      await stack.fire("edgeclick-query", "* * * * *", new Date());
      await new Promise((r) => setTimeout(r, 2_000));
    };

    await clicks(7); // 0.70: below 80 %
    await fire();
    expect(mine()).toHaveLength(0);
    await clicks(1); // 0.80
    await fire();
    await waitFor("budget_80 delivered", async () => mine().length >= 1, 20_000);
    await fire(); // still 80 %: the same episode
    await clicks(5); // 0.90, 1.00, then three over the budget
    await fire();
    await waitFor("budget_100 delivered", async () => mine().length >= 2, 20_000);
    await fire();
    await fire();
    const bodies = mine().map((r) => JSON.parse(r.body));
    expect(bodies.map((b) => [b.kind, b.value, b.threshold])).toEqual([
      ["budget_80", 0.8, 0.8],
      ["budget_100", 1, 1],
    ]);
    for (const r of mine()) expect(verify(hook.secret, r.signature, r.body)).toBe(true);
    const live = await api<{ clicks: number; over_budget_clicks: number; spend: number; daily_budget: number }>(
      `${Q()}/v1/campaigns/${campaign_id}/live?minutes=60`,
      { token: acme.key },
    );
    expect(live.body).toMatchObject({ clicks: 10, over_budget_clicks: 3, spend: 1, daily_budget: 1 });
  });
});
