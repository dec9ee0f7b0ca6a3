/**
 * The object's durable record: an append-only log, one row per recorded batch, written in the
 * transaction that answers the caller. Everything else the object holds (rule state, cells) is derived
 * from it and checkpointed; after a crash the latest checkpoint plus the log rows after it rebuild the
 * state, with the verdicts the rows recorded (never judged again).
 *
 * A row is also the outbox: judged and counted rows go to the archive, admitted rows (the dedup step of
 * a sharded campaign) go to their counting shard. A row is deleted once its handoff is confirmed and a
 * checkpoint covers it.
 */
import type { Sql } from "../meter";
import type { ClickEvent, RecordedEvent } from "../../domain/event";
import type { Dedup } from "../../domain/rules";
import { outcomeOf } from "./rule-state";

export const LOG_SCHEMA = `CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, body TEXT NOT NULL);`;

export const LogKind = {
  /** Judged by both rule steps here (a campaign on one object): [event, outcome code][]. */
  judged: 0,
  /** Dedup step of a sharded campaign, to forward to counting shards: [event, dedup, shards][]. */
  admitted: 1,
  /** Counting step of a sharded campaign: [event, outcome code][]. */
  counted: 2,
  /** Conversions an advertiser's ledger handed on, counted in their clicks' cells: Conversion[] (archived by the ledger). */
  converted: 3,
} as const;
export type LogKind = (typeof LogKind)[keyof typeof LogKind];

/** An event's `seq` is its row's seq × this + its index in the row: unique and ordered within a shard. */
export const EVENTS_PER_ROW = 10_000;

export type JudgedEntry = [event: ClickEvent, outcome: number];
export type AdmittedEntry = [event: ClickEvent, dedup: Dedup, shards: number];

export interface LogRow {
  seq: number;
  kind: LogKind;
  body: string;
}

export class Log {
  #next: number;

  constructor(
    readonly sql: Sql,
    /** Rows up to here may have been deleted; seqs are never reused. */
    floorSeq: number,
  ) {
    const max = sql.exec<{ m: number | null }>("SELECT MAX(seq) AS m FROM log").one().m ?? 0;
    this.#next = Math.max(max, floorSeq) + 1;
  }

  /** Seq of the newest row (0 when none was ever written). */
  get last(): number {
    return this.#next - 1;
  }

  append(kind: LogKind, entries: unknown[]): number {
    if (entries.length > EVENTS_PER_ROW) throw new Error(`a log row holds at most ${EVENTS_PER_ROW} events`);
    const seq = this.#next++;
    this.sql.exec("INSERT INTO log (seq, kind, body) VALUES (?, ?, ?)", seq, kind, JSON.stringify(entries));
    return seq;
  }

  /** Rows with seq in (after, through], oldest first, optionally of some kinds only. */
  rows(after: number, through = Number.MAX_SAFE_INTEGER, kinds?: readonly LogKind[], limit = 10_000): LogRow[] {
    const kindClause = kinds ? ` AND kind IN (${kinds.join(", ")})` : "";
    return this.sql
      .exec<{ seq: number; kind: number; body: string }>(
        `SELECT seq, kind, body FROM log WHERE seq > ? AND seq <= ?${kindClause} ORDER BY seq LIMIT ?`,
        after,
        through,
        limit,
      )
      .toArray() as LogRow[];
  }

  /** Deletes archived rows up to `archivedThrough` and forwarded rows up to `forwardedThrough`. */
  deleteDone(archivedThrough: number, forwardedThrough: number): number {
    return this.sql.exec(
      `DELETE FROM log WHERE (kind != ${LogKind.admitted} AND seq <= ?) OR (kind = ${LogKind.admitted} AND seq <= ?)`,
      archivedThrough,
      forwardedThrough,
    ).rowsWritten;
  }

  /** Rows after `after` of the given kinds. */
  countAfter(after: number, kinds: readonly LogKind[]): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM log WHERE seq > ? AND kind IN (${kinds.join(", ")})`, after).one().n;
  }

  /** Receive time of the first event of the oldest row, or null when the log is empty. */
  oldestReceivedAt(): number | null {
    const row = this.sql.exec<{ body: string }>("SELECT body FROM log ORDER BY seq LIMIT 1").toArray()[0];
    if (!row) return null;
    const [first] = JSON.parse(row.body) as [ClickEvent, unknown][];
    return first?.[0]?.received_at ?? null;
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM log").one().n;
  }
}

/** The recorded events of a judged or counted row, as the archive stores them. */
export function recordedEvents(row: LogRow, shard: number): RecordedEvent[] {
  return (JSON.parse(row.body) as JudgedEntry[]).map(([e, code], i) => ({
    ...e,
    ...outcomeOf(code),
    shard,
    seq: row.seq * EVENTS_PER_ROW + i,
  }));
}
