/**
 * Live objects survive the deploy. Schema 1 (before the log) kept every rule key, counter and HLL
 * register in its own row; schema 2 keeps a log and checkpoints. An object that still has schema-1
 * tables converts them once, in one transaction, the first time the new code starts it: cells and
 * registers become cell partitions, dedup keys, IP counters and receipts become rule-state minutes,
 * events still in the outbox become log rows (already counted, so covered by the checkpoint and only
 * waiting for the archive), and the old tables are dropped.
 *
 * Schema-1 receipts did not store their event time; they are filed under their receive minute, which is
 * the event minute of every /click and of most posted events. A replay of an older posted receipt whose
 * event time fell in another minute is judged a duplicate of itself: counted in `duplicates`, never as a
 * second click.
 */
import type { Sql } from "../meter";
import { CELL_DIMENSIONS } from "../../domain/cells";
import { CELL_REASONS } from "../../domain/counters";
import type { RecordedEvent } from "../../domain/event";
import type { Sketch } from "../../domain/hll";
import { DAY, GRANULARITIES, MINUTE } from "../../domain/time";
import { CELL_COUNTERS, type CellState } from "./cells";
import type { LiveState } from "./live";
import { LogKind, type JudgedEntry, type Log } from "./log";
import { outcomeCode, type RuleState } from "./rule-state";

export const SCHEMA_VERSION = 2;
/** Schema 1 kept receipts this long after their receive time. */
const V1_RECEIPT_MS = 2 * DAY;

/** Schema 1's column of each cell counter: `cost` held the micros, `r_<reason>` a reason's count. */
const v1Column = (k: (typeof CELL_COUNTERS)[number]) =>
  k === "cost_micros" ? "cost" : (CELL_REASONS as readonly string[]).includes(k) ? `r_${k}` : k;

const V1_TABLES = [
  "receipt",
  "seen_event",
  "seen_user_minute",
  "ip_second",
  "ip_minute",
  "hll",
  "cell",
  "outbox",
  "dirty_minute",
  "late_arrival",
];

export function hasV1Tables(sql: Sql): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cell'").toArray().length > 0;
}

/** Moves schema-1 state into the new structures (the caller checkpoints it in the same transaction). */
export function migrateV1(
  sql: Sql,
  s: { rules: RuleState; cells: CellState; live: LiveState; log: Log; stateMs: number },
): { events: number } {
  const all = <T extends Record<string, SqlStorageValue>>(q: string) => sql.exec<T>(q).toArray();
  for (const r of all<{ event_id: string; exp: number }>("SELECT event_id, exp FROM seen_event")) {
    s.rules.put(Math.floor((r.exp - s.stateMs) / MINUTE), `e|${r.event_id}`, 1);
  }
  for (const r of all<{ minute: number; ad_id: string; user_id: string }>("SELECT minute, ad_id, user_id FROM seen_user_minute")) {
    s.rules.put(r.minute, `u|${r.ad_id}|${r.user_id}`, 1);
  }
  for (const r of all<{ second: number; ip_hash: string; n: number }>("SELECT second, ip_hash, n FROM ip_second")) {
    s.rules.put(Math.floor(r.second / 60), `s|${r.ip_hash}|${r.second}`, r.n);
  }
  for (const r of all<{ minute: number; ip_hash: string; n: number }>("SELECT minute, ip_hash, n FROM ip_minute")) {
    s.rules.put(r.minute, `m|${r.ip_hash}`, r.n);
  }
  for (const r of all<{ uid: string; role: number; answer: string; exp: number }>("SELECT uid, role, answer, exp FROM receipt")) {
    const minute = Math.floor((r.exp - V1_RECEIPT_MS) / MINUTE);
    const answer = JSON.parse(r.answer) as { verdict: string; reason: string | null; late: boolean } & { duplicate?: string | null };
    if (r.role === 0) s.rules.put(minute, `r|${r.uid}`, outcomeCode(answer as never));
    else s.rules.put(minute, `a|${r.uid}`, answer.duplicate === null ? 1 : answer.duplicate === "event_id" ? 2 : 3);
  }

  const regs = new Map<number, Sketch>();
  for (const r of all<{ cell_id: number; idx: number; rho: number }>("SELECT cell_id, idx, rho FROM hll")) {
    let sk = regs.get(r.cell_id);
    if (!sk) regs.set(r.cell_id, (sk = new Map()));
    sk.set(r.idx, r.rho);
  }
  for (const c of all<Record<string, string | number>>("SELECT * FROM cell")) {
    const n = CELL_COUNTERS.map((k) => Number(c[v1Column(k)] ?? 0));
    // Dimensions schema 1 did not have (variant, ad group) are empty.
    const dims = CELL_DIMENSIONS.map((d) => String(c[d] ?? ""));
    s.cells.merge(GRANULARITIES[Number(c.g)], Number(c.ts), Number(c.late) === 1, dims, n, regs.get(Number(c.id)) ?? null);
  }

  const late = all<{ ts: number; events: number; clicks: number }>("SELECT ts, events, clicks FROM late_arrival");
  s.live.restore(
    late.map((r) => [r.ts, r.events, r.clicks]),
    all<{ ts: number }>("SELECT ts FROM dirty_minute").map((r) => r.ts),
  );

  // Outbox events were counted when recorded; as log rows they only wait for the archive.
  let entries: JudgedEntry[] = [];
  let events = 0;
  const flush = () => {
    if (entries.length) s.log.append(LogKind.judged, entries);
    events += entries.length;
    entries = [];
  };
  for (const r of all<{ body: string }>("SELECT body FROM outbox ORDER BY seq")) {
    const { verdict, reason, late: isLate, shard: _shard, seq: _seq, ...event } = JSON.parse(r.body) as RecordedEvent;
    entries.push([event, outcomeCode({ verdict, reason, late: isLate })]);
    if (entries.length === 1000) flush();
  }
  flush();

  for (const t of V1_TABLES) sql.exec(`DROP TABLE IF EXISTS ${t}`);
  return { events };
}
