// `npm run bench`: throughput and latency of edgeclick's `GET /click` next to a trivial Worker that only
// returns a 302, in one run: phase 1 runs /click on the `npm start` stack (Miniflare driven directly) beside
// the trivial Worker under `wrangler dev` (the baseline the issue quotes) and under bare Miniflare, A B C A B C;
// phase 2 runs edgeclick's ingest Worker under `wrangler dev` beside the trivial one, A B A B.
// Results are printed and written to bench/RESULTS.md (see its header for the method).
//
// Settings (CLI flag or environment variable; the flag wins):
//   --duration=S      BENCH_DURATION      measured seconds per run                   (default 8)
//   --warmup=S        BENCH_WARMUP        unmeasured warm-up seconds before each run (default 2)
//   --concurrency=N   BENCH_CONCURRENCY   requests in flight (keep-alive connections) (default 32)
//   --max-requests=N  BENCH_MAX_REQUESTS  hard cap of requests per run               (default 1000000)
//   --runtimes=LIST   BENCH_RUNTIMES      miniflare (phase 1), wrangler (wrangler dev: the trivial baseline and phase 2) (default both)
//   --results=PATH    BENCH_RESULTS       where to write the results                 (default bench/RESULTS.md)
//   --keep            BENCH_KEEP=1        keep the temporary build/state directory
// e.g. `npm run bench -- --duration=4 --concurrency=16`.
//
// With the defaults one run is 10 s, so phase 1 takes 60 s of load and phase 2 40 s, plus start-up; the
// whole `npm run bench` (with bench/do.mjs and bench/rpc.mjs) about 4 minutes. Load only ever targets 127.0.0.1 on free ports (8787/8788 are left
// to a dev stack that may be running). Everything it starts is stopped at the end, on error and on Ctrl+C.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Miniflare, Log, LogLevel, convertV4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { ROOT, readDevVars, startStack } from "../scripts/stack.mjs";
import { runLoad } from "./lib/load.mjs";
import { killAllNow, startWrangler, stopAll, waitUntilReady } from "./lib/procs.mjs";
import { compare, runLine, summaryLines, writeResults } from "./lib/report.mjs";
import { captureConsoleErrors, gitState, sourceFingerprint, tallyLogErrors } from "./lib/watch.mjs";

const HOST = "127.0.0.1";
const BENCH = join(ROOT, "bench");
const TRIVIAL_CONFIG = join(BENCH, "trivial/wrangler.toml");
const LANDING = "https://example.com/";

// ---------------------------------------------------------------------------------------------- settings

function setting(flag, envName, fallback) {
  const arg = process.argv.slice(2).find((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));
  if (arg) return arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : "1";
  return process.env[envName] ?? fallback;
}
function positive(name, value) {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}
// bench/all.mjs hands every script the same flags: those of do.mjs (posters, batch) and rpc.mjs (calls) are fine here.
const known = ["duration", "warmup", "concurrency", "max-requests", "runtimes", "results", "keep", "posters", "batch", "calls"];
for (const a of process.argv.slice(2)) {
  if (!known.some((k) => a === `--${k}` || a.startsWith(`--${k}=`)))
    throw new Error(`unknown argument ${a} (see the top of bench/run.mjs)`);
}
const cfg = {
  durationS: positive("duration", setting("duration", "BENCH_DURATION", "8")),
  warmupS: Number(setting("warmup", "BENCH_WARMUP", "2")),
  concurrency: Math.floor(positive("concurrency", setting("concurrency", "BENCH_CONCURRENCY", "32"))),
  maxRequests: Math.floor(positive("max-requests", setting("max-requests", "BENCH_MAX_REQUESTS", "1000000"))),
  runtimes: setting("runtimes", "BENCH_RUNTIMES", "miniflare,wrangler")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
  results: resolve(ROOT, setting("results", "BENCH_RESULTS", "bench/RESULTS.md")),
  keep: setting("keep", "BENCH_KEEP", "0") === "1",
};
if (!(cfg.warmupS >= 0)) throw new Error("warmup must be >= 0");
for (const r of cfg.runtimes) if (!["miniflare", "wrangler"].includes(r)) throw new Error(`unknown runtime ${r} (miniflare, wrangler)`);

