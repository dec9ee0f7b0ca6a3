/**
 * The counting rules' state, in memory, partitioned by the UTC minute of event time: dedup keys
 * (event_id; ad + user), receipts (the answer given to each `uid`) and per-IP second/minute counters.
 * Every rule question is about one event minute, so a partition is all an event needs; the current
 * minutes stay in memory and an old minute (a late event, a replayed receipt) is loaded when asked.
 *
 * Checkpoints write what changed in a partition since the last one as one row (`keys`), so a busy
 * minute costs a few rows however many events it holds; expiry drops whole minutes.
 */
import type { Sql } from "../meter";
import type { ClickEvent, DuplicateReason, Outcome, Reason, Verdict } from "../../domain/event";
import { DUPLICATE_REASONS, INVALID_REASONS, SUSPICIOUS_REASONS } from "../../domain/event";
import type { CountStore, Dedup, DedupStore, ReceiptStore } from "../../domain/rules";
import { userMinute } from "../../domain/rules";
import { KeyTable, keyOf, type Key } from "./keys";

export const KEYS_SCHEMA = `CREATE TABLE IF NOT EXISTS keys (
  part INTEGER NOT NULL, chunk INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (part, chunk)) WITHOUT ROWID;`;

/** Every (verdict, reason) an event can get; an outcome is stored as its index (with the late bit). */
const OUTCOMES: readonly [Verdict, Reason | null][] = [
  ["clean", null],
  ...SUSPICIOUS_REASONS.map((r) => ["suspicious", r] as [Verdict, Reason]),
  ...INVALID_REASONS.map((r) => ["invalid", r] as [Verdict, Reason]),
  ...DUPLICATE_REASONS.map((r) => ["duplicate", r] as [Verdict, Reason]),
  // New outcomes go last: stored codes (log rows, receipts) are indexes into this list.
  ["over_budget", null],
];

export function outcomeCode(o: Outcome): number {
  const i = OUTCOMES.findIndex(([v, r]) => v === o.verdict && r === o.reason);
  if (i < 0) throw new Error(`unknown outcome ${o.verdict}/${o.reason}`);
  return ((i + 1) << 1) | (o.late ? 1 : 0);
}

export function outcomeOf(code: number): Outcome {
  const [verdict, reason] = OUTCOMES[(code >> 1) - 1];
  return { verdict, reason, late: (code & 1) === 1 };
}

const dedupCode = (d: Dedup) => (d.duplicate === null ? 1 : 2 + DUPLICATE_REASONS.indexOf(d.duplicate));
const dedupOf = (code: number): Dedup => ({ duplicate: code === 1 ? null : (DUPLICATE_REASONS[code - 2] as DuplicateReason) });

interface Partition {
  /** The minute's entries; for a closed minute only those written since it was closed. */
  table: KeyTable;
  /** A closed minute's older entries stay in storage, in buckets read one at a time. */
  closed: boolean;
  /** Entries changed since the last checkpoint (their latest values). */
  delta: KeyTable | null;
  chunks: number;
  touched: number;
}

/** Where the rule state is and what it takes (for the memory figures and tests). */
export interface RuleStateStats {
  partitions: number;
  entries: number;
  bytes: number;
}

/** A closed minute's entries are stored in buckets of about this many, by hash. */
const BUCKET_ENTRIES = 4_096;
/** Buckets of closed minutes kept in memory after a probe (the most recently read). */
const PROBE_CACHE = 64;

/** The row id of bucket `b` of `buckets` (negative, so raw chunks keep 0, 1, 2, …). */
const bucketChunk = (buckets: number, b: number) => -1 - (buckets * 65_536 + b);
const bucketOf = (key: Key, buckets: number) => key.hi & (buckets - 1);

export class RuleState implements DedupStore, CountStore {
  readonly #parts = new Map<number, Partition>();
  /** Closed minutes and their number of buckets. */
  readonly #closed = new Map<number, number>();
  readonly #probes = new Map<string, KeyTable>();
  #now = 0;

