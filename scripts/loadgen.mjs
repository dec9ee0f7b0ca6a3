// `npm run loadgen -- --target http://127.0.0.1:8787 --rate 200 --duration 20 [--mix clicks=0.7,events=0.3]
//   [--fraud 0.15] [--late 0.02] [--dupes 0.05] [--query URL] [--admin-token T] [--i-mean-it]`
//
// Realistic traffic against a running stack, then a check that every acknowledged event was counted.
// It registers its own advertiser, campaign, ads and publisher (admin API), blocklists a few IPs, and sends
// /click (browsers of many countries and devices, bots, blocklisted IPs) and POST /v1/events batches
// (bursts of 15 from one IP in one second, late events two hours old, resends of events already sent,
// double clicks of one user in one minute). Every kind is built so that its verdict does not depend on
// arrival order, so the expected counts are exact. A ledger keeps what was acknowledged (302 / 202);
// what was sent but not acknowledged may or may not count. At the end it asks the query API and prints
// expected against counted per verdict; it exits 1 if anything acknowledged is missing or counted twice.
//
// Bounded: at most --duration 3600 s, --rate 20000 events/s, --max-events 2,000,000. Targets other than
// this machine (localhost, 127.0.0.0/8, ::1) are refused unless --i-mean-it is given.
import { pathToFileURL } from "node:url";
import { realpathSync } from "node:fs";
import { SingleBar, Presets } from "cli-progress";
import { readDevVars } from "./stack.mjs";

const COUNTRIES = ["US", "DE", "FR", "GB", "BR", "IN", "JP", "NL", "ES", "CA"];
const BROWSERS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
  "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
];
const BOTS = [
  "Googlebot/2.1 (+http://www.google.com/bot.html)",
  "curl/8.5.0",
  "python-requests/2.31",
  "Mozilla/5.0 (compatible; AhrefsBot/7.0)",
];
const BLOCKED_IPS = ["203.0.113.250", "203.0.113.251", "203.0.113.252", "203.0.113.253", "203.0.113.254"];
const LIMITS = { durationS: 3600, rate: 20_000, maxEvents: 2_000_000 };

export function isLoopback(url) {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function parseArgs(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const [k, inline] = a.slice(2).split(/=(.*)/s);
    if (k === "i-mean-it") flags[k] = true;
    else flags[k] = inline ?? argv[++i];
  }
  return flags;
}

const pick = (list, n) => list[n % list.length];

/** The expected verdict counts of the acknowledged events, per category. */
function emptyTally() {
  return { clicks: 0, bot_ua: 0, blocklisted_ip: 0, ip_burst_second: 0, duplicates: 0, late_events: 0 };
}

