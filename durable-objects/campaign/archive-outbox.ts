/**
 * Handing recorded events to the archive, end to end. Log rows are cut into queue messages of at most
 * MESSAGE_BYTES of events (compressed in the message) and the cut is stored (one row) before anything
 * is sent, so a re-sent message always has the same id and events, and archives to the same files. A
 * message stays open until the aggregator confirms that its files are in R2 (`confirm`); an open message
 * is sent again after RESEND_MS (a lost message, one in the dead-letter queue, a broker that died).
 */
import type { Sql } from "../meter";
import type { RecordedEvent } from "../../domain/event";
import type { Jurisdiction } from "../../domain/jurisdiction";
import { packEvents, type ArchiveMessage } from "../../domain/messages";
import { EVENTS_PER_ROW, LogKind, recordedEvents, type Log } from "./log";

/** Events (as JSON) per message before compression: compressed, a message stays far under the 128 KB limit. */
const MESSAGE_BYTES = 120_000;
const RESEND_MS = 30_000;

interface Stored {
  /** Log rows up to this seq have been cut into messages. */
  through: number;
  /** Unconfirmed messages as [first, last] event seqs, in order. */
  open: [number, number][];
}

const utf8 = new TextEncoder();

export class ArchiveOutbox {
  #through: number;
  /** Unconfirmed messages: first event seq → last, in order (a Map keeps insertion order). */
  #open: Map<number, number>;
  readonly #sentAt = new Map<number, number>();
  #changed = false;

  constructor(
    readonly sql: Sql,
    readonly log: Log,
    readonly idPrefix: () => string,
    readonly shard: () => number,
    readonly jurisdiction: Jurisdiction | null,
  ) {
    const row = sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'archive'").toArray()[0];
    const stored: Stored = row ? (JSON.parse(row.v) as Stored) : { through: 0, open: [] };
    this.#through = stored.through;
    this.#open = new Map(stored.open);
  }

  #persist(): void {
    const v: Stored = { through: this.#through, open: [...this.#open] };
    this.sql.exec("INSERT INTO meta (k, v) VALUES ('archive', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", JSON.stringify(v));
    this.#changed = false;
  }

  /** Cuts the rows logged since the last cut into messages and stores the cut (with any confirmations). */
  seal(): void {
    const limit = 5_000;
    const rows = this.log.rows(this.#through, this.log.last, [LogKind.judged, LogKind.counted], limit);
    let first = -1;
    let last = -1;
    let size = 0;
    for (const row of rows) {
      // An event's size in a message, estimated from its row (events of one batch are alike) with room
      // for the fields the archive adds (verdict, reason, late, shard, seq); messages stay far below the
      // queue's 128 KB limit even when the estimate is off.
      const n = JSON.parse(row.body).length as number;
      const each = Math.ceil(utf8.encode(row.body).length / Math.max(1, n)) + 80;
      for (let i = 0; i < n; i++) {
        const seq = row.seq * EVENTS_PER_ROW + i;
        if (first >= 0 && size + each > MESSAGE_BYTES) {
          this.#open.set(first, last);
          first = -1;
          size = 0;
        }
        if (first < 0) first = seq;
        last = seq;
        size += each;
      }
    }
    if (first >= 0) this.#open.set(first, last);
    // A long backlog is cut a slice at a time; the rest waits for the next call.
    const through = rows.length === limit ? rows[rows.length - 1].seq : this.log.last;
    if (through > this.#through) {
      this.#through = through;
      this.#changed = true;
    }
    if (this.#changed) this.#persist();
  }

  /** Messages never sent, or sent longer than RESEND_MS ago and still unconfirmed (at most `max`). */
  due(now: number, max: number): ArchiveMessage[] {
    const out: ArchiveMessage[] = [];
    for (const [first, last] of this.#open) {
      if (out.length >= max) break;
      const sent = this.#sentAt.get(first);
      if (sent !== undefined && now - sent < RESEND_MS) continue;
      out.push(this.#message(first, last));
    }
    return out;
  }

  #message(first: number, last: number): ArchiveMessage {
    const rows = this.log.rows(Math.floor(first / EVENTS_PER_ROW) - 1, Math.floor(last / EVENTS_PER_ROW));
    const events: RecordedEvent[] = [];
    for (const row of rows) {
      // Only judged and counted rows hold archived events (admitted rows are forwarded, converted rows the ledger archives).
      if (row.kind !== LogKind.judged && row.kind !== LogKind.counted) continue;
      for (const e of recordedEvents(row, this.shard())) if (e.seq >= first && e.seq <= last) events.push(e);
    }
    const prefix = this.idPrefix();
    return {
      v: 2,
      kind: "recorded",
      id: `${prefix}-${first}`,
      campaign_id: prefix.slice(0, prefix.lastIndexOf(".")),
      shard: this.shard(),
      jurisdiction: this.jurisdiction,
      packed: packEvents(events),
    };
  }

  markSent(messages: ArchiveMessage[], now: number): void {
    for (const m of messages) this.#sentAt.set(firstOf(m.id), now);
  }

  /** The aggregator has the files of these messages in R2. */
  confirm(ids: string[]): number {
    const firsts = new Set(ids.map(firstOf));
    let confirmed = 0;
    for (const f of firsts) {
      if (this.#open.delete(f)) confirmed++;
      this.#sentAt.delete(f);
    }
    if (confirmed) this.#changed = true;
    return confirmed;
  }

  /** Stores confirmations received since the last write. */
  flush(): void {
    if (this.#changed) this.#persist();
  }

  /** Every archivable row up to this seq is in R2. */
  get archivedThrough(): number {
    const firstOpen = this.#open.keys().next().value;
    return firstOpen === undefined ? this.#through : Math.min(this.#through, Math.floor(firstOpen / EVENTS_PER_ROW) - 1);
  }

  get sealedThrough(): number {
    return this.#through;
  }

  get openMessages(): number {
    return this.#open.size;
  }

  get unsentMessages(): number {
    let n = 0;
    for (const first of this.#open.keys()) if (!this.#sentAt.has(first)) n++;
    return n;
  }
}

function firstOf(id: string): number {
  return Number(id.slice(id.lastIndexOf("-") + 1));
}
