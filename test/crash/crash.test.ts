/**
 * Exactly once under crashes. The real stack runs as its own process group (`node scripts/start.mjs`,
 * own ports and state); /click and POST /v1/events load goes at an unsharded and a 4-shard campaign;
 * the runtime is SIGKILLed mid-load several times (the process group, or the Node process alone) and
 * restarted on the same state; every batch
 * not acknowledged is sent again. Then the ledger of what was acknowledged is compared with real-time
 * counts, the Parquet archive (DuckDB) and billing after a rollup: nothing acknowledged lost, nothing
 * counted twice. A click whose request died in flight may count or not, but never twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { buildWorkers } from "../../scripts/stack.mjs";
import { ADMIN_TOKEN, BROWSER, api, archiveBucket, freePort, removeDir, startTestStack, waitFor, type TestStack } from "../e2e/harness";

const ROOT = resolve(import.meta.dirname, "../..");
const KILLS = Number(process.env.CRASH_KILLS ?? 5);
const BATCH = 100;

const state = mkdtempSync(join(tmpdir(), "edgeclick-crash-state-"));
const build = mkdtempSync(join(tmpdir(), "edgeclick-crash-build-"));
let ports: { ingest: number; query: number };
let child: ChildProcess | null = null;
let verify: TestStack | null = null;

/**
 * Starts `npm start`'s script in its own process group; resolves when it says it is running. A port
 * taken meanwhile by another process (the start script says so and exits) means: other ports, again.
 */
async function startRuntime(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRuntimeOnce();
    } catch (err) {
      if (attempt >= 4 || !/already in use/.test(String(err))) throw err;
      ports = { ingest: await freePort(), query: await freePort() };
    }
  }
}

async function startRuntimeOnce(): Promise<void> {
  const proc = spawn(process.execPath, [join(ROOT, "scripts/start.mjs")], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      INGEST_PORT: String(ports.ingest),
      QUERY_PORT: String(ports.query),
      EDGECLICK_STATE: state,
      EDGECLICK_BUILD_DIR: build,
      EDGECLICK_SKIP_BUILD: "1",
      EDGECLICK_CRONS: "0",
    },
  });
  child = proc;
  let out = "";
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`runtime did not start:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes("edgeclick is running")) {
        clearTimeout(timer);
        ok();
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    proc.once("exit", (code) => fail(new Error(`runtime exited (${code}) before it was ready:\n${out}`)));
  });
}

/**
 * SIGKILL, nothing flushed: to the whole process group (Node and workerd at once), or to the Node process
 * alone (workerd must then die with it, not linger holding the ports and the state).
 */
async function killRuntime(nodeOnly = false): Promise<void> {
  const proc = child;
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  process.kill(nodeOnly ? proc.pid! : -proc.pid!, "SIGKILL");
  await exited;
  child = null;
  // The runtime is gone when its port no longer answers.
  await waitFor(
    "the runtime to be gone",
    async () => {
      try {
        await fetch(`${ingest()}/healthz`);
        return false;
      } catch {
        return true;
      }
    },
    15_000,
  );
}

const ingest = () => `http://127.0.0.1:${ports.ingest}`;
const query = () => `http://127.0.0.1:${ports.query}`;

interface Posted {
  campaign: string;
  events: {
    event_id: string;
    timestamp: number;
    ad_id: string;
    user_id: string;
    ip_address: string;
    user_agent: string;
    country: string;
  }[];
}

const ledger = {
  /** Click user ids answered 302, and those whose request died (may count, at most once). */
  clicksAcked: new Map<string, string>(),
  clicksInFlight: new Map<string, string>(),
  /** Posted batches acknowledged (202, all accepted), and those still to be sent. */
  postedAcked: [] as Posted[],
  postedPending: [] as Posted[],
};