export async function runLoadgen(o) {
  const log = o.log ?? console.log;
  const admin = async (path, body) => {
    const res = await fetch(`${o.query}/v1/admin/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${o.adminToken}` },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`admin ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const run = Date.now().toString(36);
  const adv = await admin("advertisers", { name: `loadgen ${run}` });
  const { campaign_id } = await admin("campaigns", { advertiser_id: adv.advertiser_id, name: `loadgen ${run}`, cost_per_click: 0.1 });
  const ads = [];
  for (let i = 0; i < 3; i++) ads.push(await admin("ads", { campaign_id, landing_url: `https://loadgen.example/${i}` }));
  // Its own limits sized to the run (at worst one event per request), so the load is never throttled by them.
  const pub = await admin("publishers", {
    name: `loadgen ${run}`,
    requests_per_minute: Math.max(600, Math.ceil(o.rate * 60)),
    events_per_second: Math.max(5_000, Math.ceil(o.rate * 2)),
  });
  await admin("blocklist", { ips: BLOCKED_IPS });

  const expected = emptyTally();
  const maybe = emptyTally(); // sent, not acknowledged: may or may not be counted
  const ledger = { sent: 0, acknowledged: 0, failed: 0 };
  let n = 0;
  // Unique addresses in the benchmark range 198.18.0.0/15, one per ordinary event.
  const ip = (k) => `198.${18 + ((k >> 16) & 1)}.${(k >> 8) & 255}.${k & 255}`;

  const bar =
    o.progress === false
      ? null
      : new SingleBar(
          { format: "loadgen [{bar}] {percentage}% | {value}/{total} events | acknowledged {acked} | failed {failed}" },
          Presets.shades_classic,
        );
  const total = Math.min(o.maxEvents, Math.round(o.rate * o.durationS));
  bar?.start(total, 0, { acked: 0, failed: 0 });

  const inFlight = new Set();
  const track = (p) => {
    inFlight.add(p);
    p.finally(() => inFlight.delete(p));
  };
  const account = (ok, tally) => {
    const into = ok ? expected : maybe;
    for (const [k, v] of Object.entries(tally)) into[k] += v;
    if (ok) ledger.acknowledged += Object.values(tally).reduce((a, b) => a + b, 0);
    else ledger.failed++;
    bar?.update(ledger.sent, { acked: ledger.acknowledged, failed: ledger.failed });
  };

  const click = (kind) => {
    const k = n++;
    const ua = kind === "bot" ? pick(BOTS, k) : pick(BROWSERS, k);
    const from = kind === "blocked" ? pick(BLOCKED_IPS, k) : ip(k);
    const tally = { ...emptyTally(), [kind === "bot" ? "bot_ua" : kind === "blocked" ? "blocklisted_ip" : "clicks"]: 1 };
    ledger.sent++;
    track(
      fetch(`${pick(ads, k).click_url}&user_id=lg${run}-${k}`, {
        redirect: "manual",
        headers: { "user-agent": ua, "cf-connecting-ip": from, "cf-ipcountry": pick(COUNTRIES, k) },
      })
        .then((r) => account(r.status === 302, tally))
        .catch(() => account(false, tally)),
    );
  };

  /** Posted events of one request, each with what it should count as. */
  let batch = [];
  const sentEvents = [];
  const event = (kind, now) => {
    const k = n++;
    const base = {
      event_id: `lg${run}-${k}`,
      timestamp: now,
      ad_id: pick(ads, k).ad_id,
      user_id: `lg${run}-${k}`,
      ip_address: ip(k),
      user_agent: pick(BROWSERS, k),
      country: pick(COUNTRIES, k),
    };
    if (kind === "late")
      return [
        { ...base, timestamp: now - 2 * 3_600_000 - (k % 600_000) },
        { ...emptyTally(), late_events: 1 },
      ];
    if (kind === "bot")
      return [
        { ...base, user_agent: pick(BOTS, k) },
        { ...emptyTally(), bot_ua: 1 },
      ];
    if (kind === "blocked")
      return [
        { ...base, ip_address: pick(BLOCKED_IPS, k) },
        { ...emptyTally(), blocklisted_ip: 1 },
      ];
    return [base, { ...emptyTally(), clicks: 1 }];
  };
  const post = (items) => {
    if (items.length === 0) return;
    ledger.sent += items.length;
    const tally = emptyTally();
    for (const [, t] of items) for (const [k, v] of Object.entries(t)) tally[k] += v;
    track(
      fetch(`${o.target}/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${pub.api_key}`, "content-type": "application/json" },
        body: JSON.stringify(items.map(([e]) => e)),
      })
        .then(async (r) => {
          const body = r.status === 202 ? await r.json() : null;
          const ok = body !== null && body.accepted === items.length && body.rejected.length === 0;
          account(ok, tally);
          if (ok) sentEvents.push(...items.filter(([, t]) => t.clicks === 1).map(([e]) => e));
        })
        .catch(() => account(false, tally)),
    );
  };

  const start = Date.now();
  const tickMs = 100;
  let owed = 0;
  for (let t = start; Date.now() - start < o.durationS * 1000 && ledger.sent < total; t += tickMs) {
    owed += (o.rate * tickMs) / 1000;
    const now = Date.now();
    while (owed >= 1 && ledger.sent < total) {
      owed--;
      const r = ((n * 2654435761) >>> 0) / 2 ** 32;
      const kind =
        r < o.fraud / 3
          ? "bot"
          : r < (2 * o.fraud) / 3
            ? "blocked"
            : r < o.fraud
              ? "burst"
              : r < o.fraud + o.late
                ? "late"
                : r < o.fraud + o.late + o.dupes
                  ? "dupe"
                  : "clean";
      const viaClick = ((n * 40503) % 1000) / 1000 < o.clickShare;
      if (kind === "burst") {
        // 15 events of one IP in one UTC second (of event time): 10 clean, 5 ip_burst_second.
        const k = n++;
        const second = Math.floor(now / 1000) * 1000;
        const burst = Array.from({ length: 15 }, (_, i) => [
          {
            event_id: `lg${run}-b${k}-${i}`,
            timestamp: second + i * 10,
            ad_id: pick(ads, k).ad_id,
            user_id: `lg${run}-b${k}-${i}`,
            ip_address: `198.51.100.${k % 250}`,
            user_agent: pick(BROWSERS, i),
            country: "US",
          },
          i < 10 ? { ...emptyTally(), clicks: 1 } : { ...emptyTally(), ip_burst_second: 1 },
        ]);
        batch.push(...burst);
        owed -= 14;
      } else if (kind === "dupe" && sentEvents.length > 0) {
        // A resend of an event already acknowledged (same id and time): a duplicate.
        batch.push([sentEvents[n++ % sentEvents.length], { ...emptyTally(), duplicates: 1 }]);
      } else if (kind === "dupe") {
        // Nothing to resend yet: a double click of one user in one minute, as a pair.
        const [first, t1] = event("clean", now);
        batch.push(
          [first, t1],
          [
            { ...first, event_id: `${first.event_id}-again` },
            { ...emptyTally(), duplicates: 1 },
          ],
        );
      } else if (viaClick && kind !== "late") click(kind);
      else batch.push(event(kind, now));
      if (batch.length >= 1000 - 15) {
        post(batch);
        batch = [];
      }
    }
    // A request every half second at most per publisher key (its limit is 600 a minute).
    if ((t - start) % 500 < tickMs) {
      post(batch);
      batch = [];
    }
    // Keep in-flight requests bounded: the generator waits rather than piling up sockets.
    while (inFlight.size > 64) await Promise.race(inFlight);
    const wait = t + tickMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  post(batch);
  await Promise.allSettled([...inFlight]);
  bar?.stop();

  // Counted: the campaign's day buckets, once the numbers stop moving (real time is fresh within a second).
  const day = 86_400_000;
  const from = new Date(Math.floor((start - 3 * 3_600_000) / day) * day).toISOString();
  const to = new Date(Math.floor(Date.now() / day) * day + day).toISOString();
  const counted = async () => {
    const res = await fetch(`${o.query}/v1/metrics?campaign_id=${campaign_id}&start=${from}&end=${to}&granularity=day`, {
      headers: { authorization: `Bearer ${o.adminToken}` },
    });
    const { metrics } = await res.json();
    const c = emptyTally();
    for (const m of metrics) {
      c.clicks += m.clicks;
      c.bot_ua += m.invalid_by_reason.bot_ua ?? 0;
      c.blocklisted_ip += m.invalid_by_reason.blocklisted_ip ?? 0;
      c.ip_burst_second += m.invalid_by_reason.ip_burst_second ?? 0;
      c.duplicates += m.duplicates;
      c.late_events += m.late_events;
    }
    return c;
  };
  let got = await counted();
  const settle = Date.now() + (o.settleMs ?? 60_000);
  const fits = (c) => Object.keys(expected).every((k) => c[k] >= expected[k] && c[k] <= expected[k] + maybe[k]);
  while (!fits(got) && Date.now() < settle) {
    await new Promise((r) => setTimeout(r, 500));
    got = await counted();
  }
  const rows = Object.keys(expected).map((verdict) => ({
    verdict,
    expected: expected[verdict],
    "not acknowledged (may count)": maybe[verdict],
    counted: got[verdict],
    ok: got[verdict] >= expected[verdict] && got[verdict] <= expected[verdict] + maybe[verdict],
  }));
  log(
    `loadgen: ${ledger.sent} events sent in ${((Date.now() - start) / 1000).toFixed(1)} s, ${ledger.acknowledged} acknowledged, ${ledger.failed} requests failed; campaign ${campaign_id}`,
  );
  return { ok: rows.every((r) => r.ok), rows, campaign_id, ledger };
}

