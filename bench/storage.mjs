// `npm run bench:storage`: what an event costs in SQLite rows over its whole life, measured, not guessed.
// Three loads on the real local stack: (a) 500-event posted batches on one campaign, (b) /click at
// concurrency 16, (c) posted batches on a 4-shard campaign. After each, the bench waits until the
// archive has confirmed every event and the objects have checkpointed and dropped their log rows, then
// sums every statement's rowsWritten / rowsRead in every object the load touched (the campaign shards
// and the leaderboards, from GET /v1/admin/campaigns/{id}/objects), adds the rows retention will delete
// later (one write each), and divides by the events. D1's rows written by the billing rollup come last.
//
// Settings: --events=N (20000 per posted load), --clicks=N (4000), --results=PATH (bench/RESULTS.md).
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { Pool } from "undici";
import { ROOT } from "../scripts/stack.mjs";
import { arg, benchStack, writeSection } from "./lib/common.mjs";

export const START = "<!-- storage:start -->";
export const END = "<!-- storage:end -->";

const cfg = {
  events: Number(arg("events", "20000")),
  clicks: Number(arg("clicks", "4000")),
  batch: 500,
  results: resolve(ROOT, arg("results", "bench/RESULTS.md")),
};

const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const ip = (n) => `198.18.${(n >> 8) % 200}.${n & 255}`;

const { stack, admin, adminPost: post, close } = await benchStack("storage");
const objects = async (campaignId) =>
  (await fetch(`${stack.queryUrl}/v1/admin/campaigns/${campaignId}/objects`, { headers: admin })).json();
/** Rows written and read so far by the local location's edge buffers, and rows they still hold. */
const buffers = async () => {
  const { buffers: list } = await (await fetch(`${stack.queryUrl}/v1/admin/buffers?colo=local`, { headers: admin })).json();
  let w = 0,
    r = 0,
    waiting = 0;
  for (const b of list) {
    waiting += b.waiting_rows;
    for (const st of Object.values(b.statements)) {
      w += st.rows_written;
      r += st.rows_read;
    }
  }
  return { w, r, waiting };
};

/** Rows written and read, summed over a campaign's shards and its leaderboards. */
function totals(view) {
  const sum = (statements) =>
    Object.values(statements).reduce((t, s) => ({ w: t.w + s.rows_written, r: t.r + s.rows_read }), { w: 0, r: 0 });
  const perStatement = {};
  let expire = 0;
  let bytes = 0;
  for (const s of view.shards) {
    for (const [k, v] of Object.entries(s.storage.statements)) perStatement[k] = (perStatement[k] ?? 0) + v.rows_written;
    expire += s.storage.rows_to_expire;
    bytes += s.storage.database_bytes;
  }
  const objectRows = view.shards.map((s) => sum(s.storage.statements)).reduce((a, b) => ({ w: a.w + b.w, r: a.r + b.r }), { w: 0, r: 0 });
  const boards = [view.leaderboards.global, view.leaderboards.advertiser].map((b) => ({
    ...sum(b.statements),
    stored: b.rows.minute_clicks,
  }));
  return { objectRows, expire, bytes, perStatement, boards };
}

async function settle(campaignId) {
  for (let i = 0; i < 240; i++) {
    const view = await objects(campaignId);
    const settled = view.shards.every((s) => s.backlog.log_rows === 0 && s.backlog.open_messages === 0 && s.backlog.unforwarded_rows === 0);
    if (settled && (await buffers()).waiting === 0) return view;
    await sleep(500);
  }
  throw new Error(`campaign ${campaignId} never settled`);
}

async function postLoad(origin, key, adId, n) {
  const pool = new Pool(origin, { connections: 2 });
  let accepted = 0;
  const poster = async () => {
    while (accepted < n) {
      const now = Date.now();
      const events = Array.from({ length: cfg.batch }, () => {
        const k = seq++;
        return {
          event_id: `s${k}`,
          timestamp: now,
          ad_id: adId,
          user_id: `u${k}`,
          ip_address: ip(k),
          user_agent: UA,
          country: "US",
          device_type: "desktop",
        };
      });
      accepted += cfg.batch;
      const res = await pool.request({
        path: "/v1/events",
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(events),
      });
      const out = await res.body.json();
      if (res.statusCode !== 202 || out.rejected.length)
        throw new Error(`post failed: ${res.statusCode} ${JSON.stringify(out).slice(0, 200)}`);
      // Stay under the per-publisher request limit (600 a minute).
      await sleep(150);
    }
  };
  await Promise.all([poster(), poster()]);
  await pool.close();
  return accepted;
}

