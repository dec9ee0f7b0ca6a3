// Summaries of the bench's runs, for the console and for bench/RESULTS.md.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mergeSorted, percentile } from "./load.mjs";

const ms = (v) => (Number.isFinite(v) ? v.toFixed(2) : "n/a");
const num = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "n/a");
const signedMs = (v) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${v.toFixed(2)}` : "n/a");

/** What each target of the bench is. */
export const TARGETS = {
  "trivial-mf": "trivial Worker, bare Miniflare",
  "trivial-dev": "trivial Worker, wrangler dev",
  "click-mf": "/click, npm start (Miniflare)",
  "click-dev": "/click, wrangler dev",
};

/** The comparisons the bench reports; `goal` is the issue's: /click under npm start vs the trivial Worker as `wrangler dev` runs it. */
export const COMPARISONS = {
  goal: "goal: /click under npm start vs the trivial Worker under wrangler dev",
  "same-mf": "same runtime: /click under npm start vs the trivial Worker on bare Miniflare",
  "same-dev": "same runtime: /click vs the trivial Worker, both under wrangler dev",
};

/** One target's figures: mean req/s of its runs, latency percentiles over all its measured requests. */
function figures(runs, target) {
  const rs = runs.filter((r) => r.target === target);
  if (!rs.length) return null;
  const lat = mergeSorted(...rs.map((r) => r.latencies));
  return {
    target,
    runs: rs.length,
    rps: rs.reduce((s, r) => s + r.rps, 0) / rs.length,
    errors: rs.reduce((s, r) => s + r.errors, 0),
    p50: percentile(lat, 0.5),
    p99: percentile(lat, 0.99),
  };
}

/** `click` against `base`, from runs of one rotation. */
export function compare(runs, id, base, click) {
  const b = figures(runs, base);
  const c = figures(runs, click);
  return {
    id,
    label: COMPARISONS[id],
    base: b,
    click: c,
    ratio: b && c ? c.rps / b.rps : NaN,
    addedP50: b && c ? c.p50 - b.p50 : NaN,
    addedP99: b && c ? c.p99 - b.p99 : NaN,
  };
}

export function statusText(statuses) {
  return (
    Object.entries(statuses)
      .map(([s, n]) => `${s}×${n}`)
      .join(" ") || "none"
  );
}

/** One line per run, as printed while the bench goes. */
export function runLine(runtime, r) {
  return (
    `  ${runtime.padEnd(15)} #${r.index} ${r.target.padEnd(11)} ${num(r.rps).padStart(7)} req/s  ` +
    `p50 ${ms(r.p50).padStart(7)} ms  p99 ${ms(r.p99).padStart(7)} ms  ${String(r.ok).padStart(7)} ok  ` +
    `${r.errors} errors${r.capped ? "  (request cap reached)" : ""}  [${statusText(r.statuses)}]`
  );
}

export function summaryLines(c) {
  if (!c.base || !c.click) return [`  ${c.label}: incomplete`];
  return [
    `  ${c.label}:`,
    `    ${c.base.target.padEnd(11)} ${num(c.base.rps).padStart(7)} req/s  p50 ${ms(c.base.p50)} ms  p99 ${ms(c.base.p99)} ms`,
    `    ${c.click.target.padEnd(11)} ${num(c.click.rps).padStart(7)} req/s  p50 ${ms(c.click.p50)} ms  p99 ${ms(c.click.p99)} ms`,
    `    ratio = ${c.ratio.toFixed(3)}` +
      (c.id === "goal" ? ` (goal >= 0.6: ${c.ratio >= 0.6 ? "met" : "NOT met"})` : "") +
      `;  added latency p50 ${signedMs(c.addedP50)} ms, p99 ${signedMs(c.addedP99)} ms`,
  ];
}

