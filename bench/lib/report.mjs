// Summaries of the bench's runs, for the console and for bench/RESULTS.md.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mergeSorted, percentile } from "./load.mjs";

const ms = (v) => (Number.isFinite(v) ? v.toFixed(2) : "n/a");
const num = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "n/a");
const signedMs = (v) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${v.toFixed(2)}` : "n/a");

/** Per target: mean req/s of its runs, latency percentiles over all its measured requests. */
export function summarize(runs) {
  const of = (target) => {
    const rs = runs.filter((r) => r.target === target);
    if (!rs.length) return null;
    const lat = mergeSorted(...rs.map((r) => r.latencies));
    return {
      runs: rs.length,
      rps: rs.reduce((s, r) => s + r.rps, 0) / rs.length,
      errors: rs.reduce((s, r) => s + r.errors, 0),
      p50: percentile(lat, 0.5),
      p99: percentile(lat, 0.99),
    };
  };
  const trivial = of("trivial");
  const click = of("click");
  return {
    trivial,
    click,
    ratio: trivial && click ? click.rps / trivial.rps : NaN,
    addedP50: trivial && click ? click.p50 - trivial.p50 : NaN,
    addedP99: trivial && click ? click.p99 - trivial.p99 : NaN,
  };
}

export function statusText(statuses) {
  return Object.entries(statuses).map(([s, n]) => `${s}×${n}`).join(" ") || "none";
}

/** One line per run, as printed while the bench goes. */
export function runLine(runtime, r) {
  return (
    `  ${runtime.padEnd(12)} #${r.index} ${r.target.padEnd(7)} ${num(r.rps).padStart(7)} req/s  ` +
    `p50 ${ms(r.p50).padStart(7)} ms  p99 ${ms(r.p99).padStart(7)} ms  ${String(r.ok).padStart(7)} ok  ` +
    `${r.errors} errors${r.capped ? "  (request cap reached)" : ""}  [${statusText(r.statuses)}]`
  );
}

export function summaryLines(runtime, s) {
  if (!s.trivial || !s.click) return [`  ${runtime}: incomplete`];
  return [
    `  ${runtime}:`,
    `    trivial  ${num(s.trivial.rps).padStart(7)} req/s  p50 ${ms(s.trivial.p50)} ms  p99 ${ms(s.trivial.p99)} ms`,
    `    click    ${num(s.click.rps).padStart(7)} req/s  p50 ${ms(s.click.p50)} ms  p99 ${ms(s.click.p99)} ms`,
    `    click/trivial = ${s.ratio.toFixed(3)}  (${(s.ratio * 100).toFixed(1)} % of the trivial Worker's throughput)` +
      `;  added latency p50 ${signedMs(s.addedP50)} ms, p99 ${signedMs(s.addedP99)} ms`,
  ];
}

const HEADER = `# \`npm run bench\`: edgeclick's \`/click\` next to a trivial Worker

This file is rewritten by \`bench/run.mjs\` on every run; the section below is the latest one.

**Method.** The same \`GET /click?ad_id=…&user_id=…\` request is sent to two Workers on the same
local runtime, in one process run, alternating **A B A B** (trivial, click, trivial, click):

- **trivial** — \`bench/trivial/worker.js\`, which only returns a \`302\`. It is the ceiling: the cost
  of the runtime's HTTP path and the load generator themselves.
- **click** — edgeclick's ingest Worker: validate, look the ad up (D1, cached), judge and durably count
  the click in the campaign's Durable Object, then \`302\` to the landing page.

Each run is a closed loop of *C* keep-alive connections with one request in flight each (undici
\`Pool\`, redirects not followed), a warm-up whose requests are not measured, then a measured window.
Only a \`302\` is a success. Requests carry a browser \`User-Agent\`, a \`CF-IPCountry\` and a
\`CF-Connecting-IP\` cycling through a pool of IPs (198.18.0.0/15, the benchmarking range), and a
unique \`user_id\` each, so that edgeclick judges them as ordinary clean clicks, not as bursts or
duplicates. Latency is per request (send to end of response) over all measured 302s of a target.

Two runtimes, each measured separately, never at the same time:

- **miniflare** — the Workers bundled by \`wrangler deploy --dry-run\` and run by Miniflare directly
  (\`scripts/stack.mjs\`, as \`npm start\` does: all four edgeclick Workers in one workerd); the trivial
  Worker bundled the same way in its own Miniflare instance. Requests go straight to workerd sockets.
- **wrangler dev** — \`wrangler dev\` child processes, one for the trivial Worker and one for
  edgeclick's ingest Worker alone (its Durable Objects are its own; the ad was registered in its D1
  beforehand through the stack's admin API on the same \`--persist-to\` state). wrangler dev does not
  serve the Worker directly: its port belongs to a *ProxyWorker* (wrangler's
  \`templates/startDevWorker/ProxyWorker.ts\`, in a second workerd) whose single Durable Object queues
  every request and \`fetch()\`es it on to the Worker's own Miniflare. Its figures therefore describe the
  dev tool, whose one-object proxy caps the trivial Worker's throughput, more than the runtime.

**Against the 0.6× goal.** Locally all four edgeclick Workers, their Durable Objects, the queue
broker and the emulated Rate Limiting binding share one workerd process, and its JavaScript runs on one
thread; the trivial Worker has a workerd of its own doing nothing. So every click pays here, on that one
thread, for work that is spread over separate machines when deployed: the campaign object's judging and
SQLite writes, the queue, the archive's Parquet encoding. Under \`wrangler dev\` its proxy costs both
targets alike and the ratio is closer to what the Workers themselves add.

**Reading the figures.** These machines are small and shared with other work, and the load generator
runs on the same cores as the runtime, so absolute req/s move from run to run. What counts is the
ratio click/trivial and the added latency *within one run of one runtime*.
`;

