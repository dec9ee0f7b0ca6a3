/**
 * The campaign object's working state, driven in Node at a steady rate of simulated time: the same rule
 * state, cells and checkpoint code the object runs (bench/memory.mjs bundles this file with esbuild and
 * runs it on Node's SQLite). It reports the JavaScript heap as simulated minutes pass.
 */
import { DatabaseSync } from "node:sqlite";
import { judge } from "../../domain/rules";
import type { ClickEvent } from "../../domain/event";
import { BLOBS_SCHEMA } from "../../durable-objects/campaign/blobs";
import { CellState } from "../../durable-objects/campaign/cells";
import { LiveState } from "../../durable-objects/campaign/live";
import { KEYS_SCHEMA, RuleState } from "../../durable-objects/campaign/rule-state";
import type { Rows, Sql } from "../../durable-objects/meter";

/** The `Sql` the object's modules use, over Node's SQLite. */
function nodeSql(db: DatabaseSync): Sql & { written: number } {
  const sql = {
    written: 0,
    exec<T>(query: string, ...bindings: unknown[]): Rows<T> {
      const args = bindings.map((b) => (b instanceof ArrayBuffer ? new Uint8Array(b) : b)) as never[];
      let rows: T[] = [];
      let written = 0;
      if (/^\s*(SELECT|WITH)/i.test(query)) rows = db.prepare(query).all(...args) as T[];
      else if (args.length === 0 && query.split(";").filter((s) => s.trim()).length > 1) db.exec(query);
      else written = Number(db.prepare(query).run(...args).changes);
      sql.written += written;
      return {
        toArray: () => rows,
        one: () => rows[0],
        rowsWritten: written,
        rowsRead: rows.length,
        [Symbol.iterator]: () => rows[Symbol.iterator](),
      };
    },
  };
  return sql as never;
}

export interface Sample {
  minute: number;
  heap_mb: number;
  rule_minutes: number;
  rule_entries: number;
  rule_mb: number;
  cell_partitions: number;
  cells: number;
  rows_written: number;
  split: string;
}

export function simulate(opts: { rate: number; minutes: number; lateShare: number; gc: () => void }): Sample[] {
  const db = new DatabaseSync(":memory:");
  const sql = nodeSql(db);
  sql.exec(`CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL); ${KEYS_SCHEMA} ${BLOBS_SCHEMA}`);
  const rules = new RuleState(sql);
  const cells = new CellState(sql);
  const live = new LiveState(sql);
  const store = {
    eventIdSeen: (id: string, m: number) => rules.eventIdSeen(id, m),
    userMinuteSeen: (a: string, u: string, m: number) => rules.userMinuteSeen(a, u, m),
    rememberKeys: (e: ClickEvent) => rules.rememberKeys(e),
    countIp: (ip: string, s: number, m: number) => rules.countIp(ip, s, m),
    ...rules.outcomes,
  };
  const none = { ip: false, ua: false };
  const start = Date.UTC(2026, 10, 30, 0, 0, 0);
  const samples: Sample[] = [];
  let n = 0;
  const countries = ["US", "DE", "FR", "NL", "BR", "IN", "JP", "GB", "ES", "IT"];
  const devices = ["desktop", "mobile", "tablet"];
  for (let s = 0; s < opts.minutes * 60; s++) {
    const now = start + s * 1000;
    rules.tick(now);
    cells.tick(now);
    for (let i = 0; i < opts.rate; i++) {
      n++;
      // Late events (after the first 20 minutes): dated anywhere in the simulated history older than 15
      // minutes, so they reach closed minutes stored in buckets and old cell partitions.
      const late = s >= 20 * 60 && (n * 2654435761) % 1000 < opts.lateShare * 1000;
      const timestamp = late ? start + ((n * 7919) % (s * 1000 - 15 * 60_000)) : now + (i % 1000);
      const e = {
        event_id: `e${n}`,
        uid: `r${n}`,
        timestamp,
        received_at: now + (i % 1000),
        source: "api",
        advertiser_id: "a",
        campaign_id: "c",
        ad_id: `ad${n % 5}`,
        publisher_id: `p${n % 3}`,
        user_id: `u${(n * 31) % 200_000}`,
        ip_hash: `ip${(n * 17) % 100_000}`,
        user_agent: null,
        referer: null,
        device_type: devices[n % 3],
        os: "Windows",
        browser: "Chrome",
        country: countries[n % 10],
        edge_country: "XX",
        city: null,
        asn: null,
        colo: null,
        cost_per_click: 0.1,
        ad_format: null,
        ad_group_id: null,
        variant: null,
        x: null,
        y: null,
        w: null,
        h: null,
        signature: "none",
        rate_limited: false,
        click_id: null,
      } as ClickEvent;
      // Lateness of 5 minutes (1 hour deployed), so minutes close within the simulation.
      const o = judge(e, store, none, 5 * 60_000);
      cells.add(e, o);
      live.add(e, o);
    }
    if (s % 5 === 4) {
      db.exec("BEGIN");
      rules.checkpoint();
      cells.checkpoint();
      live.checkpoint();
      if (s % 60 === 59) rules.close(Math.floor((now - 10 * 60_000) / 60_000), 30);
      db.exec("COMMIT");
      rules.evict(60_000);
      cells.evict(10 * 60_000);
    }
    if (s % 60 === 59) {
      // Twice: array buffers freed by the first collection are swept by the second.
      opts.gc();
      opts.gc();
      const r = rules.stats();
      const c = cells.stats();
      samples.push({
        minute: (s + 1) / 60,
        heap_mb: (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers) / 2 ** 20,
        split: `${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)}+${(process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(1)}`,
        rule_minutes: r.partitions,
        rule_entries: r.entries,
        rule_mb: r.bytes / 2 ** 20,
        cell_partitions: c.partitions,
        cells: c.cells,
        rows_written: sql.written,
      });
    }
  }
  return samples;
}
