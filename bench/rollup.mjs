// `npm run bench:rollup`: billing at scale on the local stack. Archives N events for one UTC date (two days ago, so
// every hour is closed) straight into the stack's R2 as the aggregator writes them (one Parquet file per message and
// hour, --per-file events each, keys `<campaign>.<shard>-<seq>`), then measures, through the query API:
//   1. the rollup of that date over the small files (POST /v1/admin/rollup: every job, one after another);
//   2. compaction (POST /v1/admin/compact): files before and after, events per file;
//   3. the rollup again over the compacted archive; both rollups must give the same rows, and the events the same N;
//   4. the peak memory of the largest rollup job, run in Node against the same R2 and D1 (V8 heap + ArrayBuffers,
//      sampled every 2 ms, garbage included: an upper bound), and of compacting the largest campaign-hour.
// Settings: --events=N (1000000), --per-file=N (40), --campaigns=N (20), --big=F (0.4: the share of the biggest
// campaign), --results=PATH (bench/RESULTS.md).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { ROOT, startStack } from "../scripts/stack.mjs";
import { arg, freePort, writeSection } from "./lib/common.mjs";

const START = "<!-- rollup:start -->";
const END = "<!-- rollup:end -->";
const cfg = {
  events: Number(arg("events", "1000000")),
  perFile: Number(arg("per-file", "40")),
  campaigns: Number(arg("campaigns", "20")),
  big: Number(arg("big", "0.4")),
  results: resolve(ROOT, arg("results", "bench/RESULTS.md")),
};
if (typeof globalThis.gc !== "function") throw new Error("run with --expose-gc (npm run bench:rollup does)");

const DAY = 86_400_000;
const HOUR = 3_600_000;
const day0 = Math.floor((Date.now() - 2 * DAY) / DAY) * DAY;
const DATE = new Date(day0).toISOString().slice(0, 10);
const mb = () => (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers) / 2 ** 20;

/**
 * Peak memory above a GC'd baseline while `fn` runs: `peak` sampled every 2 ms with garbage included (an upper
 * bound), `live` sampled every 20 ms right after a full GC (what the job holds).
 */
async function peakOf(fn) {
  globalThis.gc();
  const base = mb();
  let peak = 0;
  let live = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, mb() - base);
    if (++ticks % 10 === 0) {
      globalThis.gc();
      live = Math.max(live, mb() - base);
    }
  }, 2);
  try {
    const result = await fn();
    peak = Math.max(peak, mb() - base);
    return { result, peak, live };
  } finally {
    clearInterval(timer);
  }
}