/** Writes bench/RESULTS.md: the static header, then the latest run. */
export function writeResults(path, { meta, runtimes }) {
  // bench/do.mjs keeps its own section in the same file; carry it over.
  const previous = existsSync(path) ? readFileSync(path, "utf8") : "";
  const doSection = /<!-- do-throughput:start -->[\s\S]*<!-- do-throughput:end -->/.exec(previous)?.[0];
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
  L.push(`- Software: node ${meta.node}, wrangler ${meta.wrangler}, miniflare ${meta.miniflare}, workerd ${meta.workerd}, undici ${meta.undici}`);
  L.push(
    `- Load: concurrency ${meta.concurrency}, warm-up ${meta.warmupS} s + measured ${meta.durationS} s per run, ` +
      `at most ${meta.maxRequests.toLocaleString("en-US")} requests per run, ${meta.ipPool.toLocaleString("en-US")} client IPs`,
  );
  L.push("");

  L.push("### Runs", "");
  L.push("| runtime | # | target | req/s | 302s measured | non-302 | p50 ms | p99 ms | statuses |");
  L.push("|---|---|---|---:|---:|---:|---:|---:|---|");
  for (const rt of runtimes) {
    for (const r of rt.runs) {
      L.push(`| ${rt.name} | ${r.index} | ${r.target} | ${num(r.rps)} | ${r.ok} | ${r.errors} | ${ms(r.p50)} | ${ms(r.p99)} | ${statusText(r.statuses)}${r.capped ? " (request cap)" : ""} |`);
    }
  }
  L.push("");

  L.push("### Means and ratios", "");
  L.push("| runtime | trivial req/s | click req/s | click/trivial | trivial p50 / p99 ms | click p50 / p99 ms | added p50 / p99 ms |");
  L.push("|---|---:|---:|---:|---:|---:|---:|");
  for (const rt of runtimes) {
    const s = rt.summary;
    if (!s?.trivial || !s?.click) {
      L.push(`| ${rt.name} | n/a | n/a | n/a | n/a | n/a | n/a |`);
      continue;
    }
    L.push(
      `| ${rt.name} | ${num(s.trivial.rps)} | ${num(s.click.rps)} | **${s.ratio.toFixed(3)}** | ` +
        `${ms(s.trivial.p50)} / ${ms(s.trivial.p99)} | ${ms(s.click.p50)} / ${ms(s.click.p99)} | ${signedMs(s.addedP50)} / ${signedMs(s.addedP99)} |`,
    );
  }
  L.push("");
  L.push("req/s: mean of the two runs of a target. Latency percentiles: over all measured requests of both runs.");
  L.push("");

  L.push("### Clicks acknowledged vs counted", "");
  L.push(
    "Every `302` from `/click` (warm-up, verification and tail requests included) is a click edgeclick " +
      "acknowledged, so it must be counted. `aggregated_count` counts *clicks*, i.e. clean + suspicious " +
      "events; invalid ones and duplicates are excluded, so with the realistic traffic above the two should be equal.",
  );
  L.push("");
  L.push("| runtime | ad | 302s received (all phases) | aggregated_count | counted − received |");
  L.push("|---|---|---:|---:|---:|");
  for (const rt of runtimes) {
    const c = rt.count;
    if (!c) continue;
    const diff = Number.isFinite(c.counted) ? c.counted - c.received : NaN;
    L.push(`| ${rt.name} | \`${c.adId}\` | ${c.received} | ${c.counted ?? "n/a"} | ${Number.isFinite(diff) ? diff : "n/a"}${c.note ? ` (${c.note})` : ""} |`);
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
  if (doSection) L.push("", doSection);
  writeFileSync(path, L.join("\n") + "\n");
}