  constructor(readonly sql: Sql) {
    for (const r of sql.exec<{ part: number; c: number }>("SELECT part, MIN(chunk) AS c FROM keys WHERE chunk < 0 GROUP BY part")) {
      this.#closed.set(r.part, Math.floor((-1 - r.c) / 65_536));
    }
  }

  /** The wall clock the state sees; partitions remember when they were last used. */
  tick(now: number): void {
    this.#now = now;
  }

  #part(minute: number): Partition {
    let p = this.#parts.get(minute);
    if (!p) {
      p = { table: new KeyTable(), closed: this.#closed.has(minute), delta: null, chunks: 0, touched: this.#now };
      // Raw chunks only: a closed minute's buckets are probed when asked, never loaded whole.
      for (const row of this.sql.exec<{ chunk: number; body: ArrayBuffer }>(
        "SELECT chunk, body FROM keys WHERE part = ? AND chunk >= 0 ORDER BY chunk",
        minute,
      )) {
        p.table.unpack(row.body);
        p.chunks = row.chunk + 1;
      }
      this.#parts.set(minute, p);
    }
    p.touched = this.#now;
    return p;
  }

  #get(minute: number, key: Key): number | undefined {
    const p = this.#part(minute);
    const v = p.table.get(key);
    if (v !== undefined || !p.closed) return v;
    return this.#probe(minute, key);
  }

  /** Looks a key up in a closed minute's stored bucket (one row read). */
  #probe(minute: number, key: Key): number | undefined {
    const buckets = this.#closed.get(minute)!;
    const b = bucketOf(key, buckets);
    const id = `${minute}:${b}`;
    let table = this.#probes.get(id);
    if (table) this.#probes.delete(id);
    else {
      table = new KeyTable(BUCKET_ENTRIES);
      for (const row of this.sql.exec<{ body: ArrayBuffer }>(
        "SELECT body FROM keys WHERE part = ? AND chunk = ?",
        minute,
        bucketChunk(buckets, b),
      ))
        table.unpack(row.body);
    }
    this.#probes.set(id, table);
    if (this.#probes.size > PROBE_CACHE) this.#probes.delete(this.#probes.keys().next().value!);
    return table.get(key);
  }

  /**
   * Closes minutes older than `before` that only late events can still reach: their raw chunks become
   * hash buckets (about BUCKET_ENTRIES entries a row), so a late event reads one bucket instead of
   * loading the whole minute. At most `max` minutes per call. Returns the minutes closed.
   */
  close(before: number, max = 5): number {
    const open = this.sql
      .exec<{ part: number }>("SELECT part FROM keys WHERE part < ? AND chunk >= 0 GROUP BY part ORDER BY part", before)
      .toArray()
      .filter((r) => !this.#closed.has(r.part))
      .slice(0, max);
    let closed = 0;
    for (const { part } of open) {
      const p = this.#parts.get(part);
      if (p?.delta) continue; // not checkpointed yet: next time
      const all = new KeyTable();
      for (const row of this.sql.exec<{ body: ArrayBuffer }>("SELECT body FROM keys WHERE part = ? AND chunk >= 0 ORDER BY chunk", part))
        all.unpack(row.body);
      let buckets = 1;
      while (buckets * BUCKET_ENTRIES < all.size) buckets *= 2;
      const tables = Array.from({ length: buckets }, () => new KeyTable(Math.ceil(all.size / buckets)));
      all.forEach((key, value) => {
        tables[bucketOf(key, buckets)].set(key, value);
      });
      tables.forEach((t, b) => {
        const body = t.pack(Number.MAX_SAFE_INTEGER)[0] ?? new Uint8Array(0);
        this.sql.exec("INSERT INTO keys (part, chunk, body) VALUES (?, ?, ?)", part, bucketChunk(buckets, b), body.slice().buffer);
      });
      this.sql.exec("DELETE FROM keys WHERE part = ? AND chunk >= 0", part);
      this.#closed.set(part, buckets);
      this.#parts.delete(part);
      closed++;
    }
    return closed;
  }

  #set(minute: number, key: Key, value: number): void {
    const p = this.#part(minute);
    p.table.set(key, value);
    (p.delta ??= new KeyTable()).set(key, value);
  }

  eventIdSeen(eventId: string, minute: number): boolean {
    return this.#get(minute, keyOf(`e|${eventId}`)) !== undefined;
  }

  userMinuteSeen(adId: string, userId: string, minute: number): boolean {
    return this.#get(minute, keyOf(`u|${adId}|${userId}`)) !== undefined;
  }

  rememberKeys(e: ClickEvent): void {
    const minute = userMinute(e.timestamp);
    this.#set(minute, keyOf(`e|${e.event_id}`), 1);
    if (e.user_id) this.#set(minute, keyOf(`u|${e.ad_id}|${e.user_id}`), 1);
  }

  countIp(ipHash: string, second: number, minute: number) {
    const s = keyOf(`s|${ipHash}|${second}`);
    const m = keyOf(`m|${ipHash}`);
    const counts = { second: (this.#get(minute, s) ?? 0) + 1, minute: (this.#get(minute, m) ?? 0) + 1 };
    this.#set(minute, s, counts.second);
    this.#set(minute, m, counts.minute);
    return counts;
  }

  /** Receipts of the whole judgement (or the counting step of a sharded campaign). */
  readonly outcomes: ReceiptStore<Outcome> = {
    receipt: (e) => {
      const code = this.#get(userMinute(e.timestamp), keyOf(`r|${e.uid}`));
      return code === undefined ? null : outcomeOf(code);
    },
    rememberReceipt: (e, o) => this.#set(userMinute(e.timestamp), keyOf(`r|${e.uid}`), outcomeCode(o)),
  };

  /** Receipts of the dedup step of a sharded campaign (an event admitted here and forwarded). */
  readonly admissions: ReceiptStore<Dedup> = {
    receipt: (e) => {
      const code = this.#get(userMinute(e.timestamp), keyOf(`a|${e.uid}`));
      return code === undefined ? null : dedupOf(code);
    },
    rememberReceipt: (e, d) => this.#set(userMinute(e.timestamp), keyOf(`a|${e.uid}`), dedupCode(d)),
  };

  /** Sets one entry by its key string (migrating state stored by an older version). */
  put(minute: number, key: string, value: number): void {
    this.#set(minute, keyOf(key), value);
  }

  /** Whether anything changed since the last checkpoint. */
  get dirty(): boolean {
    for (const p of this.#parts.values()) if (p.delta) return true;
    return false;
  }

  /** Writes each changed minute's changes as new rows; call inside the checkpoint's transaction. */
  checkpoint(): void {
    for (const [minute, p] of this.#parts) {
      if (!p.delta) continue;
      for (const body of p.delta.pack()) {
        this.sql.exec("INSERT INTO keys (part, chunk, body) VALUES (?, ?, ?)", minute, p.chunks++, body.slice().buffer);
      }
      p.delta = null;
    }
  }

  /** Forgets minutes untouched for `idleMs` that hold nothing unwritten (they reload from storage when asked). */
  evict(idleMs: number): void {
    for (const [minute, p] of this.#parts) if (!p.delta && this.#now - p.touched > idleMs) this.#parts.delete(minute);
  }

  /** Drops every minute before `minute`, in memory and in storage. */
  dropBefore(minute: number): void {
    for (const m of this.#parts.keys()) if (m < minute) this.#parts.delete(m);
    for (const m of this.#closed.keys()) if (m < minute) this.#closed.delete(m);
    this.#probes.clear();
    this.sql.exec("DELETE FROM keys WHERE part < ?", minute);
  }

  /** The oldest minute stored, if any. */
  oldest(): number | null {
    return this.sql.exec<{ m: number | null }>("SELECT MIN(part) AS m FROM keys").one().m;
  }

  stats(): RuleStateStats {
    let entries = 0;
    let bytes = 0;
    for (const t of this.#probes.values()) bytes += t.bytes;
    for (const p of this.#parts.values()) {
      entries += p.table.size;
      bytes += p.table.bytes + (p.delta?.bytes ?? 0);
    }
    return { partitions: this.#parts.size, entries, bytes };
  }
}