const dir = mkdtempSync(join(tmpdir(), "edgeclick-bench-rollup-"));
const out = join(dir, "node.mjs");
await build({
  entryPoints: [join(ROOT, "bench/rollup/node.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  outfile: out,
  external: ["cloudflare:*"],
  logLevel: "warning",
});
const lib = await import(pathToFileURL(out).href);

const [ingestPort, queryPort] = [await freePort(), await freePort()];
const stack = await startStack({ ingestPort, queryPort, persistTo: join(dir, "state"), buildDir: join(dir, "build"), crons: false });
const ADMIN = { Authorization: "Bearer dev-admin-token", "Content-Type": "application/json" };
const post = async (path, body) => {
  const res = await fetch(`${stack.queryUrl}${path}`, { method: "POST", headers: ADMIN, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
};

try {
  const bucket = await stack.mf.getR2Bucket("ARCHIVE", "edgeclick-batch");
  const bucketEu = await stack.mf.getR2Bucket("ARCHIVE_EU", "edgeclick-batch");
  const db = await stack.mf.getD1Database("DB", "edgeclick-batch");

  // Campaign sizes: one big campaign, the rest equal.
  const sizes = Array.from({ length: cfg.campaigns }, (_, i) =>
    i === 0 ? Math.round(cfg.events * cfg.big) : Math.round((cfg.events * (1 - cfg.big)) / (cfg.campaigns - 1)),
  );
  sizes[sizes.length - 1] += cfg.events - sizes.reduce((a, b) => a + b, 0);
  const campaigns = sizes.map((n, i) => ({ id: `cmp_bench${String(i).padStart(3, "0")}`, n }));

  // 1. Archive, as the aggregator would: files of --per-file events, per campaign and hour.
  const t0 = Date.now();
  let files = 0;
  let seq = 0;
  const pending = new Set();
  const put = async (key, bytes, n) => {
    const p = bucket.put(key, bytes, { customMetadata: { events: String(n) } }).finally(() => pending.delete(p));
    pending.add(p);
    if (pending.size >= 16) await Promise.race(pending);
  };
  const archiveCampaign = async (c, start, hours) => {
    const users = Math.max(1, Math.round(c.n / 5));
    for (let i = 0; i < c.n; ) {
      const hour = Math.floor((i / c.n) * hours);
      const n = Math.min(cfg.perFile, c.n - i);
      const events = [];
      for (let k = 0; k < n; k++, i++) {
        const ts = start + hour * HOUR + ((i * 7919) % HOUR);
        const v = i % 50;
        events.push({
          event_id: i % 97 === 0 && i > 200 ? `e-${i - 150}` : `e-${i}`,
          uid: `${c.id}-${i}`,
          timestamp: ts,
          received_at: ts + (i % 13) * 1000,
          source: "api",
          advertiser_id: "adv_bench",
          campaign_id: c.id,
          ad_id: `ad_${c.id}_${i % 5}`,
          publisher_id: `pub_${i % 40}`,
          user_id: i % 20 === 0 ? null : `u${(i * 2654435761) % users}`,
          ip_hash: `ip${i % 30011}`,
          user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
          referer: null,
          device_type: ["desktop", "mobile", "tablet"][i % 3],
          os: "Windows",
          browser: "Chrome",
          country: ["US", "DE", "FR", "GB", "JP", "BR", "IN"][i % 7],
          edge_country: "XX",
          city: null,
          asn: 13335,
          colo: "FRA",
          cost_per_click: 0.25,
          ad_format: null,
          variant: null,
          x: null,
          y: null,
          signature: "none",
          rate_limited: false,
          verdict: v < 40 ? "clean" : v < 44 ? "invalid" : v < 47 ? "duplicate" : "suspicious",
          reason: v < 40 ? null : v < 44 ? "bot_ua" : v < 47 ? "duplicate_event_id" : "geo_mismatch",
          late: i % 101 === 0,
          shard: 0,
          seq: i,
        });
      }
      await put(lib.archiveKey(`${c.id}.0-${seq++}`, events[0].timestamp), lib.encodeArchive(events), n);
      files++;
    }
  };
  for (const c of campaigns) await archiveCampaign(c, day0, 24);
  await Promise.all(pending);
  const archiveS = (Date.now() - t0) / 1000;
  console.log(`archived ${cfg.events.toLocaleString("en-US")} events in ${files.toLocaleString("en-US")} files (${archiveS.toFixed(0)} s)`);

  const rows = async () =>
    (
      await db
        .prepare(
          `SELECT campaign_id, country, device_type, clicks, unique_users, cost_micros, invalid_clicks, suspicious_clicks,
             duplicates, late_events, event_id_repeats FROM billing_daily WHERE date = ? ORDER BY 1, 2, 3`,
        )
        .bind(DATE)
        .all()
    ).results;

  // 2. Rollup over the small files.
  let t = Date.now();
  const before = await post("/v1/admin/rollup", { date: DATE });
  const smallS = (Date.now() - t) / 1000;
  const rowsSmall = await rows();
  console.log(`rollup over small files: ${smallS.toFixed(1)} s, ${before.jobs} jobs, ${before.dates[0].events} events`);

  // 3. Compaction.
  t = Date.now();
  const compaction = await post("/v1/admin/compact", {});
  const compactS = (Date.now() - t) / 1000;
  const listed = [];
  let cursor;
  do {
    const page = await bucket.list({ prefix: "raw/", cursor, include: ["customMetadata"] });
    listed.push(...page.objects);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  const parquet = listed.filter((o) => o.key.endsWith(".parquet"));
  const parquetAfter = parquet.length;
  const bigParts = parquet.filter((o) => o.key.includes(`${campaigns[0].id}.c`));
  const bigPerFile = bigParts.reduce((n, o) => n + Number(o.customMetadata?.events ?? 0), 0) / bigParts.length;
  console.log(`compaction: ${compactS.toFixed(1)} s, ${compaction.files_before} files → ${compaction.files_after} parts`);

  // 4. Rollup over the compacted archive.
  t = Date.now();
  const after = await post("/v1/admin/rollup", { date: DATE });
  const compactedS = (Date.now() - t) / 1000;
  const rowsCompacted = await rows();
  const same = JSON.stringify(rowsSmall) === JSON.stringify(rowsCompacted);
  console.log(`rollup over compacted files: ${compactedS.toFixed(1)} s, ${after.jobs} jobs; rows identical: ${same}`);
  if (!same || after.dates[0].events !== cfg.events || before.dates[0].events !== cfg.events) throw new Error("billing differs");

  // 5. Memory of the largest job (a partition of the big campaign), in Node against the same R2 and D1.
  const env = { ARCHIVE: bucket, ARCHIVE_EU: bucketEu, DB: db, CAMPAIGN: null };
  const plan = await lib.planRollup(env, [DATE], Date.now());
  const biggest = plan.jobs.find((j) => j.campaign_id === campaigns[0].id);
  const job = await peakOf(() => lib.runJob(env, biggest));
  console.log(
    `largest job (${biggest.part + 1} of ${biggest.parts}): ${job.result.events} events, peak ${job.peak.toFixed(1)} MB, live ${job.live.toFixed(1)} MB`,
  );

  // 6. Memory of compacting one full part: a campaign-hour of COMPACT_PART_EVENTS events (a day earlier, in Node).
  const hourStart = day0 - DAY;
  const dayFiles = files;
  files = 0;
  await archiveCampaign({ id: "cmp_benchpart", n: lib.COMPACT_PART_EVENTS }, hourStart, 1);
  await Promise.all(pending);
  const partFolder = `raw/${lib.hourPartition(hourStart)}/`;
  const part = await peakOf(() => lib.compactFolder(bucket, partFolder, Date.now()));
  console.log(
    `compacting ${part.result.events} events of one campaign-hour: peak ${part.peak.toFixed(1)} MB, live ${part.live.toFixed(1)} MB`,
  );

  const perMillion = (s) => (s / cfg.events) * 1e6;
  const L = [
    START,
    "## Rollup: compaction and the fanned-out billing rollup",
    "",
    `- Command: \`npm run bench:rollup\`; ${new Date().toISOString()}; ${cfg.events.toLocaleString("en-US")} events of one UTC date in ${cfg.campaigns} campaigns (the biggest ${Math.round(cfg.big * 100)} %), written straight into the local stack's R2 as the aggregator writes them (${cfg.perFile} events a file, as measured on main: 39), ${archiveS.toFixed(0)} s to write.`,
    "- Rollups through `POST /v1/admin/rollup` (every job one after another in the batch Worker, on the one workerd thread); memory of the largest job in Node against the same R2 and D1 (V8 heap + ArrayBuffers above a GC'd baseline, sampled every 2 ms, garbage included).",
    "",
    "| what | figure |",
    "|---|---:|",
    `| files before compaction | ${dayFiles.toLocaleString("en-US")} (${(cfg.events / dayFiles).toFixed(0)} events/file) |`,
    `| files after compaction | ${parquetAfter.toLocaleString("en-US")} (${Math.round(cfg.events / parquetAfter).toLocaleString("en-US")} events/file: one per campaign-hour, ${cfg.campaigns} campaigns × 24 h) + ${compaction.campaigns} manifests; the biggest campaign's parts hold **${Math.round(bigPerFile).toLocaleString("en-US")} events/file** |`,
    `| compaction wall time | ${compactS.toFixed(1)} s (${perMillion(compactS).toFixed(1)} s per million events) |`,
    `| rollup over small files | ${smallS.toFixed(1)} s, ${before.jobs} jobs (${perMillion(smallS).toFixed(1)} s per million events) |`,
    `| rollup over compacted files | **${compactedS.toFixed(1)} s**, ${after.jobs} jobs (**${perMillion(compactedS).toFixed(1)} s per million events**) |`,
    `| billing rows identical before/after compaction | ${same ? "yes" : "NO"} (${rowsCompacted.length} rows, ${cfg.events.toLocaleString("en-US")} events both times) |`,
    `| memory of the largest job (${job.result.events.toLocaleString("en-US")} events, part ${biggest.part + 1} of ${biggest.parts}; EVENTS_PER_JOB ${lib.EVENTS_PER_JOB.toLocaleString("en-US")}) | **${job.live.toFixed(1)} MB** held (after GC); ${job.peak.toFixed(1)} MB with garbage |`,
    `| memory of compacting one full part (${part.result.events.toLocaleString("en-US")} events of one campaign-hour from ${files.toLocaleString("en-US")} files; COMPACT_PART_EVENTS) | **${part.live.toFixed(1)} MB** held (after GC); ${part.peak.toFixed(1)} MB with garbage |`,
    END,
  ];
  writeSection(cfg.results, START, END, L.slice(1, -1));
  console.log(L.join("\n"));
} finally {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
}
