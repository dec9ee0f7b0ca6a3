/**
 * The dashboard and the ops page in a real browser: Debian's Chromium (scripts/browser.mjs installs it when
 * missing), driven by playwright-core, against the real local stack. A person's steps: paste the key, read
 * the numbers. They must be the API's, with no console error and no CSP violation.
 *
 * Screenshots go to the stack's temporary folder; EDGECLICK_SCREENSHOTS=1 (npm run screenshots) writes them
 * to docs/screenshots/ for the README instead, so an ordinary test run leaves the work tree as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ensureChromium } from "../../scripts/browser.mjs";
import { parseCsv } from "../csv";
import { ADMIN_TOKEN, BROWSER, api, drained, removeDir, seed, startTestStack, waitFor, type TestStack } from "./harness";

const IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 " +
  "Mobile/15E148 Safari/604.1";
const CLICKS = [
  { user: "alice", ua: BROWSER, ip: "203.0.113.60", country: "NL", at: "&x=10&y=10&w=300&h=250" }, // a point for the heatmap
  { user: "bob", ua: BROWSER, ip: "203.0.113.61", country: "NL" },
  { user: "bob", ua: BROWSER, ip: "203.0.113.61", country: "NL" }, // the same minute: a duplicate
  { user: "carol", ua: IPHONE, ip: "203.0.113.62", country: "BE", at: "&x=290&y=240&w=300&h=250" },
  { user: "dave", ua: BROWSER, ip: "203.0.113.63", country: "BE" },
  { user: "erin", ua: IPHONE, ip: "203.0.113.64", country: "DE" },
  { user: "bot1", ua: "curl/8.5.0", ip: "203.0.113.70", country: "US" }, // invalid: bot_ua
  { user: "bot2", ua: "python-requests/2.31", ip: "203.0.113.71", country: "US" },
];
const DAY = 86_400_000;

interface Live {
  clicks: number;
  unique_users: number;
  cost: number;
  invalid_clicks: number;
  suspicious_clicks: number;
  duplicates: number;
  late_events: number;
  conversions: number;
  conversion_value: number;
  over_budget_clicks: number;
  spend: number;
  daily_budget: number | null;
  pacing: number | null;
}
interface Bucket {
  group: string | null;
  clicks: number;
  invalid_clicks: number;
  cost: number;
}
interface BillingRow {
  date: string;
  country: string;
  device_type: string;
  clicks: number;
  unique_users: number;
  cost: number;
  invalid_clicks: number;
  status: string;
}
interface Reconciliation {
  campaign_id: string;
  realtime_clicks: number;
  billed_clicks: number;
  difference: number;
  late_clicks?: number;
  billing_status?: string;
}
interface Ops {
  ingest: { clicks: number; invalid: number; duplicates: number };
  archive: { log_rows: number };
  campaigns: { campaign_id: string }[];
}

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let acme: Awaited<ReturnType<typeof seed>>;
const shots = process.env.EDGECLICK_SCREENSHOTS === "1" ? resolve(import.meta.dirname, "../../docs/screenshots") : "";

/** A read of the query API (the advertiser's key unless told), failing on anything but 200. */
async function get<T>(path: string, token = acme.key): Promise<T> {
  const r = await api<T>(`${stack.queryUrl}${path}`, { token });
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A page, with its console errors, uncaught exceptions and CSP violations (as the page itself saw them). */
async function watched(path: string): Promise<{ page: Page; problems: () => Promise<string[]> }> {
  const page = await context.newPage();
  const seen: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") seen.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => seen.push(`exception: ${e.message}`));
  await page.goto(`${stack.queryUrl}${path}`);
  const problems = async () => [
    ...seen,
    ...(await page.evaluate(() => (window as unknown as { violations: string[] }).violations)).map((v) => `CSP: ${v}`),
  ];
  return { page, problems };
}

/** The text of each cell of each row the selector matches. */
const cellsOf = (page: Page, rows: string) =>
  page.locator(rows).evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent ?? "")));

/** A number as the page shows it (en-US: "1,234.5"). */
const numeric = (text: string | null | undefined) => Number((text ?? "").replace(/,/g, "").trim());
/** The country code in a label such as "Netherlands (NL)". */
const code = (label: string) => /\((\w\w)\)$/.exec(label)?.[1];
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