async function clickLoad(origin, adId, n) {
  const pool = new Pool(origin, { connections: 16 });
  let sent = 0;
  const clicker = async () => {
    while (sent < n) {
      const k = seq++;
      sent++;
      const res = await pool.request({
        path: `/click?ad_id=${adId}&user_id=c${k}`,
        method: "GET",
        headers: { "user-agent": UA, "cf-connecting-ip": ip(k), "cf-ipcountry": "US" },
      });
      await res.body.dump();
      if (res.statusCode !== 302) throw new Error(`click answered ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, clicker));
  await pool.close();
  return sent;
}

try {
  const adv = await post("advertisers", { name: "Bench storage" });
  const pub = await post("publishers", { name: "Bench network" });
  const loads = [
    { name: "(a) 500-event posted batches, one campaign", shards: 1, run: (ad) => postLoad(stack.ingestUrl, pub.api_key, ad, cfg.events) },
    { name: "(b) /click at concurrency 16", shards: 1, run: (ad) => clickLoad(stack.ingestUrl, ad, cfg.clicks) },
    {
      name: "(c) 500-event posted batches, 4-shard campaign",
      shards: 4,
      run: (ad) => postLoad(stack.ingestUrl, pub.api_key, ad, cfg.events),
    },
  ];
  let boardsBefore = null;
  const results = [];
  for (const l of loads) {
    const { campaign_id } = await post("campaigns", {
      advertiser_id: adv.advertiser_id,
      name: l.name,
      cost_per_click: 0.1,
      shards: l.shards,
    });
    const { ad_id } = await post("ads", { campaign_id, landing_url: "https://example.com/" });
    const before = boardsBefore ?? totals(await objects(campaign_id)).boards;
    const buffersBefore = await buffers();
    const t0 = Date.now();
    const events = await l.run(ad_id);
    const loadS = (Date.now() - t0) / 1000;
    const t = totals(await settle(campaign_id));
    boardsBefore = t.boards;
    const boardWrites = t.boards.reduce((n, b, i) => n + b.w - before[i].w, 0);
    const boardExpire = t.boards.reduce((n, b, i) => n + b.stored - before[i].stored, 0);
    const buffersAfter = await buffers();
    const bufferWrites = buffersAfter.w - buffersBefore.w;
    const written = t.objectRows.w + t.expire + boardWrites + boardExpire + bufferWrites;
    const r = {
      ...l,
      events,
      loadS,
      written,
      read: t.objectRows.r + buffersAfter.r - buffersBefore.r,
      bytes: t.bytes,
      perStatement: t.perStatement,
      expire: t.expire,
      boardWrites: boardWrites + boardExpire,
      bufferWrites,
    };
    results.push(r);
    console.log(
      `${l.name}: ${events} events in ${loadS.toFixed(1)} s; rows written ${written} (${(written / events).toFixed(3)}/event), read ${t.objectRows.r} (${(t.objectRows.r / events).toFixed(3)}/event), ${(t.bytes / events).toFixed(1)} bytes stored/event`,
    );
    console.log(
      `   per statement: ${JSON.stringify(t.perStatement)}; retention later: ${t.expire}; leaderboards: ${boardWrites + boardExpire}; edge buffers: ${bufferWrites}`,
    );
  }
  const rollup = await post("rollup", {});
  const d1 = rollup.dates.reduce((n, d) => n + d.rows_written, 0);
  const allEvents = results.reduce((n, r) => n + r.events, 0);
  console.log(`D1: the rollup wrote ${d1} rows for ${allEvents} events (${(d1 / allEvents).toFixed(4)}/event)`);

  const L = [
    START,
    "## Storage: SQLite rows per event over its whole life",
    "",
    `- Command: \`npm run bench:storage\`; ${new Date().toISOString()}; ${availableParallelism()} CPUs; Miniflare stack, state on disk.`,
    "- Rows are summed from every statement's `rowsWritten` / `rowsRead` (durable-objects/meter.ts) in every object the load touched",
    "  (edge buffers, campaign shards, leaderboards), after the archive confirmed every event and the log rows were checkpointed and deleted;",
    "  the rows retention will delete later (rule-state minutes, minute/hour cell partitions, leaderboard minutes) are added, one write each.",
    "  Not included: the alarm itself (Durable Objects' KV-API alarm, not visible to a cursor).",
    "",
    "| load | events | rows written / event | rows read / event | bytes stored / event | written by statement (incl. later deletes) |",
    "|---|---:|---:|---:|---:|---|",
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.events.toLocaleString("en-US")} | **${(r.written / r.events).toFixed(3)}** | ${(r.read / r.events).toFixed(3)} | ${(r.bytes / r.events).toFixed(0)} | ${Object.entries(
          r.perStatement,
        )
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}; retention ${r.expire}; leaderboards ${r.boardWrites}; edge buffers ${r.bufferWrites} |`,
    ),
    "",
    `D1: the billing rollup of the day wrote ${d1} rows for these ${allEvents.toLocaleString("en-US")} events (${(d1 / allEvents).toFixed(4)} per event; rows per campaign × country × device, not per event).`,
    'Before the log redesign the same measure was ~20 rows written per event (issue: "an append-only log and state in memory").',
    END,
  ];
  writeSection(cfg.results, START, END, L.slice(1, -1));
  console.log(`bench:storage: wrote ${cfg.results}`);
} finally {
  await close();
}