// --------------------------------------------------------------------------------------------- traffic

// Realistic enough that edgeclick's rules judge every click clean: browser user agents; a unique
// user_id per click (the same ad+user within one UTC minute would be a duplicate); and client IPs cycled
// through a pool large enough to stay far below 10 clicks per IP per second and 100 per minute at any
// rate this machine reaches (8192 IPs: up to ~80k req/s, and ~13k req/s sustained over a minute).
const IP_POOL = 8192;
const ips = Array.from({ length: IP_POOL }, (_, i) => `198.18.${i >> 8}.${i & 255}`); // RFC 2544 range
const UAS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
];
const COUNTRIES = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "CA"];
let ipCursor = 0; // shared by all phases, so consecutive runs keep spreading over the pool

/** A request generator for one phase; `tag` makes user ids unique across phases. Identical for both targets. */
function clickRequests(adId, tag) {
  return (seq) => {
    const ip = ips[ipCursor++ % IP_POOL];
    return {
      path: `/click?ad_id=${encodeURIComponent(adId)}&user_id=${tag}-${seq}`,
      headers: {
        "cf-connecting-ip": ip,
        "cf-ipcountry": COUNTRIES[seq % COUNTRIES.length],
        "user-agent": UAS[seq % UAS.length],
        accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      },
    };
  };
}

/** One click with fetch (no redirect following): must be a 302 to the landing page. */
/** A redirect to the ad's landing page with the click id edgeclick adds (and nothing else). */
const landsWithClickId = (location) =>
  new RegExp(`^${LANDING.replace(/[.?]/g, "\\$&")}\\?ec_click_id=[A-Za-z0-9._-]+$`).test(location ?? "");

