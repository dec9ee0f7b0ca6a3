/**
 * Storage of one campaign shard, in the Durable Object's SQLite. Everything here is synchronous so a
 * whole batch of events is judged, counted and queued for the archive in one transaction.
 *
 * Tables
 *   receipt           the answer given to each receipt (uid), so a redelivered event is not counted twice
 *   seen_event        event_ids seen (dedup)
 *   seen_user_minute  (ad_id, user_id, minute) keys (dedup)
 *   ip_second/minute  per-IP event counts by UTC second and minute of event time (fraud rules)
 *   cell              counters per granularity x bucket x ad x dimensions (real-time metrics)
 *   hll               HyperLogLog registers per cell (unique users)
 *   outbox            recorded events not yet handed to the queue (the archive's source)
 *   dirty_minute      minutes whose per-ad clicks the leaderboards have not seen yet
 *   late_arrival      late events by the minute they were received (live views show them as they arrive)
 */
import type { ClickEvent, Outcome, RecordedEvent } from "../domain/event";
import { INVALID_REASONS, SUSPICIOUS_REASONS, isClick, toMicros } from "../domain/event";
import { hllPoint, sketchToBytes, type Sketch } from "../domain/hll";
import { userMinute, type CountStore, type DedupStore, type ReceiptStore } from "../domain/rules";
import type { Filter, Grouping } from "../domain/schemas";
import { GRANULARITY_MS, floorTo, type Granularity } from "../domain/time";

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS receipt (uid TEXT NOT NULL, role INTEGER NOT NULL, answer TEXT NOT NULL, exp INTEGER NOT NULL, PRIMARY KEY (uid, role)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS receipt_exp ON receipt(exp);
CREATE TABLE IF NOT EXISTS seen_event (event_id TEXT PRIMARY KEY, exp INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_event_exp ON seen_event(exp);
CREATE TABLE IF NOT EXISTS seen_user_minute (
  minute INTEGER NOT NULL, ad_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (minute, ad_id, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ip_second (second INTEGER NOT NULL, ip_hash TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (second, ip_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ip_minute (minute INTEGER NOT NULL, ip_hash TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (minute, ip_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cell (
  id INTEGER PRIMARY KEY,
  g INTEGER NOT NULL, ts INTEGER NOT NULL, late INTEGER NOT NULL,
  ad_id TEXT NOT NULL, country TEXT NOT NULL, device_type TEXT NOT NULL, os TEXT NOT NULL, publisher_id TEXT NOT NULL, ad_format TEXT NOT NULL,
  clicks INTEGER NOT NULL, cost INTEGER NOT NULL, suspicious INTEGER NOT NULL, duplicates INTEGER NOT NULL, invalid INTEGER NOT NULL,
  ${[...INVALID_REASONS, ...SUSPICIOUS_REASONS].map((r) => `r_${r} INTEGER NOT NULL`).join(", ")},
  UNIQUE (g, ts, late, ad_id, country, device_type, os, publisher_id, ad_format)
);
CREATE TABLE IF NOT EXISTS hll (cell_id INTEGER NOT NULL, idx INTEGER NOT NULL, rho INTEGER NOT NULL, PRIMARY KEY (cell_id, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT, bytes INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_msg ON outbox(msg);
CREATE TABLE IF NOT EXISTS dirty_minute (ts INTEGER PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS late_arrival (ts INTEGER PRIMARY KEY, events INTEGER NOT NULL, clicks INTEGER NOT NULL);
`;

const GRANS: readonly Granularity[] = ["minute", "hour", "day"];
const G_INDEX: Record<Granularity, number> = { minute: 0, hour: 1, day: 2 };
const REASON_COLUMNS = [...INVALID_REASONS, ...SUSPICIOUS_REASONS] as const;

/** Dedup keys and IP counters live this long past their event time: every accepted event is judged exactly. */
export interface Horizons {
  /** How long dedup keys and IP counters are kept, by event time. */
  stateMs: number;
  /** Minute cells (CONTRACT/issue: at least 48 h). */
  minuteMs: number;
  /** Hour cells (at least 90 days). Day cells are kept. */
  hourMs: number;
}

/** How long a receipt's answer is kept: far longer than any retry or queue redelivery takes. */
export const RECEIPT_MS = 2 * 86_400_000;

/** Receipts of one step: the whole judgement (`outcome`) or the dedup step of a sharded campaign (`dedup`). */
export type ReceiptRole = "outcome" | "dedup";
const ROLE: Record<ReceiptRole, number> = { outcome: 0, dedup: 1 };

/** Writes `rows` with as few statements as SQLite's 100-parameter limit allows. */
export function insertRows(sql: SqlStorage, head: string, tail: string, rows: (string | number | null)[][]): void {
  if (rows.length === 0) return;
  const width = rows[0].length;
  const per = Math.max(1, Math.floor(100 / width));
  const tuple = `(${new Array(width).fill("?").join(", ")})`;
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    sql.exec(`${head} VALUES ${chunk.map(() => tuple).join(", ")} ${tail}`, ...chunk.flat());
  }
}

/**
 * The rule state of one object. It is write-behind within a batch: reads see what earlier events of the
 * batch wrote through an in-memory overlay, and `flush()` writes it all with a few multi-row statements
 * at the end of the same transaction. Judging stays exact; a busy object writes per batch, not per event.
 * `begin()` / `flush()` / `discard()` bracket every batch.
 */
export class SqlRuleStore implements DedupStore, CountStore {
  #ids = new Map<string, number>();
  #userMinutes = new Map<string, [number, string, string]>();
  #ipSeconds = new Map<string, { key: [number, string]; n: number }>();
  #ipMinutes = new Map<string, { key: [number, string]; n: number }>();
  #receipts = new Map<string, [string, number, string, number]>();

  constructor(
    readonly sql: SqlStorage,
    readonly stateMs: number,
  ) {}

  begin(): void {
    this.discard();
  }

  discard(): void {
    this.#ids = new Map();
    this.#userMinutes = new Map();
    this.#ipSeconds = new Map();
    this.#ipMinutes = new Map();
    this.#receipts = new Map();
  }

  flush(): void {
    const sql = this.sql;
    insertRows(sql, "INSERT INTO seen_event (event_id, exp)", "ON CONFLICT DO NOTHING", [...this.#ids]);
    insertRows(sql, "INSERT INTO seen_user_minute (minute, ad_id, user_id)", "ON CONFLICT DO NOTHING", [...this.#userMinutes.values()]);
    insertRows(sql, "INSERT INTO ip_second (second, ip_hash, n)", "ON CONFLICT DO UPDATE SET n = excluded.n", [...this.#ipSeconds.values()].map((v) => [...v.key, v.n]));
    insertRows(sql, "INSERT INTO ip_minute (minute, ip_hash, n)", "ON CONFLICT DO UPDATE SET n = excluded.n", [...this.#ipMinutes.values()].map((v) => [...v.key, v.n]));
    insertRows(sql, "INSERT OR REPLACE INTO receipt (uid, role, answer, exp)", "", [...this.#receipts.values()]);
    this.discard();
  }

  eventIdSeen(eventId: string): boolean {
    return this.#ids.has(eventId) || this.sql.exec("SELECT 1 FROM seen_event WHERE event_id = ?", eventId).toArray().length > 0;
  }

  userMinuteSeen(adId: string, userId: string, minute: number): boolean {
    return (
      this.#userMinutes.has(JSON.stringify([minute, adId, userId])) ||
      this.sql.exec("SELECT 1 FROM seen_user_minute WHERE minute = ? AND ad_id = ? AND user_id = ?", minute, adId, userId).toArray().length > 0
    );
  }

  rememberKeys(e: ClickEvent): void {
    if (!this.#ids.has(e.event_id)) this.#ids.set(e.event_id, e.timestamp + this.stateMs);
    if (e.user_id) {
      const key: [number, string, string] = [userMinute(e.timestamp), e.ad_id, e.user_id];
      this.#userMinutes.set(JSON.stringify(key), key);
    }
  }

  #bump(overlay: Map<string, { key: [number, string]; n: number }>, table: "ip_second" | "ip_minute", col: string, t: number, ip: string): number {
    const k = `${t}|${ip}`;
    let v = overlay.get(k);
    if (!v) {
      const row = this.sql.exec<{ n: number }>(`SELECT n FROM ${table} WHERE ${col} = ? AND ip_hash = ?`, t, ip).toArray()[0];
      overlay.set(k, (v = { key: [t, ip], n: row?.n ?? 0 }));
    }
    return ++v.n;
  }

  countIp(ipHash: string, second: number, minute: number) {
    return {
      second: this.#bump(this.#ipSeconds, "ip_second", "second", second, ipHash),
      minute: this.#bump(this.#ipMinutes, "ip_minute", "minute", minute, ipHash),
    };
  }

  /** The rule store with the receipts of one role: what `judge`, `dedupe` and `classify` take. */
  withReceipts<T>(role: ReceiptRole): DedupStore & CountStore & ReceiptStore<T> {
    const r = this.receipts<T>(role);
    return {
      eventIdSeen: (id) => this.eventIdSeen(id),
      userMinuteSeen: (ad, user, minute) => this.userMinuteSeen(ad, user, minute),
      rememberKeys: (e) => this.rememberKeys(e),
      countIp: (ip, second, minute) => this.countIp(ip, second, minute),
      receipt: r.receipt,
      rememberReceipt: r.rememberReceipt,
    };
  }

  receipts<T>(role: ReceiptRole): ReceiptStore<T> {
    const roleId = ROLE[role];
    return {
      receipt: (uid: string): T | null => {
        const pending = this.#receipts.get(`${uid}|${roleId}`);
        if (pending) return JSON.parse(pending[2]) as T;
        const row = this.sql.exec<{ answer: string }>("SELECT answer FROM receipt WHERE uid = ? AND role = ?", uid, roleId).toArray()[0];
        return row ? (JSON.parse(row.answer) as T) : null;
      },
      rememberReceipt: (e: ClickEvent, value: T): void => {
        this.#receipts.set(`${e.uid}|${roleId}`, [e.uid, roleId, JSON.stringify(value), e.received_at + RECEIPT_MS]);
      },
    };
  }
}

const dimValues = (e: ClickEvent) => [e.ad_id, e.country, e.device_type, e.os, e.publisher_id ?? "", e.ad_format ?? ""];

const UPSERT_CELL = `INSERT INTO cell (g, ts, late, ad_id, country, device_type, os, publisher_id, ad_format,
  clicks, cost, suspicious, duplicates, invalid, ${REASON_COLUMNS.map((r) => `r_${r}`).join(", ")})
  VALUES (${new Array(14 + REASON_COLUMNS.length).fill("?").join(", ")})
  ON CONFLICT (g, ts, late, ad_id, country, device_type, os, publisher_id, ad_format) DO UPDATE SET
  clicks = clicks + excluded.clicks, cost = cost + excluded.cost, suspicious = suspicious + excluded.suspicious,
  duplicates = duplicates + excluded.duplicates, invalid = invalid + excluded.invalid,
  ${REASON_COLUMNS.map((r) => `r_${r} = r_${r} + excluded.r_${r}`).join(", ")}
  RETURNING id`;

interface CellDelta {
  args: (string | number)[];
  deltas: number[];
  users: Map<number, number>;
}

/**
 * Adds judged events to the minute, hour and day cells (late events to the late cells). Events of a
 * batch that fall in the same cell are combined first, so a busy cell costs one write per batch.
 */
export function countEvents(sql: SqlStorage, judged: readonly { e: ClickEvent; o: Outcome }[]): void {
  const cells = new Map<string, CellDelta>();
  const dirty = new Set<number>();
  const arrivals = new Map<number, [number, number, number]>();
  for (const { e, o } of judged) {
    const click = isClick(o.verdict);
    const deltas = [
      click ? 1 : 0,
      click ? toMicros(e.cost_per_click) : 0,
      o.verdict === "suspicious" ? 1 : 0,
      o.verdict === "duplicate" ? 1 : 0,
      o.verdict === "invalid" ? 1 : 0,
      ...REASON_COLUMNS.map((r) => (o.reason === r ? 1 : 0)),
    ];
    const point = click && e.user_id && !o.late ? hllPoint(e.user_id) : null;
    if (click && !o.late) dirty.add(floorTo(e.timestamp, 60_000));
    if (o.late) {
      const ts = floorTo(e.received_at, 60_000);
      const a = arrivals.get(ts) ?? [ts, 0, 0];
      a[1]++;
      if (click) a[2]++;
      arrivals.set(ts, a);
    }
    const dims = dimValues(e);
    for (const g of GRANS) {
      const args = [G_INDEX[g], floorTo(e.timestamp, GRANULARITY_MS[g]), o.late ? 1 : 0, ...dims];
      const key = JSON.stringify(args);
      let cell = cells.get(key);
      if (!cell) cells.set(key, (cell = { args, deltas: deltas.map(() => 0), users: new Map() }));
      for (let i = 0; i < deltas.length; i++) cell.deltas[i] += deltas[i];
      if (point && (cell.users.get(point.idx) ?? 0) < point.rho) cell.users.set(point.idx, point.rho);
    }
  }
  const registers: number[][] = [];
  for (const cell of cells.values()) {
    const { id } = sql.exec<{ id: number }>(UPSERT_CELL, ...cell.args, ...cell.deltas).one();
    for (const [idx, rho] of cell.users) registers.push([id, idx, rho]);
  }
  // A register only ever grows; a repeat user changes nothing and writes nothing.
  insertRows(sql, "INSERT INTO hll (cell_id, idx, rho)", "ON CONFLICT DO UPDATE SET rho = excluded.rho WHERE excluded.rho > rho", registers);
  insertRows(sql, "INSERT INTO dirty_minute (ts, v)", "ON CONFLICT DO UPDATE SET v = v + 1", [...dirty].map((ts) => [ts, 1]));
  insertRows(sql, "INSERT INTO late_arrival (ts, events, clicks)", "ON CONFLICT DO UPDATE SET events = events + excluded.events, clicks = clicks + excluded.clicks", [...arrivals.values()]);
}

/** A question to a shard's cells. Buckets are those whose start lies in [from, to). */
export interface CellQuery {
  granularity: Granularity;
  from: number;
  to: number;
  /** Only these ads (default: all of the campaign's). */
  ad_ids?: string[];
  filter?: Filter;
  group_by?: Grouping | "ad_id";
  /** Include HyperLogLog registers so buckets can be merged across shards and estimated. */
  sketches?: boolean;
}

/** Partial aggregates of one bucket (and group): mergeable across shards. */
export interface CellPartial {
  ts: number;
  group: string | null;
  clicks: number;
  cost_micros: number;
  suspicious: number;
  duplicates: number;
  invalid: number;
  reasons: Partial<Record<(typeof REASON_COLUMNS)[number], number>>;
  late_events: number;
  /** Clicks among the late events: billed, not in real time. */
  late_clicks: number;
  /** Packed HyperLogLog registers (domain/hll.ts). */
  users?: Uint8Array;
}

/** Sums cells matching the query, per bucket (and group); late events are reported apart. */
export function queryCells(sql: SqlStorage, q: CellQuery): CellPartial[] {
  const where = ["g = ?", "ts >= ?", "ts < ?"];
  const args: (string | number)[] = [G_INDEX[q.granularity], q.from, q.to];
  if (q.ad_ids) {
    if (q.ad_ids.length === 0) return [];
    where.push(`ad_id IN (${q.ad_ids.map(() => "?").join(", ")})`);
    args.push(...q.ad_ids);
  }
  if (q.filter) {
    where.push(`${q.filter.dim} = ?`);
    args.push(q.filter.value);
  }
  const group = q.group_by ?? null;
  // Column names come from the closed list in domain/schemas.ts, never from the request as such.
  const groupOf = (prefix: string) => (group ? group.split(",").map((col) => `${prefix}${col}`).join(" || ',' || ") : "''");
  const groupExpr = groupOf("");
  const out = new Map<string, CellPartial>();
  const rows = sql.exec<Record<string, number | string>>(
    `SELECT ts, late, ${groupExpr} AS grp, SUM(clicks) AS clicks, SUM(cost) AS cost, SUM(suspicious) AS suspicious,
       SUM(duplicates) AS duplicates, SUM(invalid) AS invalid, ${REASON_COLUMNS.map((r) => `SUM(r_${r}) AS r_${r}`).join(", ")}
     FROM cell WHERE ${where.join(" AND ")} GROUP BY ts, late, grp`,
    ...args,
  );
  for (const r of rows) {
    const key = `${r.ts}|${r.grp}`;
    let p = out.get(key);
    if (!p) {
      p = { ts: Number(r.ts), group: group ? String(r.grp) : null, clicks: 0, cost_micros: 0, suspicious: 0, duplicates: 0, invalid: 0, reasons: {}, late_events: 0, late_clicks: 0 };
      out.set(key, p);
    }
    if (Number(r.late) === 1) {
      p.late_events += Number(r.clicks) + Number(r.duplicates) + Number(r.invalid);
      p.late_clicks += Number(r.clicks);
      continue;
    }
    p.clicks += Number(r.clicks);
    p.cost_micros += Number(r.cost);
    p.suspicious += Number(r.suspicious);
    p.duplicates += Number(r.duplicates);
    p.invalid += Number(r.invalid);
    for (const reason of REASON_COLUMNS) {
      const n = Number(r[`r_${reason}`]);
      if (n) p.reasons[reason] = (p.reasons[reason] ?? 0) + n;
    }
  }
  if (q.sketches) {
    const sketches = new Map<string, Sketch>();
    const regs = sql.exec<{ ts: number; grp: string; idx: number; rho: number }>(
      `SELECT c.ts AS ts, ${groupOf("c.")} AS grp, h.idx AS idx, MAX(h.rho) AS rho
       FROM cell c JOIN hll h ON h.cell_id = c.id
       WHERE c.late = 0 AND ${where.map((w) => `c.${w}`).join(" AND ")} GROUP BY c.ts, grp, h.idx`,
      ...args,
    );
    for (const r of regs) {
      const key = `${r.ts}|${r.grp}`;
      let s = sketches.get(key);
      if (!s) sketches.set(key, (s = new Map()));
      s.set(r.idx, r.rho);
    }
    for (const [key, s] of sketches) {
      const p = out.get(key);
      if (p) p.users = sketchToBytes(s);
    }
  }
  return [...out.values()].sort((a, b) => a.ts - b.ts || String(a.group).localeCompare(String(b.group)));
}

/** Per-ad clicks of minutes the leaderboards have not seen since they last changed (at most `topPerMinute` ads a minute). */
export function dirtyMinuteClicks(sql: SqlStorage, topPerMinute: number, maxMinutes = 60) {
  const dirty = sql.exec<{ ts: number; v: number }>("SELECT ts, v FROM dirty_minute ORDER BY ts LIMIT ?", maxMinutes).toArray();
  const rows: { ts: number; ad_id: string; clicks: number }[] = [];
  for (const { ts } of dirty) {
    rows.push(
      ...sql.exec<{ ts: number; ad_id: string; clicks: number }>(
        "SELECT ts, ad_id, SUM(clicks) AS clicks FROM cell WHERE g = 0 AND late = 0 AND ts = ? GROUP BY ad_id ORDER BY clicks DESC, ad_id LIMIT ?",
        ts,
        topPerMinute,
      ),
    );
  }
  return { dirty, rows };
}

/** Clears dirty marks that did not change since they were read (a click meanwhile keeps its minute dirty). */
export function clearDirtyMinutes(sql: SqlStorage, seen: { ts: number; v: number }[]): void {
  for (const { ts, v } of seen) sql.exec("DELETE FROM dirty_minute WHERE ts = ? AND v = ?", ts, v);
}

/** Late events (and late clicks) received in [from, to), by receive time. */
export function lateArrivals(sql: SqlStorage, from: number, to: number): { events: number; clicks: number } {
  const r = sql.exec<{ events: number | null; clicks: number | null }>("SELECT SUM(events) AS events, SUM(clicks) AS clicks FROM late_arrival WHERE ts >= ? AND ts < ?", from, to).one();
  return { events: r.events ?? 0, clicks: r.clicks ?? 0 };
}

/** Bytes of an outbox body, as the queue will count them. */
const utf8 = new TextEncoder();

/** Queues recorded events for the archive, in order. */
export function enqueueOutbox(sql: SqlStorage, recorded: Omit<RecordedEvent, "seq">[]): void {
  insertRows(sql, "INSERT INTO outbox (bytes, body)", "", recorded.map((r) => {
    const body = JSON.stringify(r);
    return [utf8.encode(body).length, body];
  }));
}

/** A queue message of recorded events. Its id is stable, so a re-sent message archives to the same file. */
export interface ArchiveMessage {
  v: 1;
  kind: "recorded";
  id: string;
  events: RecordedEvent[];
}

/**
 * Groups unassigned outbox rows into messages of at most `maxBytes` and fixes their ids in storage,
 * before anything is sent: a crash between sending and deleting re-sends identical messages.
 */
export function assignMessages(sql: SqlStorage, idPrefix: string, maxBytes: number, limit = 5000): void {
  const rows = sql.exec<{ seq: number; bytes: number }>("SELECT seq, bytes FROM outbox WHERE msg IS NULL ORDER BY seq LIMIT ?", limit).toArray();
  let first = -1;
  let last = -1;
  let size = 0;
  const close = () => {
    if (first >= 0) sql.exec("UPDATE outbox SET msg = ? WHERE seq BETWEEN ? AND ? AND msg IS NULL", `${idPrefix}-${first}`, first, last);
  };
  for (const r of rows) {
    if (first >= 0 && size + r.bytes + 1 > maxBytes) {
      close();
      first = -1;
      size = 0;
    }
    if (first < 0) first = r.seq;
    last = r.seq;
    size += r.bytes + 1;
  }
  close();
}

/** Assigned messages, oldest first. */
export function pendingMessages(sql: SqlStorage, maxMessages: number): ArchiveMessage[] {
  const ids = sql.exec<{ msg: string }>("SELECT msg FROM outbox WHERE msg IS NOT NULL GROUP BY msg ORDER BY MIN(seq) LIMIT ?", maxMessages).toArray();
  return ids.map(({ msg }) => ({
    v: 1 as const,
    kind: "recorded" as const,
    id: msg,
    events: sql
      .exec<{ seq: number; body: string }>("SELECT seq, body FROM outbox WHERE msg = ? ORDER BY seq", msg)
      .toArray()
      .map((r) => ({ ...(JSON.parse(r.body) as Omit<RecordedEvent, "seq">), seq: r.seq })),
  }));
}

export function deleteMessages(sql: SqlStorage, ids: string[]): void {
  for (const id of ids) sql.exec("DELETE FROM outbox WHERE msg = ?", id);
}

export function outboxSize(sql: SqlStorage): number {
  return sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
}

/**
 * Deletes state past its horizon. Each call removes at most one slice per table (an hour of minute keys,
 * a day of minute cells, …) so an alarm stays short; the alarm calls again while there is more.
 * Returns the rows deleted.
 */
export function prune(sql: SqlStorage, now: number, h: Horizons): number {
  let deleted = 0;
  const minOf = (q: string, ...args: number[]) => sql.exec<{ m: number | null }>(q, ...args).one().m;
  const upTo = (oldest: number | null, cutoff: number, slice: number) => (oldest === null ? null : Math.min(cutoff, oldest + slice));

  const stateCutoff = now - h.stateMs;
  deleted += sql.exec("DELETE FROM seen_event WHERE event_id IN (SELECT event_id FROM seen_event WHERE exp < ? LIMIT 20000)", now).rowsWritten;
  deleted += sql.exec("DELETE FROM receipt WHERE (uid, role) IN (SELECT uid, role FROM receipt WHERE exp < ? LIMIT 20000)", now).rowsWritten;
  const keyed = [
    ["seen_user_minute", "minute", 60_000, 60],
    ["ip_minute", "minute", 60_000, 60],
    ["ip_second", "second", 1000, 3600],
  ] as const;
  for (const [table, col, unit, slice] of keyed) {
    const bound = upTo(minOf(`SELECT MIN(${col}) AS m FROM ${table}`), Math.floor(stateCutoff / unit), slice);
    if (bound !== null) deleted += sql.exec(`DELETE FROM ${table} WHERE ${col} < ?`, bound).rowsWritten;
  }
  for (const [g, keep, slice] of [[0, h.minuteMs, 86_400_000], [1, h.hourMs, 7 * 86_400_000]] as const) {
    const bound = upTo(minOf("SELECT MIN(ts) AS m FROM cell WHERE g = ?", g), now - keep, slice);
    if (bound === null) continue;
    deleted += sql.exec("DELETE FROM hll WHERE cell_id IN (SELECT id FROM cell WHERE g = ? AND ts < ?)", g, bound).rowsWritten;
    deleted += sql.exec("DELETE FROM cell WHERE g = ? AND ts < ?", g, bound).rowsWritten;
  }
  deleted += sql.exec("DELETE FROM late_arrival WHERE ts < ?", now - h.minuteMs).rowsWritten;
  return deleted;
}

/** Whether anything is left that will expire (the alarm keeps waking up while so). */
export function hasExpiringState(sql: SqlStorage): boolean {
  return (
    sql.exec("SELECT 1 FROM seen_event LIMIT 1").toArray().length > 0 ||
    sql.exec("SELECT 1 FROM receipt LIMIT 1").toArray().length > 0 ||
    sql.exec("SELECT 1 FROM cell WHERE g < 2 LIMIT 1").toArray().length > 0
  );
}