beforeAll(async () => {
  const executablePath = ensureChromium();
  stack = await startTestStack();
  browser = await chromium.launch({ executablePath, headless: true });
  // Fixed locale, zone, size and colours: the page formats numbers for the browser's locale.
  context = await browser.newContext({ locale: "en-US", timezoneId: "UTC", viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  // Recorded from the document's start, before the page's own script runs.
  await context.addInitScript(() => {
    const w = window as unknown as { violations: string[] };
    w.violations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      w.violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
    });
  });

  acme = await seed(stack, "Acme");
  // A daily budget well above what the clicks cost: the dashboard shows spend against it and the pacing.
  const budget = await api(`${stack.queryUrl}/v1/admin/campaigns/${acme.campaign_id}`, {
    method: "PATCH",
    token: ADMIN_TOKEN,
    body: JSON.stringify({ daily_budget: 50 }),
  });
  if (budget.status !== 200) throw new Error(`daily budget: ${budget.status}`);
  const clickIds: string[] = [];
  for (const c of CLICKS) {
    const res = await fetch(`${acme.click_url}&user_id=${c.user}${c.at ?? ""}`, {
      redirect: "manual",
      headers: { "User-Agent": c.ua, "CF-Connecting-IP": c.ip, "CF-IPCountry": c.country },
    });
    if (res.status !== 302) throw new Error(`click: ${res.status}`);
    clickIds.push(new URL(res.headers.get("location")!).searchParams.get("ec_click_id")!);
  }
  // Two conversions of the first clicks (clean ones: the bots come last), so the conversion cards show numbers.
  const conversions = [
    { conversion_id: "order-1", click_id: clickIds[0], value: 20 },
    { conversion_id: "order-2", click_id: clickIds[1], value: 5.5 },
  ];
  const posted = await api(`${stack.ingestUrl}/v1/conversions`, { method: "POST", token: acme.key, body: JSON.stringify(conversions) });
  if (posted.status !== 202) throw new Error(`conversions: ${posted.status}`);
  await drained(stack);
  // Everything counted before the page opens, so the page and the API read the same numbers.
  await waitFor(
    "all clicks counted",
    async () => {
      const live = await get<Live>(`/v1/campaigns/${acme.campaign_id}/live?minutes=60`);
      if (live.clicks + live.duplicates !== CLICKS.length - 2 || live.invalid_clicks !== 2) return false;
      // The leaderboard behind "Top ads" catches up a moment later.
      const top = await get<{ ads: { count: number }[] }>("/v1/ads/popular?window=60&top_n=10");
      return top.ads[0]?.count === live.clicks;
    },
    10_000,
  );
  // Archived, then rolled up, so the billing and reconciliation panels have rows too.
  await waitFor("the clicks archived", async () => (await get<Ops>("/v1/ops?minutes=60", ADMIN_TOKEN)).archive.log_rows === 0, 20_000);
  const rollup = await api(`${stack.queryUrl}/v1/admin/rollup`, { method: "POST", token: ADMIN_TOKEN, body: "{}" });
  if (rollup.status !== 200) throw new Error(`rollup: ${rollup.status}`);
  // A second key, so the keys panel lists two.
  const second = await api(`${stack.queryUrl}/v1/keys`, { method: "POST", token: acme.key, body: "{}" });
  if (second.status !== 201) throw new Error(`keys: ${second.status}`);
  if (shots) mkdirSync(shots, { recursive: true });
}, 600_000); // the first run may install Chromium

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (stack) for (const dir of [stack.persistTo, stack.buildDir]) removeDir(dir);
});