async function probe(origin, adId, tag) {
  const { path, headers } = clickRequests(adId, tag)(0);
  const res = await fetch(origin + path, { headers, redirect: "manual", signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  if (res.status !== 302) throw new Error(`GET ${origin}${path} answered ${res.status}: ${body.slice(0, 300)}`);
  return res.headers.get("location");
}

// -------------------------------------------------------------------------------------------- helpers

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

const ADMIN_TOKEN = readDevVars().ADMIN_TOKEN ?? "dev-admin-token";

async function api(base, method, path, token, body) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Registers one advertiser with one campaign and ad per runtime (so each runtime's clicks count apart). */
async function registerAds(queryUrl) {
  const adv = await api(queryUrl, "POST", "/v1/admin/advertisers", ADMIN_TOKEN, { name: "bench advertiser" });
  const ads = {};
  for (const runtime of ["miniflare", "wrangler"]) {
    const camp = await api(queryUrl, "POST", "/v1/admin/campaigns", ADMIN_TOKEN, {
      advertiser_id: adv.advertiser_id,
      name: `bench ${runtime}`,
      cost_per_click: 0.25,
    });
    const ad = await api(queryUrl, "POST", "/v1/admin/ads", ADMIN_TOKEN, { campaign_id: camp.campaign_id, landing_url: LANDING });
    ads[runtime] = ad.ad_id;
  }
  return { apiKey: adv.api_key, ads };
}

/**
 * The campaign's count of the ad's clicks. Clicks are counted before their 302 is sent (or, if the
 * Durable Object was unreachable, queued and counted by the aggregator shortly after), so poll briefly
 * until it reaches what was acknowledged, then report whatever it is.
 */
async function countedClicks(queryUrl, apiKey, adId, expected) {
  const from = new Date(Date.now() - 3600_000).toISOString();
  const to = new Date(Date.now() + 3600_000).toISOString();
  const path = `/v1/ads/${encodeURIComponent(adId)}/aggregated_count?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  let count = NaN;
  for (let i = 0; i < 20; i++) {
    ({ count } = await api(queryUrl, "GET", path, apiKey));
    if (count >= expected) break;
    await sleep(500);
  }
  return count;
}

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

const WRANGLER_DEV_FLAGS = ["--ip", HOST, "--show-interactive-dev-session=false", "--log-level", "warn"];

const wranglerEnv = () => ({
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  // Our own dev registry: the ingest Worker we start must not be found by (or find) another session's
  // `wrangler dev` Workers through the shared default registry.
  WRANGLER_REGISTRY_PATH: dirs.registry,
  // wrangler's debug log files go with the rest of the temporary state, not to ~/.config/.wrangler.
  WRANGLER_LOG_PATH: dirs.wranglerLogs,
  NO_COLOR: "1",
  FORCE_COLOR: "0",
});

/** Bundles the trivial Worker exactly as scripts/stack.mjs bundles edgeclick's (`deploy --dry-run`). */
async function buildTrivial(outDir) {
  await promisify(execFile)(
    process.execPath,
    [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outDir, "-c", TRIVIAL_CONFIG],
    { cwd: ROOT, env: wranglerEnv(), maxBuffer: 16 << 20 },
  ).catch((err) => {
    throw new Error(`building the trivial Worker failed:\n${err.stderr || err.stdout || err.message}`);
  });
  const main = readdirSync(outDir).find((f) => f.endsWith(".js"));
  if (!main) throw new Error(`no bundle in ${outDir}`);
  return join(outDir, main);
}

/** The trivial Worker in its own Miniflare, served like the stack's ingest Worker (a direct workerd socket). */
async function startTrivialMiniflare(scriptPath, port) {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(TRIVIAL_CONFIG);
  const { cronTriggers: _c, rootPath: _r, modulesRules: _m, ...rest } = workerOptions;
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: HOST,
      port: 0,
      cf: false,
      log: new Log(LogLevel.WARN),
      workers: [
        {
          ...rest,
          name: "bench-trivial",
          modules: true,
          modulesRoot: resolve(scriptPath, ".."),
          scriptPath,
          unsafeDirectSockets: [{ host: HOST, port }],
        },
      ],
    }),
  );
  await mf.ready;
  return mf;
}

function printCount(c) {
  const verdict = c.counted === c.received ? "match" : `MISMATCH: ${c.counted - c.received}`;
  console.log(`  clicks: ${c.received} acknowledged with a 302 (all phases + probe), aggregated_count = ${c.counted} (${verdict})`);
}

function noteWorkerErrors(rt, tally, who) {
  if (!tally.count) return;
  const note = `${who} logged ${tally.count} errors/warnings during the runs; most frequent: ${tally.top().join("; ")}`;
  rt.notes.push(note);
  console.log(`  WARNING: ${note}`);
}

// ------------------------------------------------------------------------------------------------ runs

/**
 * One rotation of runs over `order` (e.g. A B C A B C) against `origins[target]`; prints each run as it
 * ends. Returns the runs and how many 302s the click targets gave (each one must be counted).
 */
async function rotate(runtime, order, origins, adId) {
  const runs = [];
  let received302 = 0;
  for (let i = 0; i < order.length; i++) {
    const target = order[i];
    const r = await runLoad({
      origin: origins[target],
      concurrency: cfg.concurrency,
      warmupMs: cfg.warmupS * 1000,
      durationMs: cfg.durationS * 1000,
      maxRequests: cfg.maxRequests,
      request: clickRequests(adId, `b${runtime.replace(/\W/g, "").slice(0, 4)}${i + 1}${Date.now().toString(36)}`),
    });
    if (target.startsWith("click")) received302 += r.total302;
    const run = { index: i + 1, target, ...r };
    runs.push(run);
    console.log(runLine(runtime, run));
  }
  return { runs, received302 };
}

// ------------------------------------------------------------------------------------------------ main

const started = Date.now();
const tmp = mkdtempSync(join(tmpdir(), "edgeclick-bench-"));
const dirs = {
  build: join(tmp, "build"),
  trivialBuild: join(tmp, "trivial-build"),
  state: join(tmp, "state"),
  registry: join(tmp, "registry"),
  wranglerLogs: join(tmp, "wrangler-logs"),
  logs: join(BENCH, "out"), // gitignored; wrangler dev logs stay there for a look after a failure
};
mkdirSync(dirs.logs, { recursive: true });
mkdirSync(dirs.registry, { recursive: true });

// Everything that has to be closed (on the way out, most recent first). `track(close)` returns a
// function that closes that one thing now and forgets it.
const closers = [];
function track(close) {
  const entry = { close };
  closers.push(entry);
  return async () => {
    const i = closers.indexOf(entry);
    if (i < 0) return;
    closers.splice(i, 1);
    await close();
  };
}
let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    while (closers.length) {
      const { close } = closers.pop();
      await close().catch((err) => console.error("cleanup:", err.message));
    }
    await stopAll();
    if (!cfg.keep) rmSync(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on("exit", killAllNow); // synchronous last resort: no wrangler/workerd child may outlive us
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping…`);
    const hardExit = setTimeout(() => process.exit(130), 10_000);
    cleanup().finally(() => {
      clearTimeout(hardExit);
      process.exit(130);
    });
  });
}

