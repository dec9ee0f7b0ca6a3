// `npm run bench:query`: real-time query latency while events arrive. Publishers post 250-event batches
// to one campaign (about 2,000 events/s) while one reader asks, one request at a time, for a 60-minute
// minute series (GET /v1/metrics, campaign, granularity=minute) and another for the live view
// (GET /v1/campaigns/{id}/live?minutes=60). Reports p50/p99 of each, and the same idle.
//
// Settings: --duration=S (10), --results=PATH (bench/RESULTS.md). Load only targets 127.0.0.1.
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { ROOT } from "../scripts/stack.mjs";
import { arg, benchStack, writeSection } from "./lib/common.mjs";

export const START = "<!-- query:start -->";
export const END = "<!-- query:end -->";

const cfg = { durationS: Number(arg("duration", "10")), results: resolve(ROOT, arg("results", "bench/RESULTS.md")) };

const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const COUNTRIES = ["US", "DE", "FR", "NL", "BR", "IN", "JP", "GB"];
const DEVICES = ["desktop", "mobile", "tablet"];
let seq = 0;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};

const { stack, adminPost: post, close } = await benchStack("query");
try {
  const adv = await post("advertisers", { name: "Bench query" });
  const { campaign_id } = await post("campaigns", { advertiser_id: adv.advertiser_id, name: "Queried", cost_per_click: 0.1 });
  const ads = [];
  for (let i = 0; i < 5; i++) ads.push((await post("ads", { campaign_id, landing_url: "https://example.com/" })).ad_id);
  const pubs = [await post("publishers", { name: "Q1" }), await post("publishers", { name: "Q2" })];

  // An hour of history first, so the series has 60 full minutes of cells (dimensions vary).
  const ingest = new Pool(stack.ingestUrl, { connections: 2 });
  const postBatch = async (key, at) => {
    const events = Array.from({ length: 250 }, () => {
      const n = seq++;
      return {
        event_id: `q${n}`,
        timestamp: at(),
        ad_id: ads[n % ads.length],
        user_id: `u${n % 5000}`,
        ip_address: `198.18.${(n >> 8) % 200}.${n & 255}`,
        user_agent: UA,
        country: COUNTRIES[n % COUNTRIES.length],
        device_type: DEVICES[n % DEVICES.length],
      };
    });
    const res = await ingest.request({
      path: "/v1/events",
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(events),
    });
    await res.body.dump();
  };
  const now = Date.now();
  for (let m = 59; m >= 1; m -= 2) await postBatch(pubs[m % 2].api_key, () => now - m * 60_000 + (seq % 50_000));

  const reader = new Pool(stack.queryUrl, { connections: 2 });
  const auth = { authorization: `Bearer ${adv.api_key}` };
  const measure = async (path, until) => {
    const ms = [];
    while (performance.now() < until) {
      const t = performance.now();
      const res = await reader.request({ path: path(), method: "GET", headers: auth });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`${path()} answered ${res.statusCode}`);
      ms.push(performance.now() - t);
    }
    return ms;
  };
  const series = () => {
    const end = Math.ceil(Date.now() / 60_000) * 60_000;
    return `/v1/metrics?campaign_id=${campaign_id}&start=${new Date(end - 3_600_000).toISOString()}&end=${new Date(end).toISOString()}&granularity=minute`;
  };
  const live = () => `/v1/campaigns/${campaign_id}/live?minutes=60`;

  const phase = async (withLoad) => {
    const until = performance.now() + cfg.durationS * 1000;
    let posted = 0;
    const posters = withLoad
      ? pubs.map(async (p) => {
          while (performance.now() < until) {
            await postBatch(p.api_key, () => Date.now());
            posted += 250;
            await sleep(200);
          }
        })
      : [];
    const [s, l] = await Promise.all([measure(series, until), measure(live, until), ...posters]);
    return { series: s, live: l, eps: posted / cfg.durationS };
  };
  const idle = await phase(false);
  const busy = await phase(true);
  await ingest.close();
  await reader.close();
  const row = (name, p) =>
    `| ${name} | ${p.series.length} | ${pct(p.series, 0.5).toFixed(1)} | **${pct(p.series, 0.99).toFixed(1)}** | ${p.live.length} | ${pct(p.live, 0.5).toFixed(1)} | **${pct(p.live, 0.99).toFixed(1)}** |`;
  const L = [
    START,
    "## Real-time query latency while events arrive",
    "",
    `- Command: \`npm run bench:query\`; ${new Date().toISOString()}; ${availableParallelism()} CPUs; Miniflare stack.`,
    `- One campaign, 5 ads, an hour of history; one reader per endpoint, one request at a time, ${cfg.durationS} s per phase; under load two publishers post`,
    `  250-event batches (${Math.round(busy.eps).toLocaleString("en-US")} events/s measured). Series = \`GET /v1/metrics\` 60 minute buckets of the campaign; live = \`GET /v1/campaigns/{id}/live?minutes=60\`.`,
    "",
    "| phase | series requests | series p50 ms | series p99 ms | live requests | live p50 ms | live p99 ms |",
    "|---|---:|---:|---:|---:|---:|---:|",
    row("idle", idle),
    row("events arriving", busy),
    END,
  ];
  for (const l of L.slice(9, 11)) console.log(l);
  writeSection(cfg.results, START, END, L.slice(1, -1));
  console.log(`bench:query: wrote ${cfg.results}`);
} finally {
  await close();
}