let seq = 0;
const uniqueIp = () => {
  const n = ++seq;
  return `2001:db8::${(n >> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
};

const campaigns: { id: string; ad_id: string; click_url: string }[] = [];
/** One publisher per posting loop, each well under the per-publisher request limit. */
const publisherKeys: string[] = [];

async function admin<T>(path: string, body: unknown): Promise<T> {
  const r = await api<T>(`${query()}/v1/admin/${path}`, { method: "POST", token: ADMIN_TOKEN, body: JSON.stringify(body) });
  if (r.status !== 201) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function sendPosted(p: Posted, key: string): Promise<boolean> {
  try {
    const r = await api<{ accepted: number; rejected: unknown[] }>(`${ingest()}/v1/events`, {
      method: "POST",
      token: key,
      body: JSON.stringify(p.events),
    });
    return r.status === 202 && r.body.accepted === p.events.length && r.body.rejected.length === 0;
  } catch {
    return false;
  }
}

/** Load until `stop()` says so: 8 clicking loops and 2 posting loops over both campaigns. */
async function load(stop: () => boolean): Promise<void> {
  const clicker = async () => {
    while (!stop()) {
      const c = campaigns[seq % campaigns.length];
      const user = `c${++seq}`;
      ledger.clicksInFlight.set(user, c.id);
      try {
        const res = await fetch(`${ingest()}/click?ad_id=${c.ad_id}&user_id=${user}`, {
          redirect: "manual",
          headers: { "User-Agent": BROWSER, "CF-Connecting-IP": uniqueIp(), "CF-IPCountry": "NL" },
        });
        if (res.status === 302) {
          ledger.clicksInFlight.delete(user);
          ledger.clicksAcked.set(user, c.id);
        }
      } catch {
        // The runtime died with the request: in flight, may or may not count.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const poster = async (key: string) => {
    while (!stop()) {
      const c = campaigns[++seq % campaigns.length];
      const now = Date.now();
      const p: Posted = {
        campaign: c.id,
        events: Array.from({ length: BATCH }, () => {
          const n = ++seq;
          return {
            event_id: `p${n}`,
            timestamp: now,
            ad_id: c.ad_id,
            user_id: `p${n}`,
            ip_address: uniqueIp(),
            user_agent: BROWSER,
            country: "NL",
          };
        }),
      };
      if (await sendPosted(p, key)) ledger.postedAcked.push(p);
      else ledger.postedPending.push(p);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await Promise.all([...Array.from({ length: 8 }, clicker), ...publisherKeys.map(poster)]);
}

/** Sends every batch not acknowledged yet, the same events again, until each is. */
async function resendPending(): Promise<void> {
  const pending = ledger.postedPending.splice(0);
  for (const p of pending) {
    await waitFor("a resent batch acknowledged", () => sendPosted(p, publisherKeys[0]), 60_000);
    ledger.postedAcked.push(p);
  }
}

beforeAll(async () => {
  ports = { ingest: await freePort(), query: await freePort() };
  await buildWorkers(build);
  await startRuntime();
  const adv = await admin<{ advertiser_id: string }>("advertisers", { name: "Crash" });
  for (const name of ["Crash network", "Crash exchange"])
    publisherKeys.push((await admin<{ api_key: string }>("publishers", { name })).api_key);
  for (const shards of [1, 4]) {
    const c = await admin<{ campaign_id: string }>("campaigns", {
      advertiser_id: adv.advertiser_id,
      name: `crash ${shards}`,
      cost_per_click: 0.1,
      shards,
    });
    const ad = await admin<{ ad_id: string; click_url: string }>("ads", {
      campaign_id: c.campaign_id,
      landing_url: "https://crash.example/",
    });
    campaigns.push({ id: c.campaign_id, ad_id: ad.ad_id, click_url: ad.click_url });
  }
}, 240_000);

afterAll(async () => {
  await killRuntime();
  await verify?.close();
  removeDir(state);
  removeDir(build);
});

describe("exactly once under crashes", () => {
  it(`loses nothing acknowledged and counts nothing twice across ${KILLS} SIGKILLs of the runtime`, async () => {
    for (let k = 0; k < KILLS; k++) {
      let stopped = false;
      const running = load(() => stopped);
      // Kill at a different moment of the load each time.
      await new Promise((r) => setTimeout(r, 1500 + ((k * 737) % 1500)));
      await killRuntime(k % 2 === 1);
      stopped = true;
      await running;
      await startRuntime();
      await resendPending();
    }
    // One more round of load without a kill, then a clean stop.
    let stopped = false;
    const running = load(() => stopped);
    await new Promise((r) => setTimeout(r, 1500));
    stopped = true;
    await running;
    await resendPending();
    const exited = new Promise((r) => child!.once("exit", r));
    process.kill(-child!.pid!, "SIGTERM");
    await exited;
    child = null;

    // Verify on the same state with the stack in this process (its R2 and D1 can be read from Node).
    verify = await startTestStack({ persistTo: state, buildDir: build, build: false });
    const bucket = await archiveBucket(verify);
    const acked = new Map<string, string>([...ledger.clicksAcked]);
    for (const p of ledger.postedAcked) for (const e of p.events) acked.set(e.user_id, p.campaign);
    expect(ledger.clicksAcked.size).toBeGreaterThan(100);
    expect(ledger.postedAcked.length).toBeGreaterThan(10);

    // Real time: every campaign's clicks, once every handoff has settled.
    const realtime = async (campaign: string) => {
      const day = 86_400_000;
      const start = new Date(Math.floor(Date.now() / day) * day - day).toISOString();
      const end = new Date(Math.floor(Date.now() / day) * day + day).toISOString();
      const r = await api<{ metrics: { clicks: number }[] }>(
        `${verify!.queryUrl}/v1/metrics?campaign_id=${campaign}&start=${start}&end=${end}&granularity=day`,
        { token: ADMIN_TOKEN },
      );
      return r.body.metrics.reduce((n, m) => n + m.clicks, 0);
    };

    // The archive: every Parquet file, read with DuckDB.
    const copy = join(state, "archive-copy");
    const archived = async () => {
      removeDir(copy);
      const { objects } = await bucket.list({ prefix: "raw/" });
      for (const o of objects) {
        const path = join(copy, o.key);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, Buffer.from(await (await bucket.get(o.key))!.arrayBuffer()));
      }
      if (objects.length === 0) return [];
      const duck = await DuckDBInstance.create(":memory:");
      const conn = await duck.connect();
      const rows = (
        await conn.runAndReadAll(
          `SELECT campaign_id, user_id, count(*) AS n FROM (SELECT DISTINCT ON (uid) * FROM read_parquet('${copy}/raw/**/*.parquet', hive_partitioning = false))
         WHERE verdict IN ('clean', 'suspicious') GROUP BY campaign_id, user_id`,
        )
      ).getRowObjectsJS() as { campaign_id: string; user_id: string; n: bigint }[];
      conn.closeSync();
      duck.closeSync();
      return rows;
    };

    let report = "";
    const settled = await waitFor(
      "real time and archive to hold every acknowledged click",
      async () => {
        const rows = await archived();
        const inArchive = new Map(rows.map((r) => [r.user_id, r]));
        const missing = [...acked.keys()].filter((id) => !inArchive.has(id));
        const counts = [];
        for (const c of campaigns)
          counts.push({
            campaign: c.id,
            realtime: await realtime(c.id),
            archived: rows.filter((r) => r.campaign_id === c.id).reduce((n, r) => n + Number(r.n), 0),
          });
        report = JSON.stringify({ missing: missing.length, sample: missing.slice(0, 5), counts });
        await new Promise((r) => setTimeout(r, 1000));
        return missing.length === 0 && counts.every((c) => c.realtime === c.archived) ? rows : false;
      },
      120_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${report}`);
    });

    const rows = settled.value;
    // Nothing counted twice: every user id (one per click or posted event) is archived as a click once.
    expect(rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
    // Nothing acknowledged lost, nothing there that was never sent.
    const inFlight = new Map<string, string>([...ledger.clicksInFlight]);
    for (const p of ledger.postedPending) for (const e of p.events) inFlight.set(e.user_id, p.campaign);
    for (const [id, campaign] of acked) expect(rows.find((r) => r.user_id === id)?.campaign_id, id).toBe(campaign);
    const unknown = rows.filter((r) => !acked.has(r.user_id) && inFlight.get(r.user_id) !== r.campaign_id);
    expect(unknown).toEqual([]);

    // Billing after a rollup agrees with the archive, click for click.
    const rollup = await api(`${verify.queryUrl}/v1/admin/rollup`, { method: "POST", token: ADMIN_TOKEN, body: "{}" });
    expect(rollup.status).toBe(200);
    for (const c of campaigns) {
      const today = new Date().toISOString().slice(0, 10);
      const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
      const bill = await api<{ rows: { clicks: number }[] }>(
        `${verify.queryUrl}/v1/billing?campaign_id=${c.id}&from=${yesterday}&to=${tomorrow}`,
        { token: ADMIN_TOKEN },
      );
      expect(
        bill.body.rows.reduce((n, r) => n + r.clicks, 0),
        `billing of ${c.id} on ${today}`,
      ).toBe(rows.filter((r) => r.campaign_id === c.id).length);
    }
    console.log(
      JSON.stringify({
        kills: KILLS,
        clicks_acknowledged: ledger.clicksAcked.size,
        clicks_in_flight: ledger.clicksInFlight.size,
        posted_events_acknowledged: ledger.postedAcked.length * BATCH,
        counted: rows.length,
      }),
    );
  }, 600_000);
});
