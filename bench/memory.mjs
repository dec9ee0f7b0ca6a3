// `npm run bench:memory`: how much memory a campaign object's working state takes at a sustained rate.
// The object's own modules (rule state, cells, live state, checkpoints) run in Node on Node's SQLite,
// driven through simulated time: 1,000 events/s by default; after 20 minutes 2 % of them are late,
// dated anywhere in the simulated history older than 15 minutes, so they probe closed minutes (stored as
// hash buckets) and old cell partitions. Prints and records memory per simulated minute.
//
// Settings: --rate=N (1000), --minutes=N (40), --late=F (0.02), --results=PATH (bench/RESULTS.md).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { ROOT } from "../scripts/stack.mjs";
import { arg, writeSection } from "./lib/common.mjs";

export const START = "<!-- memory:start -->";
export const END = "<!-- memory:end -->";
const cfg = {
  rate: Number(arg("rate", "1000")),
  minutes: Number(arg("minutes", "40")),
  late: Number(arg("late", "0.02")),
  results: resolve(ROOT, arg("results", "bench/RESULTS.md")),
};
if (typeof globalThis.gc !== "function") throw new Error("run with --expose-gc (npm run bench:memory does)");

const dir = mkdtempSync(join(tmpdir(), "edgeclick-bench-memory-"));
try {
  const out = join(dir, "sim.mjs");
  await build({
    entryPoints: [join(ROOT, "bench/memory/sim.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: out,
    logLevel: "warning",
  });
  const { simulate } = await import(pathToFileURL(out).href);
  globalThis.gc();
  const base = (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers) / 2 ** 20;
  const t0 = Date.now();
  const samples = simulate({ rate: cfg.rate, minutes: cfg.minutes, lateShare: cfg.late, gc: globalThis.gc });
  const f = (x, d = 1) => x.toFixed(d);
  for (const s of samples)
    console.log(
      `minute ${s.minute}: memory ${f(s.heap_mb - base)} MB; rule minutes ${s.rule_minutes} (${s.rule_entries} entries, ${f(s.rule_mb)} MB arrays); cell partitions ${s.cell_partitions} (${s.cells} cells); rows written ${s.rows_written}; heap+buffers ${s.split}`,
    );
  const peak = Math.max(...samples.map((s) => s.heap_mb - base));
  const last = samples.at(-1);
  const events = cfg.rate * cfg.minutes * 60;
  const L = [
    START,
    "## Memory: a campaign object's working state at a sustained rate",
    "",
    `- Command: \`npm run bench:memory\`; ${new Date().toISOString()}; ${cfg.minutes} simulated minutes at ${cfg.rate.toLocaleString("en-US")} events/s (${events.toLocaleString("en-US")} events), from minute 20 on ${cfg.late * 100} % late (dated anywhere in the simulated history older than 15 minutes; lateness 5 minutes, minutes closed into buckets 10 minutes after), ${Math.round((Date.now() - t0) / 1000)} s of wall time.`,
    "- The object's own modules (rule state, cells, live state, checkpoints every 5 s, eviction of idle minutes/partitions) on Node's SQLite; memory = V8 heap + ArrayBuffers (the typed arrays of the rule state live there), measured after a full GC, above the baseline.",
    "",
    "| simulated minute | memory MB | rule minutes in memory | rule entries | rule arrays MB | cell partitions | cells |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    ...samples
      .filter((_s, i) => i < 3 || i % 3 === 2 || i === samples.length - 1)
      .map(
        (s) =>
          `| ${s.minute} | ${f(s.heap_mb - base)} | ${s.rule_minutes} | ${s.rule_entries.toLocaleString("en-US")} | ${f(s.rule_mb)} | ${s.cell_partitions} | ${s.cells.toLocaleString("en-US")} |`,
      ),
    "",
    `Peak **${f(peak)} MB** (the isolate limit is 128 MB). Only rule minutes touched in the last minute and cell partitions used in the last`,
    "10 minutes stay in memory; everything older lives in the `keys` and `blob` rows and is loaded for a late event or a query that needs it.",
    `SQLite rows written by the checkpoints: ${last.rows_written.toLocaleString("en-US")} (${(last.rows_written / events).toFixed(4)} per event).`,
    END,
  ];
  writeSection(cfg.results, START, END, L.slice(1, -1));
  console.log(`bench:memory: peak ${f(peak)} MB; wrote ${cfg.results}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