const meta = {
  command: ["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" "),
  date: new Date().toISOString(),
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model?.trim() ?? "?",
  memGiB: (totalmem() / 2 ** 30).toFixed(1),
  loadavg: loadavg()
    .map((l) => l.toFixed(2))
    .join(" "),
  node: process.version,
  wrangler: versionOf("wrangler"),
  miniflare: versionOf("miniflare"),
  workerd: versionOf("workerd"),
  undici: versionOf("undici"),
  concurrency: cfg.concurrency,
  warmupS: cfg.warmupS,
  durationS: cfg.durationS,
  maxRequests: cfg.maxRequests,
  ipPool: IP_POOL,
  git: gitState(ROOT),
  fingerprints: [],
};
/** Notes which edgeclick source is on disk at this point (see sourceFingerprint). */
const fingerprint = (moment) => meta.fingerprints.push({ moment, hash: sourceFingerprint(ROOT) });
const envNote = Object.entries(cfg)
  .filter(([k]) => ["durationS", "warmupS", "concurrency"].includes(k))
  .map(([k, v]) => `${k}=${v}`)
  .join(" ");
console.log(`bench: ${meta.nproc} CPUs, node ${meta.node}, load average ${meta.loadavg}; ${envNote}; runtimes ${cfg.runtimes.join(", ")}`);
console.log(`bench: temporary build/state in ${tmp}`);

const results = [];
let failed = false;
try {
  // -------- Setup, and the miniflare runtime (the stack must run first anyway: it registers the ads).
  const ports = { ingest: await freePort(), query: await freePort(), trivial: await freePort() };
  console.log("bench: bundling the edgeclick Workers and the trivial Worker with wrangler, starting the stack…");
  let t = Date.now();
  fingerprint("before the stack's bundle");
  const stack = await startStack({
    ingestPort: ports.ingest,
    queryPort: ports.query,
    host: HOST,
    persistTo: dirs.state,
    buildDir: dirs.build,
    crons: false,
  });
  const closeStack = track(() => stack.close());
  fingerprint("after the stack's bundle");
  const trivialScript = await buildTrivial(dirs.trivialBuild);
  const { apiKey, ads } = await registerAds(stack.queryUrl);
  console.log(`bench: stack up in ${((Date.now() - t) / 1000).toFixed(1)} s; ads: miniflare ${ads.miniflare}, wrangler ${ads.wrangler}`);

  // The trivial Worker under `wrangler dev` is the baseline the issue quotes (≈ 1.1–1.6k req/s here), so it
  // runs from the start: /click under npm start is measured next to it, turn about, in the same phase.
  let trivialDev = null;
  if (cfg.runtimes.includes("wrangler")) {
    t = Date.now();
    const port = await freePort();
    const proc = startWrangler(
      "wrangler-dev-trivial",
      [
        "dev",
        "-c",
        relative(ROOT, TRIVIAL_CONFIG),
        "--port",
        String(port),
        "--inspector-port",
        String(await freePort()),
        ...WRANGLER_DEV_FLAGS,
      ],
      { cwd: ROOT, env: wranglerEnv(), logDir: dirs.logs },
    );
    const origin = `http://${HOST}:${port}`;
    await waitUntilReady(proc, () => probe(origin, ads.wrangler, "probe-t").then(() => true), 120_000);
    trivialDev = { proc, origin };
    console.log(`bench: trivial Worker under wrangler dev up in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }

  if (cfg.runtimes.includes("miniflare")) {
    const rt = { name: "1: npm start", runs: [], notes: [] };
    results.push(rt);
    try {
      const trivialMf = await startTrivialMiniflare(trivialScript, ports.trivial);
      const closeTrivial = track(() => trivialMf.dispose());
      const origins = {
        "trivial-mf": `http://${HOST}:${ports.trivial}`,
        "click-mf": stack.ingestUrl,
        ...(trivialDev ? { "trivial-dev": trivialDev.origin } : {}),
      };
      await probe(origins["trivial-mf"], ads.miniflare, "probe-t");
      const location = await probe(origins["click-mf"], ads.miniflare, "probe-c");
      // The landing page with the click id /click adds (domain/click-id.ts).
      if (!landsWithClickId(location)) {
        throw new Error(`click redirected to ${location}, expected ${LANDING} with a click id`);
      }
      console.log(
        `\nbench: phase 1, the npm start stack up (${Object.entries(origins)
          .map(([k, o]) => `${k} ${o}`)
          .join(", ")})`,
      );
      const capture = captureConsoleErrors();
      let counted, received;
      try {
        // A B C A B C: the goal's pair (trivial under wrangler dev, click) and the same-runtime pair (click,
        // trivial on bare Miniflare) are each measured back to back, twice.
        const order = trivialDev
          ? ["trivial-dev", "click-mf", "trivial-mf", "trivial-dev", "click-mf", "trivial-mf"]
          : ["trivial-mf", "click-mf", "trivial-mf", "click-mf"];
        const { runs, received302 } = await rotate(rt.name, order, origins, ads.miniflare);
        rt.runs = runs;
        rt.comparisons = [
          ...(trivialDev ? [compare(runs, "goal", "trivial-dev", "click-mf")] : []),
          compare(runs, "same-mf", "trivial-mf", "click-mf"),
        ];
        received = received302 + 1; // + the probe click
        counted = await countedClicks(stack.queryUrl, apiKey, ads.miniflare, received);
      } finally {
        noteWorkerErrors(rt, capture.stop(), "the stack's Workers");
      }
      rt.count = { adId: ads.miniflare, received, counted };
      printCount(rt.count);
      await closeTrivial();
    } catch (err) {
      rt.error = err.stack ?? String(err);
      failed = true;
      console.error(`bench: miniflare runtime failed: ${rt.error}`);
    }
  }
  // The stack has to be down before `wrangler dev` opens the same state (one workerd per SQLite file).
  await closeStack();

  // -------- The wrangler dev runtime.
  if (cfg.runtimes.includes("wrangler")) {
    const rt = { name: "2: wrangler dev", runs: [], notes: [] };
    results.push(rt);
    try {
      if (!trivialDev) throw new Error("the trivial Worker under wrangler dev did not start");
      const trivial = trivialDev.proc;
      const p = { ingest: await freePort(), inspI: await freePort() };
      t = Date.now();
      console.log(`\nbench: starting wrangler dev for the ingest Worker…`);
      const ingest = startWrangler(
        "wrangler-dev-ingest",
        [
          "dev",
          "-c",
          "wrangler.toml",
          "--port",
          String(p.ingest),
          "--inspector-port",
          String(p.inspI),
          "--persist-to",
          dirs.state,
          ...WRANGLER_DEV_FLAGS,
        ],
        { cwd: ROOT, env: wranglerEnv(), logDir: dirs.logs },
      );
      const origins = { "trivial-dev": trivialDev.origin, "click-dev": `http://${HOST}:${p.ingest}` };
      // Ready = a click answers 302 (for the ingest Worker that also proves it sees the ad in its D1).
      await waitUntilReady(ingest, () => probe(origins["click-dev"], ads.wrangler, "probe-c").then(landsWithClickId), 120_000);
      console.log(`bench: wrangler dev up in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      fingerprint("when wrangler dev was ready (it bundles at start and again on every change)");
      console.log(`\nbench: phase 2, ingest under wrangler dev (trivial-dev ${origins["trivial-dev"]}, click-dev ${origins["click-dev"]})`);
      const logFrom = { trivial: statSync(trivial.logPath).size, ingest: statSync(ingest.logPath).size };
      const { runs, received302 } = await rotate(rt.name, ["trivial-dev", "click-dev", "trivial-dev", "click-dev"], origins, ads.wrangler);
      rt.runs = runs;
      rt.comparisons = [compare(runs, "same-dev", "trivial-dev", "click-dev")];
      fingerprint("after the wrangler dev runs");
      await stopAll();
      noteWorkerErrors(rt, tallyLogErrors(ingest.logPath, logFrom.ingest), "the ingest Worker (wrangler dev)");
      noteWorkerErrors(rt, tallyLogErrors(trivial.logPath, logFrom.trivial), "the trivial Worker (wrangler dev)");

      // No query Worker runs under wrangler dev; reopen the stack on the same state to read the count.
      const received = received302 + 1;
      try {
        const again = await startStack({
          ingestPort: ports.ingest,
          queryPort: ports.query,
          host: HOST,
          persistTo: dirs.state,
          buildDir: dirs.build,
          build: false,
          crons: false,
        });
        const closeAgain = track(() => again.close());
        const counted = await countedClicks(again.queryUrl, apiKey, ads.wrangler, received);
        rt.count = { adId: ads.wrangler, received, counted, note: "read back through the stack on the same state" };
        if (counted < received) {
          rt.notes.push(
            "only the ingest Worker runs under wrangler dev: no aggregator consumes its queue, so a click that " +
              "fell back to the queue (campaign object unreachable) stays uncounted here.",
          );
        }
        printCount(rt.count);
        await closeAgain();
      } catch (err) {
        rt.notes.push(`could not read the count back: ${err.message}`);
      }
    } catch (err) {
      rt.error = err.stack ?? String(err);
      failed = true;
      console.error(`bench: wrangler dev runtime failed: ${rt.error}`);
      await stopAll();
    }
  }
} catch (err) {
  failed = true;
  console.error("bench: failed:", err.stack ?? err);
} finally {
  await cleanup();
}

// ----------------------------------------------------------------------------------------------- report

const distinct = new Set(meta.fingerprints.map((f) => f.hash));
if (distinct.size > 1) {
  console.log(
    `\nbench: WARNING: the edgeclick sources changed during the bench (someone is editing them), so the runtimes ` +
      `may not have run the same code: ${meta.fingerprints.map((f) => `${f.hash} ${f.moment}`).join("; ")}`,
  );
}
console.log("\nbench: summary (req/s: mean of a target's runs; p50/p99: over all its runs' requests)");
for (const rt of results) {
  if (rt.comparisons?.length) for (const c of rt.comparisons) for (const line of summaryLines(c)) console.log(line);
  else console.log(`  ${rt.name}: no figures${rt.error ? ` (${rt.error.split("\n")[0]})` : ""}`);
}
if (results.some((rt) => rt.runs.length)) {
  meta.tookS = (Date.now() - started) / 1000;
  writeResults(cfg.results, { meta, runtimes: results });
  console.log(`\nbench: wrote ${relative(ROOT, cfg.results)} (${meta.tookS.toFixed(0)} s in all)`);
}
process.exitCode = failed ? 1 : 0;
