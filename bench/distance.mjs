// `npm run bench:distance`: does a click wait for a distant campaign object? Two stacks in one run, the
// same code (the dev ingest entry, scripts/dev/ingest.ts), one with campaign objects 0 ms away
// and one with every call to them delayed by a 150 ms round trip; /click load at 16 connections, A B A B,
// p50/p99 of each. Then, under the same load, probe clicks on a quiet campaign and time how long each
// takes to show in `GET /v1/campaigns/{id}/live`.
//
// Settings: --duration=S (5), --rtt=MS (150), --probes=N (20), --results=PATH (bench/RESULTS.md).
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { ROOT, buildWorkers, readDevVars, startStack } from "../scripts/stack.mjs";
import { arg, freePort, writeSection } from "./lib/common.mjs";

export const START = "<!-- distance:start -->";
export const END = "<!-- distance:end -->";
const cfg = {
  durationS: Number(arg("duration", "5")),
  rtt: Number(arg("rtt", "150")),
  probes: Number(arg("probes", "20")),
  results: resolve(ROOT, arg("results", "bench/RESULTS.md")),
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";
let seq = 0;

const dir = mkdtempSync(join(tmpdir(), "edgeclick-bench-distance-"));
const build = join(dir, "build");
await buildWorkers(build);
const token = readDevVars().ADMIN_TOKEN;

async function setUp(rtt) {
  const stack = await startStack({
    ingestPort: await freePort(),
    queryPort: await freePort(),
    persistTo: join(dir, `state-${rtt}`),
    buildDir: build,
    build: false,
    crons: false,
    objectRttMs: rtt,
  });
  const post = async (path, body) =>
    (
      await fetch(`${stack.queryUrl}/v1/admin/${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      })
    ).json();
  const adv = await post("advertisers", { name: `Distance ${rtt}` });
  const mk = async (name) => {
    const { campaign_id } = await post("campaigns", { advertiser_id: adv.advertiser_id, name, cost_per_click: 0.1 });
    const { ad_id } = await post("ads", { campaign_id, landing_url: "https://example.com/" });
    return { campaign_id, ad_id };
  };
  return { rtt, stack, key: adv.api_key, busy: await mk("busy"), quiet: await mk("quiet"), runs: [], visible: [] };
}

/** Closed-loop /click load on the busy campaign until `until`. */
async function load(s, until, latencies) {
  const pool = new Pool(s.stack.ingestUrl, { connections: 16 });
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < until && !s.stop) {
        const k = seq++;
        const t = performance.now();
        const res = await pool.request({
          path: `/click?ad_id=${s.busy.ad_id}&user_id=b${k}`,
          method: "GET",
          headers: { "user-agent": UA, "cf-connecting-ip": `198.18.${(k >> 8) % 200}.${k & 255}` },
        });
        await res.body.dump();
        if (res.statusCode !== 302) throw new Error(`click answered ${res.statusCode}`);
        latencies?.push(performance.now() - t);
      }
    }),
  );
  await pool.close();
}

async function liveClicks(s) {
  const res = await fetch(`${s.stack.queryUrl}/v1/campaigns/${s.quiet.campaign_id}/live?minutes=5`, {
    headers: { authorization: `Bearer ${s.key}` },
  });
  return (await res.json()).clicks;
}

const stacks = [await setUp(0), await setUp(cfg.rtt)];
try {
  for (const s of [stacks[0], stacks[1], stacks[0], stacks[1]]) {
    const latencies = [];
    const t0 = performance.now();
    await load(s, t0 + cfg.durationS * 1000, latencies);
    s.runs.push({ rps: latencies.length / cfg.durationS, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) });
    console.log(
      `rtt ${s.rtt} ms: ${Math.round(latencies.length / cfg.durationS)} clicks/s, p50 ${pct(latencies, 0.5).toFixed(1)} ms, p99 ${pct(latencies, 0.99).toFixed(1)} ms`,
    );
  }
  // Freshness under load: a probe click on the quiet campaign, then /live until it shows.
  for (const s of stacks) {
    const until = performance.now() + 60_000;
    const busy = load(s, until);
    let seen = await liveClicks(s);
    for (let i = 0; i < cfg.probes; i++) {
      const t = performance.now();
      const res = await fetch(`${s.stack.ingestUrl}/click?ad_id=${s.quiet.ad_id}&user_id=q${seq++}`, {
        redirect: "manual",
        headers: { "user-agent": UA, "cf-connecting-ip": `198.19.0.${i}` },
      });
      if (res.status !== 302) throw new Error(`probe answered ${res.status}`);
      for (;;) {
        const n = await liveClicks(s);
        if (n > seen) {
          seen = n;
          break;
        }
        if (performance.now() - t > 10_000) throw new Error("a probe click never showed in /live");
        await sleep(10);
      }
      s.visible.push(performance.now() - t);
      await sleep(100);
    }
    s.stop = true;
    await busy;
    console.log(
      `rtt ${s.rtt} ms: click → visible in /live p50 ${pct(s.visible, 0.5).toFixed(0)} ms, p99 ${pct(s.visible, 0.99).toFixed(0)} ms`,
    );
  }
  const mean = (s, k) => s.runs.reduce((n, r) => n + r[k], 0) / s.runs.length;
  const [near, far] = stacks;
  const L = [
    START,
    "## Clicks answered at the edge: distance to the campaign object",
    "",
    `- Command: \`npm run bench:distance\`; ${new Date().toISOString()}; ${availableParallelism()} CPUs. Two stacks of the same code (the dev ingest entry), campaign objects 0 ms and ${cfg.rtt} ms away`,
    `  (every call to one waits that long first); /click at 16 connections, ${cfg.durationS} s per run, A B A B. Freshness: ${cfg.probes} probe clicks on a quiet campaign under the same load, each timed until \`/live\` shows it.`,
    "",
    "| campaign object | run 1 clicks/s | run 2 clicks/s | p50 ms | p99 ms | click → visible in /live p50 / p99 ms |",
    "|---|---:|---:|---:|---:|---:|",
    ...stacks.map(
      (s) =>
        `| ${s.rtt} ms away | ${Math.round(s.runs[0].rps)} | ${Math.round(s.runs[1].rps)} | ${mean(s, "p50").toFixed(1)} | ${mean(s, "p99").toFixed(1)} | ${pct(s.visible, 0.5).toFixed(0)} / **${pct(s.visible, 0.99).toFixed(0)}** |`,
    ),
    "",
    `Added p50 with ${cfg.rtt} ms of distance: **${(mean(far, "p50") - mean(near, "p50")).toFixed(1)} ms** (before edge buffers: +${cfg.rtt} ms by design: the 302 waited for the object).`,
    END,
  ];
  writeSection(cfg.results, START, END, L.slice(1, -1));
  console.log(L.slice(8, 12).join("\n"));
} finally {
  for (const s of stacks) await s.stack.close();
  rmSync(dir, { recursive: true, force: true });
}
