// `npm run bench:rpc` (also part of `npm run bench`): the local runtime's floor for the Durable Object
// path, without any edgeclick code. A Worker calls one Durable Object method that inserts one SQLite row
// (a native RPC call whose answer waits for the write to be durable), from 1, 4 and 16 parallel loops:
//   - in one workerd (as `npm start` runs edgeclick: Worker and object in the same process), and
//   - across two workerd processes joined by Miniflare's dev registry (the Worker in one, the object in
//     the other), the way one could give the objects the machine's second core.
// It explains the same-runtime ratio in bench/RESULTS.md: a trivial 302 costs the runtime thread ~0.1 ms,
// one such call several times that. The section sits between the markers below.
//
// Settings: --calls=N (2000 per measurement), --results=PATH (bench/RESULTS.md).
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import { ROOT } from "../scripts/stack.mjs";
import { arg, writeSection } from "./lib/common.mjs";

export const START = "<!-- rpc-floor:start -->";
export const END = "<!-- rpc-floor:end -->";

const cfg = { calls: Number(arg("calls", "2000")), results: resolve(ROOT, arg("results", "bench/RESULTS.md")) };
const PARALLEL = [1, 4, 16];
const COMPAT = "2026-11-01";

const OBJECT = `import { DurableObject } from "cloudflare:workers";
export class Counter extends DurableObject {
  constructor(ctx, env) { super(ctx, env); ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v INTEGER)"); }
  add(n) { this.ctx.storage.sql.exec("INSERT INTO t (v) VALUES (?)", n); return n; }
}`;
const CALLER = `export default {
  async fetch(req, env) {
    const u = new URL(req.url);
    const n = Number(u.searchParams.get("n")), par = Number(u.searchParams.get("p"));
    const stub = env.COUNTER.get(env.COUNTER.idFromName("bench"));
    const t0 = Date.now();
    await Promise.all(Array.from({ length: par }, async () => { for (let i = 0; i < n; i++) if ((await stub.add(i)) !== i) throw new Error("wrong answer"); }));
    return Response.json({ calls: n * par, ms: Date.now() - t0 });
  },
};`;

const dir = mkdtempSync(join(tmpdir(), "edgeclick-bench-rpc-"));
const shared = (name) => ({
  host: "127.0.0.1",
  port: 0,
  cf: false,
  log: new Log(LogLevel.WARN),
  resourcePersistencePath: join(dir, name),
  enableDevRegistry: true,
  unsafeDevRegistryPath: join(dir, "registry"),
});
const worker = (name, script, durableObjects) => ({ name, modules: true, compatibilityDate: COMPAT, script, durableObjects });

async function measure(mf) {
  const out = {};
  await mf.dispatchFetch(`http://bench/?n=50&p=1`); // warm-up
  for (const p of PARALLEL) {
    const res = await mf.dispatchFetch(`http://bench/?n=${Math.ceil(cfg.calls / p)}&p=${p}`);
    if (!res.ok) throw new Error(`caller answered ${res.status}: ${await res.text()}`);
    const { calls, ms } = await res.json();
    out[p] = (calls / ms) * 1000;
  }
  return out;
}

const rows = [];
try {
  // One workerd: caller and object in one Worker.
  const one = new Miniflare(
    convertV4MiniflareOptions({
      ...shared("one"),
      workers: [worker("caller", `${OBJECT}\n${CALLER}`, { COUNTER: { className: "Counter", useSQLite: true } })],
    }),
  );
  await one.ready;
  rows.push({ setup: "one workerd (as `npm start`)", rate: await measure(one) });
  await one.dispose();

  // Two workerd processes: the object's Worker in one, the caller in the other, found through the dev registry.
  const host = new Miniflare(
    convertV4MiniflareOptions({
      ...shared("host"),
      workers: [
        worker("objects", `${OBJECT}\nexport default { fetch() { return new Response("objects"); } };`, {
          COUNTER: { className: "Counter", useSQLite: true },
        }),
      ],
    }),
  );
  await host.ready;
  const edge = new Miniflare(
    convertV4MiniflareOptions({
      ...shared("edge"),
      workers: [worker("caller", CALLER, { COUNTER: { className: "Counter", scriptName: "objects", useSQLite: true } })],
    }),
  );
  await edge.ready;
  rows.push({ setup: "two workerd (dev registry)", rate: await measure(edge) });
  await edge.dispose();
  await host.dispose();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (v) => Math.round(v).toLocaleString("en-US");
for (const r of rows)
  console.log(`bench:rpc: ${r.setup.padEnd(30)} ${PARALLEL.map((p) => `${p} parallel ${fmt(r.rate[p])} calls/s`).join(", ")}`);
const best = Math.max(...PARALLEL.map((p) => rows[0].rate[p]));
const L = [
  START,
  "## The runtime's floor: one Durable Object call with one SQLite write",
  "",
  `- Command: \`npm run bench:rpc\` (part of \`npm run bench\`); ${new Date().toISOString()}; ${availableParallelism()} CPUs; ${cfg.calls} calls per cell; no edgeclick code.`,
  "",
  `| setup | ${PARALLEL.map((p) => `${p} parallel, calls/s`).join(" | ")} |`,
  `|---|${PARALLEL.map(() => "---:").join("|")}|`,
  ...rows.map((r) => `| ${r.setup} | ${PARALLEL.map((p) => fmt(r.rate[p])).join(" | ")} |`),
  "",
  `At best ≈ ${fmt(best)} calls/s, i.e. ≈ ${(1000 / best).toFixed(2)} ms of the runtime's one thread per call; a trivial request costs it`,
  "1 / (`trivial-mf` req/s) above: locally every Durable Object round trip costs several trivial requests, which is why",
  "edgeclick batches the clicks of a campaign into one call (edge group commit). A second workerd for the objects",
  "(Miniflare's dev registry) does not buy the second core's worth: its proxy makes each call dearer.",
  END,
];
writeSection(cfg.results, START, END, L.slice(1, -1));
console.log(`bench:rpc: wrote ${cfg.results}`);