const HEADER = `# \`npm run bench\`: edgeclick's \`/click\` next to a trivial Worker

This file is rewritten by \`bench/run.mjs\` on every run; the section below is the latest one.

**Method.** The same \`GET /click?ad_id=…&user_id=…\` request is sent, in one process run, to four
targets:

- \`click-mf\` — edgeclick's \`/click\` on the stack exactly as \`npm start\` runs it (\`scripts/stack.mjs\`:
  the Workers bundled by \`wrangler deploy --dry-run\`, all four in one workerd driven by Miniflare):
  validate, look the ad up (D1, cached), judge and durably count the click in the campaign's Durable
  Object, then \`302\` to the landing page.
- \`trivial-dev\` — \`bench/trivial/worker.js\`, which only returns a \`302\`, under \`wrangler dev\`: how a
  developer runs a Worker locally, and the baseline whose figures the issue quotes (≈ 1.1–1.6k req/s).
- \`trivial-mf\` — the same trivial Worker bundled the same way and run by bare Miniflare in its own
  workerd: the ceiling of the runtime's HTTP path and of the load generator themselves.
- \`click-dev\` — edgeclick's ingest Worker alone under \`wrangler dev\` (its Durable Objects are its own; the
  ad was registered in its D1 beforehand through the stack's admin API on the same \`--persist-to\` state).

Phase 1 rotates **A B C A B C** over \`trivial-dev\`, \`click-mf\`, \`trivial-mf\` (so each pair that is
compared is measured back to back, twice); phase 2, with the stack stopped (\`wrangler dev\` opens the
same state), rotates **A B A B** over \`trivial-dev\`, \`click-dev\`. Idle targets stay up but use no CPU.

Each run is a closed loop of *C* keep-alive connections with one request in flight each (undici
\`Pool\`, redirects not followed), a warm-up whose requests are not measured, then a measured window.
Only a \`302\` is a success. Requests carry a browser \`User-Agent\`, a \`CF-IPCountry\` and a
\`CF-Connecting-IP\` cycling through a pool of IPs (198.18.0.0/15, the benchmarking range), and a
unique \`user_id\` each, so that edgeclick judges them as ordinary clean clicks, not as bursts or
duplicates. Latency is per request (send to end of response) over all measured 302s of a target.

**The three ratios.**

- **goal** (\`click-mf\` / \`trivial-dev\`): the issue's criterion — under load on \`npm start\`, \`/click\`
  reaches at least 0.6× the trivial 302 Worker's throughput, the trivial Worker run the usual way.
- **same runtime, bare Miniflare** (\`click-mf\` / \`trivial-mf\`): far below 0.6, and it cannot get close on
  this machine. Locally all four edgeclick Workers, their Durable Objects, the queue broker and the
  emulated Rate Limiting binding share one workerd process whose JavaScript runs on one thread, while the
  trivial Worker has a workerd of its own; a trivial response costs that thread ~0.1 ms, a Durable Object
  call with one SQLite write ~0.4 ms (measured: ≈ 2.6k such calls/s at most in one workerd). Splitting the
  stack over two workerd processes (Miniflare's dev registry) was measured too: a cross-process Durable
  Object call is slower still (≈ 1.3k calls/s), so it did not help.
- **same runtime, wrangler dev** (\`click-dev\` / \`trivial-dev\`): wrangler dev's port belongs to a
  *ProxyWorker* (wrangler's \`templates/startDevWorker/ProxyWorker.ts\`, in a second workerd) whose single
  Durable Object queues every request and \`fetch()\`es it on to the Worker, so its cost is paid by both.

**Reading the figures.** These machines are small and shared with other work, and the load generator
runs on the same cores as the runtime, so absolute req/s move from run to run. What counts is a ratio
and the added latency *within one run*.
`;