if (import.meta.url === pathToFileURL(realpathSync(process.argv[1] ?? ".")).href) {
  const f = parseArgs(process.argv.slice(2));
  const target = (f.target ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
  const query = (f.query ?? (isLoopback(target) ? target.replace(/:8787$/, ":8788") : "")).replace(/\/+$/, "");
  if (!query) throw new Error("--query URL is needed for a target other than http://127.0.0.1:8787");
  if (!f["i-mean-it"] && (!isLoopback(target) || !isLoopback(query))) {
    console.error(`loadgen: ${target} is not this machine; add --i-mean-it to load a deployed stack.`);
    process.exit(2);
  }
  const mix = Object.fromEntries(
    (f.mix ?? "clicks=0.7,events=0.3")
      .split(",")
      .map((p) => p.split("="))
      .map(([k, v]) => [k, Number(v)]),
  );
  const o = {
    target,
    query,
    adminToken: f["admin-token"] ?? readDevVars().ADMIN_TOKEN,
    rate: Math.min(LIMITS.rate, Number(f.rate ?? 200)),
    durationS: Math.min(LIMITS.durationS, Number(f.duration ?? 10)),
    maxEvents: Math.min(LIMITS.maxEvents, Number(f["max-events"] ?? LIMITS.maxEvents)),
    clickShare: (mix.clicks ?? 0) / ((mix.clicks ?? 0) + (mix.events ?? 0) || 1),
    fraud: Number(f.fraud ?? 0.15),
    late: Number(f.late ?? 0.02),
    dupes: Number(f.dupes ?? 0.05),
  };
  for (const [k, v] of Object.entries(o)) if (typeof v === "number" && !(v >= 0)) throw new Error(`--${k} must be a number ≥ 0`);
  const result = await runLoadgen(o);
  console.table(result.rows);
  console.log(result.ok ? "loadgen: every acknowledged event counted, none twice" : "loadgen: MISMATCH between acknowledged and counted");
  process.exit(result.ok ? 0 : 1);
}