describe("in Chromium", () => {
  it("the dashboard shows, after the advertiser pastes their key, the API's numbers", async () => {
    const { page, problems } = await watched("/dashboard");
    await page.getByLabel("API key").fill(acme.key);
    await page.getByRole("button", { name: "Use key" }).click();
    await page.locator("#main").waitFor({ state: "visible" });
    // Every panel has answered: the live cards, the chart, the tables.
    await page.waitForFunction(() => document.querySelector("#live-clicks")?.firstChild?.textContent !== "–");
    for (const panel of ["#chart svg", "#by-country tr", "#by-device tr", "#top-ads tr", "#recon tr", "#billing tr"]) {
      await page.locator(panel).first().waitFor();
    }

    // The live cards: the first text of each is the number.
    const live = await get<Live>(`/v1/campaigns/${acme.campaign_id}/live?minutes=60`);
    const card = async (id: string) => numeric(await page.locator(`#${id}`).evaluate((dd) => dd.firstChild?.textContent));
    const shown = {
      clicks: await card("live-clicks"),
      unique_users: await card("live-users"),
      cost: await card("live-cost"),
      invalid_clicks: await card("live-invalid"),
      suspicious_clicks: await card("live-suspicious"),
      duplicates: await card("live-duplicates"),
      late_events: await card("live-late"),
      conversions: await card("live-conversions"),
      conversion_value: await card("live-conversion-value"),
    };
    const { clicks, unique_users, cost, invalid_clicks, suspicious_clicks, duplicates, late_events, conversions, conversion_value } = live;
    expect(shown).toEqual({
      clicks,
      unique_users,
      cost,
      invalid_clicks,
      suspicious_clicks,
      duplicates,
      late_events,
      conversions,
      conversion_value,
    });
    expect(shown.conversions).toBe(2);
    // Spend against the budget, and the pacing (it moves as the day goes by: to the shown 2 decimals).
    expect(await card("live-over-budget")).toBe(live.over_budget_clicks);
    expect(await card("live-spend")).toBe(live.spend);
    expect(live.spend).toBeGreaterThan(0);
    expect(await page.locator("#live-spend small").textContent()).toContain(`of ${live.daily_budget}`);
    const pacing = Number((await page.locator("#live-pacing").evaluate((dd) => dd.firstChild?.textContent))?.replace("×", ""));
    expect(pacing).toBeCloseTo(live.pacing!, 1);

    // The heatmap of the campaign's ad: one square per cell the API lists, titled with its count.
    await page.locator("#heatmap rect").first().waitFor();
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 3_600_000;
    const heat = await get<{ cells: { col: number; row: number; clicks: number }[] }>(
      `/v1/ads/${acme.ad_id}/heatmap?from=${new Date(hour - DAY).toISOString()}&to=${new Date(hour).toISOString()}`,
    );
    expect(heat.cells).toEqual([
      { col: 0, row: 0, clicks: 1 },
      { col: 19, row: 19, clicks: 1 },
    ]);
    expect(await page.locator("#heatmap rect title").allTextContents()).toEqual(
      heat.cells.map((c) => `column ${c.col}, row ${c.row}: ${c.clicks} clicks`),
    );
    expect(shown.clicks).toBeGreaterThanOrEqual(5);
    expect(shown.invalid_clicks).toBe(2);
    expect(shown.cost).toBeCloseTo(shown.clicks * 0.35, 6);

    // Invalid clicks by reason: both bots, under their readable label.
    expect(await page.locator("#reasons tr").allInnerTexts()).toEqual([expect.stringMatching(/^Bot or automated tool.*bot_ua\s+2\s+100%/)]);

    // By country, last 24 hours: the page sums the API's hourly buckets per country.
    const end = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 3_600_000;
    const range = `start=${new Date(end - DAY).toISOString()}&end=${new Date(end).toISOString()}`;
    const metricsPath = `/v1/metrics?campaign_id=${acme.campaign_id}&${range}&granularity=hour&group_by=country`;
    const { metrics } = await get<{ metrics: Bucket[] }>(metricsPath);
    const sums = new Map<string, number[]>();
    for (const b of metrics) {
      const [c, i, money] = sums.get(b.group ?? "") ?? [0, 0, 0];
      sums.set(b.group ?? "", [c + b.clicks, i + b.invalid_clicks, money + b.cost]);
    }
    const expected = [...sums].filter(([, [c, i]]) => c || i).map(([k, [c, i, money]]) => [k, [c, i, Math.round(money * 1e6) / 1e6]]);
    const table = (await cellsOf(page, "#by-country tr")).map(([label, ...numbers]) => [code(label), numbers.slice(0, 3).map(numeric)]);
    expect(Object.fromEntries(table)).toEqual(Object.fromEntries(expected));
    expect(table.map(([k]) => k).sort()).toEqual(["BE", "DE", "NL", "US"]);

    // Top ads: the ad's count is the API's.
    const popular = await get<{ ads: { ad_id: string; count: number }[] }>("/v1/ads/popular?window=60&top_n=10");
    const top = (await cellsOf(page, "#top-ads tr")).map((r) => [r[1].split(" ")[0], numeric(r[3])]);
    expect(top).toEqual(popular.ads.map((a) => [a.ad_id, a.count]));
    expect(popular.ads).toEqual([expect.objectContaining({ ad_id: acme.ad_id, count: live.clicks })]);

    // Billing, last 7 days: the rolled-up rows as the API gives them; all of today's clicks are on the bill.
    const billingPath = `/v1/billing?campaign_id=${acme.campaign_id}&from=${day(Date.now() - 6 * DAY)}&to=${day(Date.now() + DAY)}`;
    const bill = await get<{ rows: BillingRow[] }>(billingPath);
    const key = (r: { date: string; country?: string; device_type: string }) => `${r.date} ${r.country} ${r.device_type}`;
    const billed = (await cellsOf(page, "#billing tr")).map(([date, country, device_type, clicks, users, money, invalid, status]) => ({
      date,
      country: code(country),
      device_type,
      clicks: numeric(clicks),
      unique_users: numeric(users),
      cost: numeric(money),
      invalid_clicks: numeric(invalid),
      status,
    }));
    const rows = bill.rows.map((r) => ({
      date: r.date,
      country: r.country,
      device_type: r.device_type,
      clicks: r.clicks,
      unique_users: r.unique_users,
      cost: r.cost,
      invalid_clicks: r.invalid_clicks,
      status: r.status,
    }));
    expect(billed.sort((a, b) => key(a).localeCompare(key(b)))).toEqual(rows.sort((a, b) => key(a).localeCompare(key(b))));
    expect(bill.rows.reduce((n, r) => n + r.clicks, 0)).toBe(live.clicks);

    // Reconciliation, today: the campaign's row is the API's.
    const recon = await get<{ campaigns: Reconciliation[] }>(`/v1/reconciliation?date=${day(Date.now())}`);
    const mine = recon.campaigns.find((c) => c.campaign_id === acme.campaign_id)!;
    expect(await page.locator("#recon tr.current td").allInnerTexts()).toEqual([
      "Acme launch",
      String(mine.realtime_clicks),
      String(mine.billed_clicks),
      (mine.difference > 0 ? "+" : "") + mine.difference,
      String(mine.late_clicks ?? 0),
      (mine.billing_status ?? "").replace(/_/g, " "),
    ]);
    expect(mine.billed_clicks).toBe(live.clicks);

    // API keys: the ids and times the API lists, this key marked; no secret on the page.
    await page.locator("#keys tr td").first().waitFor();
    const keys = await get<{ keys: { key_id: string; created_at: string; last_used_at: string | null; current: boolean }[] }>("/v1/keys");
    const when = (s: string | null) => (s ? s.slice(0, 16).replace("T", " ") : "never");
    expect(await cellsOf(page, "#keys tr")).toEqual(
      keys.keys.map((k) => [k.key_id, when(k.created_at), when(k.last_used_at), k.current ? "this key" : ""]),
    );
    expect(keys.keys).toHaveLength(2);
    expect(await page.locator("body").textContent()).not.toContain(acme.key);

    // Alerts: the API's list (none yet with no webhook set: the panel says so).
    const alerts = await get<{ webhook: unknown; alerts: { kind: string; delivery: string }[] }>("/v1/alerts?limit=20");
    await page.locator("#alerts tr").first().waitFor();
    const shownAlerts = await cellsOf(page, "#alerts tr:not(.empty)");
    expect(shownAlerts.map((r) => [r[1], r[4]])).toEqual(
      alerts.alerts.map((a) => [a.kind.replace(/_/g, " "), a.delivery.replace(/_/g, " ")]),
    );
    expect(await page.locator("#webhook").textContent()).toMatch(alerts.webhook ? /^Delivered to / : /^No webhook set/);

    // Export: the button downloads the chart's series, the API's CSV, whose numbers are the chart table's.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^metrics-${acme.campaign_id}-minute-.+\\.csv$`));
    const exported = parseCsv(readFileSync((await download.path())!, "utf8"));
    expect(exported).toHaveLength(60);
    expect(exported.reduce((n, r) => n + Number(r.clicks), 0)).toBe(live.clicks);
    expect(exported.reduce((n, r) => n + Number(r.invalid_clicks), 0)).toBe(live.invalid_clicks);
    expect(exported.reduce((n, r) => n + Number(r["invalid_by_reason.bot_ua"]), 0)).toBe(2);

    await page.screenshot({ path: join(shots || stack.persistTo, "dashboard.png"), fullPage: true });
    expect(await problems()).toEqual([]);

    // The watch is real: script injected into the page is refused by the CSP, and seen.
    await page.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.injected = true;";
      document.body.append(s);
    });
    await expect.poll(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^CSP: script-src(-elem)? blocked inline/)]));
    expect(await page.evaluate(() => (window as unknown as { injected?: boolean }).injected)).toBeUndefined();
    await page.close();
  });

  it("the ops page shows, after the operator pastes the admin token, the API's numbers", async () => {
    const { page, problems } = await watched("/ops");
    await page.locator("#token").fill(ADMIN_TOKEN);
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator("#signin").waitFor({ state: "hidden" });
    await page.locator("#campaigns tr").first().waitFor();

    const ops = await get<Ops>("/v1/ops?minutes=60", ADMIN_TOKEN);
    // Each tile is <div><b>value</b>label</div>.
    const tiles = Object.fromEntries(
      await page.locator("#ingest div").evaluateAll((ds) => ds.map((d) => [d.lastChild?.textContent, d.querySelector("b")?.textContent])),
    );
    const { clicks, invalid, duplicates } = ops.ingest;
    const shown = { clicks: numeric(tiles.clicks), invalid: numeric(tiles.invalid), duplicates: numeric(tiles.duplicates) };
    expect(shown).toEqual({ clicks, invalid, duplicates });
    expect(invalid).toBe(2);
    expect(await page.locator("#campaigns tr td:first-child").allInnerTexts()).toEqual(ops.campaigns.map((c) => c.campaign_id));

    await page.screenshot({ path: join(shots || stack.persistTo, "ops.png"), fullPage: true });
    expect(await problems()).toEqual([]);
    await page.close();
  });
});