/** Writes bench/RESULTS.md: the static header, then the latest run. */
export function writeResults(path, { meta, runtimes }) {
  // bench/do.mjs and bench/rpc.mjs keep their own sections in the same file; carry them over.
  const previous = existsSync(path) ? readFileSync(path, "utf8") : "";
  const sections = [...previous.matchAll(/<!-- ([\w-]+):start -->[\s\S]*?<!-- \1:end -->/g)].map((m) => m[0]);
  const L = [HEADER, "## Latest run", ""];
  L.push(`- Command: \`${meta.command}\``);
  L.push(`- Date: ${meta.date} (took ${meta.tookS.toFixed(0)} s)`);
  L.push(`- Machine: ${meta.nproc} CPUs (${meta.cpu}), ${meta.memGiB} GiB RAM, load average at start ${meta.loadavg}`);
  const distinct = new Set(meta.fingerprints.map((f) => f.hash));
  L.push(
    `- Source: git ${meta.git}; sources fingerprint ` +
      (distinct.size <= 1
        ? `\`${meta.fingerprints[0]?.hash ?? "?"}\` throughout`
        : `**changed during the bench** (the runtimes may have run different code): ` +
          meta.fingerprints.map((f) => `\`${f.hash}\` ${f.moment}`).join(", ")),
  );
  L.push(
    `- Software: node ${meta.node}, wrangler ${meta.wrangler}, miniflare ${meta.miniflare}, workerd ${meta.workerd}, undici ${meta.undici}`,
  );
  L.push(
    `- Load: concurrency ${meta.concurrency}, warm-up ${meta.warmupS} s + measured ${meta.durationS} s per run, ` +
      `at most ${meta.maxRequests.toLocaleString("en-US")} requests per run, ${meta.ipPool.toLocaleString("en-US")} client IPs`,
  );
  L.push("");

  L.push("### Runs", "");
  L.push("| phase | # | target | req/s | 302s measured | non-302 | p50 ms | p99 ms | statuses |");
  L.push("|---|---|---|---:|---:|---:|---:|---:|---|");
  for (const rt of runtimes) {
    for (const r of rt.runs) {
      L.push(
        `| ${rt.name} | ${r.index} | ${r.target} | ${num(r.rps)} | ${r.ok} | ${r.errors} | ${ms(r.p50)} | ${ms(r.p99)} | ${statusText(r.statuses)}${r.capped ? " (request cap)" : ""} |`,
      );
    }
  }
  L.push("");

  L.push("### Means and ratios", "");
  L.push("| comparison | baseline req/s | /click req/s | ratio | baseline p50 / p99 ms | /click p50 / p99 ms | added p50 / p99 ms |");
  L.push("|---|---:|---:|---:|---:|---:|---:|");
  for (const rt of runtimes) {
    for (const c of rt.comparisons ?? []) {
      if (!c.base || !c.click) {
        L.push(`| ${c.label} | n/a | n/a | n/a | n/a | n/a | n/a |`);
        continue;
      }
      L.push(
        `| ${c.label} | ${num(c.base.rps)} | ${num(c.click.rps)} | **${c.ratio.toFixed(3)}** | ` +
          `${ms(c.base.p50)} / ${ms(c.base.p99)} | ${ms(c.click.p50)} / ${ms(c.click.p99)} | ${signedMs(c.addedP50)} / ${signedMs(c.addedP99)} |`,
      );
    }
  }
  L.push("");
  L.push(
    "req/s: mean of a target's runs. Latency percentiles: over all measured requests of its runs. Targets: " +
      Object.entries(TARGETS)
        .map(([k, v]) => `\`${k}\` = ${v}`)
        .join("; ") +
      ".",
  );
  L.push("");

  L.push("### Clicks acknowledged vs counted", "");
  L.push(
    "Every `302` from `/click` (warm-up, verification and tail requests included) is a click edgeclick " +
      "acknowledged, so it must be counted. `aggregated_count` counts *clicks*, i.e. clean + suspicious " +
      "events; invalid ones and duplicates are excluded, so with the realistic traffic above the two should be equal.",
  );
  L.push("");
  L.push("| phase | ad | 302s received (all phases) | aggregated_count | counted − received |");
  L.push("|---|---|---:|---:|---:|");
  for (const rt of runtimes) {
    const c = rt.count;
    if (!c) continue;
    const diff = Number.isFinite(c.counted) ? c.counted - c.received : NaN;
    L.push(
      `| ${rt.name} | \`${c.adId}\` | ${c.received} | ${c.counted ?? "n/a"} | ${Number.isFinite(diff) ? diff : "n/a"}${c.note ? ` (${c.note})` : ""} |`,
    );
  }
  L.push("");

  const notes = runtimes.filter((rt) => rt.error || rt.notes?.length);
  if (notes.length) {
    L.push("### Notes on this run", "");
    for (const rt of notes) {
      for (const n of rt.notes ?? []) L.push(`- ${rt.name}: ${n}`);
      if (rt.error) L.push(`- **${rt.name} failed**: ${rt.error.split("\n")[0]}`, "", "```", rt.error, "```");
    }
    L.push("");
  }
  for (const section of sections) L.push("", section);
  writeFileSync(path, `${L.join("\n")}\n`);
}
