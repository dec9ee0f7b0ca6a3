import { logLine } from "../domain/log";
import { DurableObject } from "cloudflare:workers";
import type { CellPartial, CellQuery } from "../domain/cells";
import type { Conversion } from "../domain/conversion";
import { isClick, toMicros, type ClickEvent, type Outcome } from "../domain/event";
import { jurisdictionOf, stubIn, type Jurisdiction } from "../domain/jurisdiction";
import { MAX_POPULAR_ADS } from "../domain/limits";
import { campaignObjectName } from "../domain/messages";
import {
  budgetDay,
  classify,
  dedupe,
  judge,
  type BudgetStore,
  type Dedup,
  type DedupStore,
  type CountStore,
  type ReceiptStore,
} from "../domain/rules";
import type { BlocklistSource } from "../domain/blocklist";
import { resolveBlocklisted } from "../domain/bloom";
import { countShard } from "../domain/sharding";
import { DAY, HOUR, MAX_EVENT_AGE_MS, MAX_EVENT_SKEW_MS, MINUTE, SECOND, floorTo } from "../domain/time";
import { GLOBAL_LEADERBOARD, advertiserLeaderboard } from "./leaderboard";
import { autoShardThreshold, reshardIfHot } from "./autoshard";
import { ArchiveOutbox } from "./campaign/archive-outbox";
import { BLOBS_SCHEMA } from "./campaign/blobs";
import { MeteredSql, type StatementCost } from "./meter";
import { BudgetState } from "./campaign/budget";
import { CellState } from "./campaign/cells";
import { HeatState } from "./campaign/heat";
import { LiveState } from "./campaign/live";
import { LOG_SCHEMA, Log, LogKind, type AdmittedEntry, type JudgedEntry, type LogRow } from "./campaign/log";
import { SCHEMA_VERSION, hasV1Tables, migrateV1 } from "./campaign/migrate";
import { KEYS_SCHEMA, RuleState, outcomeCode, outcomeOf } from "./campaign/rule-state";

/** Recorded events wait at most this long before they are handed on (archive, counting shards). */
const FLUSH_DELAY_MS = 500;
/** State is checkpointed this often while it changes, or after this many events, whichever is first. */
const CHECKPOINT_MS = 5_000;
const CHECKPOINT_EVENTS = 20_000;
/**
 * A sendBatch carries at most 100 messages and 256 KB (each message counted with some overhead); and at
 * most this many sendBatch calls per alarm.
 */
const SEND_MESSAGES = 100;
const SEND_BYTES = 240_000;
const MESSAGE_OVERHEAD_BYTES = 1_000;
const SENDS_PER_ALARM = 25;
/** Admitted events forwarded to counting shards per alarm round. */
const FORWARD_EVENTS = 2_000;
/**
 * Admitted events are forwarded once they are this old: by then the edge has normally had them counted
 * itself, in its order, and the forward is a harmless repeat. (After a restart everything is forwarded.)
 */
const FORWARD_AFTER_MS = 2_000;
const PRUNE_EVERY_MS = 10 * MINUTE;
/** Rule minutes and cell partitions unused this long leave memory (they stay in storage). */
const RULES_IDLE_MS = MINUTE;
const CELLS_IDLE_MS = 10 * MINUTE;

export interface Horizons {
  /** How long dedup keys, receipts and IP counters are kept, by event time. */
  stateMs: number;
  /** Minute cells (at least 48 h). */
  minuteMs: number;
  /** Hour cells (at least 90 days). Day cells are kept. */
  hourMs: number;
}

export const HORIZONS: Horizons = {
  // Rule state outlives the oldest event time ingest accepts, so every accepted event, late ones
  // included, is judged against everything before it in its minute.
  stateMs: MAX_EVENT_AGE_MS + MAX_EVENT_SKEW_MS + 10 * MINUTE,
  minuteMs: 48 * HOUR + HOUR,
  hourMs: 90 * DAY + DAY,
};

const DEFAULT_ALLOWED_LATENESS_MS = HOUR;
/** `GET /v1/ads/popular` asks for at most this many ads, so a shard never needs to push more per minute. */
const TOP_ADS_PER_MINUTE = MAX_POPULAR_ADS;
/** Load is judged over this many seconds. */
const LOAD_WINDOW_S = 10;

function allowedLateness(env: { ALLOWED_LATENESS_MS?: string }): number {
  const n = Number(env.ALLOWED_LATENESS_MS);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_ALLOWED_LATENESS_MS;
}

/** What the log and its handoffs hold right now (tests, benchmarks, the ops view). */
export interface Backlog {
  log_rows: number;
  last_seq: number;
  checkpoint_seq: number;
  /** Archive messages cut but not yet confirmed in R2, and those of them never sent. */
  open_messages: number;
  unsent_messages: number;
  /** Log rows not yet cut into archive messages. */
  unsealed: boolean;
  /** Admitted rows not yet forwarded to their counting shards. */
  unforwarded_rows: number;
  /** Receive time of the oldest event still in the log (not yet confirmed in the archive), or null. */
  oldest_unarchived_at: number | null;
  /** Events this object absorbed per second over the last few seconds. */
  events_per_second: number;
}

export interface StorageStats {
  statements: Record<string, StatementCost>;
  rows: Record<string, number>;
  rows_to_expire: number;
  database_bytes: number;
}

export interface MemoryStats {
  rule_minutes: number;
  rule_entries: number;
  rule_bytes: number;
  cell_partitions: number;
  cells: number;
}

/**
 * Counts one campaign (or one shard of a hot campaign). Its durable record is an append-only log: each
 * recorded batch is one row, written in the transaction that answers the caller. The rule state and the
 * real-time cells live in memory and are checkpointed every few seconds; a restarted object loads the
 * latest checkpoint and replays the log rows after it with their recorded verdicts. The log is also the
 * outbox: rows go to the archive (and, for a sharded campaign's dedup step, to the counting shards) and
 * are deleted only when the other side has confirmed and a checkpoint covers them.
 */
export class CampaignCounter extends DurableObject<IngestEnv> {
  readonly #sql: MeteredSql;
  readonly #rules: RuleState;
  readonly #cells: CellState;
  readonly #live: LiveState;
  readonly #heat: HeatState;
  readonly #budget: BudgetState;
  readonly #log: Log;
  readonly #archive: ArchiveOutbox;
  #checkpointSeq: number;
  #checkpointAt = Date.now();
  #sinceCheckpoint = 0;
  /** Admitted rows up to here reached their counting shards (memory only: after a restart they are sent again, harmlessly). */
  #forwarded = 0;
  /** When admitted rows were logged (memory only: after a restart they count as old). */
  readonly #admittedAt = new Map<number, number>();
  #lastPrune: number;
  #lastClose = 0;
  #alarmAt: number | null = null;
  #identity: { campaign: string; shard: number; advertiser: string } | null;
  /** Events absorbed per second, for the last few seconds (in memory: load is about now, not history). */
  readonly #load = new Map<number, number>();
  #reshardCheckedAt = 0;

  constructor(ctx: DurableObjectState, env: IngestEnv) {
    super(ctx, env);
    const sql = (this.#sql = new MeteredSql(ctx.storage.sql));
    sql.exec(`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL); ${LOG_SCHEMA} ${KEYS_SCHEMA} ${BLOBS_SCHEMA}`);
    this.#checkpointSeq = Number(this.#meta("checkpoint") ?? 0);
    this.#lastPrune = Number(this.#meta("last_prune") ?? 0);
    const campaign = this.#meta("campaign_id");
    this.#identity =
      campaign === null ? null : { campaign, shard: Number(this.#meta("shard")), advertiser: this.#meta("advertiser_id") ?? "" };
    this.#log = new Log(sql, this.#checkpointSeq);
    this.#rules = new RuleState(sql);
    this.#cells = new CellState(sql);
    this.#live = new LiveState(sql);
    this.#heat = new HeatState(sql);
    this.#budget = new BudgetState(sql);
    this.#archive = new ArchiveOutbox(
      sql,
      this.#log,
      () => `${this.#identity?.campaign}.${this.#identity?.shard}`,
      () => this.#identity?.shard ?? 0,
      this.#jurisdiction(),
    );
    this.#tick();
    if (hasV1Tables(sql)) {
      ctx.storage.transactionSync(() => {
        const { events } = migrateV1(sql, {
          rules: this.#rules,
          cells: this.#cells,
          live: this.#live,
          log: this.#log,
          stateMs: HORIZONS.stateMs,
        });
        this.#checkpoint();
        logLine("info", "campaign object migrated to schema 2", {
          campaign_id: this.#identity?.campaign,
          shard: this.#identity?.shard,
          outbox_events: events,
        });
      });
    } else this.#replay();
    if (this.#meta("schema") !== String(SCHEMA_VERSION)) this.#setMeta("schema", String(SCHEMA_VERSION));
    // Whatever the log still holds is handed on again (a confirmation may have been lost with the process).
    if (this.#log.count() > 0) this.#armAlarm(0);
  }

  // ——— Recording ———

  /**
   * Judges, counts and records events of a campaign counted by this one object, in order; durable when
   * it returns. Returns each event's outcome. A replayed receipt (same `uid`) gets its first outcome
   * back and changes nothing.
   */
  async record(shard: number, events: ClickEvent[]): Promise<Outcome[]> {
    if (events.length === 0) return [];
    const blocked = await resolveBlocklisted(this.#blocklist(), events);
    const store = this.#store(this.#rules.outcomes);
    const lateness = allowedLateness(this.env);
    return this.#commit(shard, events, LogKind.judged, (e, i) => judge(e, store, blocked[i], lateness));
  }

  /**
   * Step 1 on a sharded campaign (this shard holds the events' dedup keys): the dedup answer for each
   * event, logged durably with the event. The caller then has the counting shards (by IP) count the
   * events in its order; should it never get there (a crash between shards), this shard forwards the
   * logged events itself a little later, so an event admitted here is counted exactly once whatever
   * happens — and a resend of it is a duplicate of an event that does get counted.
   */
  // Async like every call a caller awaits anyway (it lets a dev wrapper put distance in front of it).
  async admit(shard: number, items: { event: ClickEvent; shards: number }[]): Promise<Dedup[]> {
    if (items.length === 0) return [];
    const store = this.#store(this.#rules.admissions);
    this.#tick();
    const out: Dedup[] = [];
    const fresh: AdmittedEntry[] = [];
    this.#identify(items[0].event, shard);
    this.#transaction(() => {
      for (const { event, shards } of items) {
        const d = dedupe(event, store);
        out.push({ duplicate: d.duplicate });
        if (!d.replay) fresh.push([event, { duplicate: d.duplicate }, shards]);
      }
      if (fresh.length) this.#admittedAt.set(this.#log.append(LogKind.admitted, fresh), Date.now());
    });
    this.#sinceCheckpoint += fresh.length;
    this.#noteLoad(items.length);
    this.#armAlarm(FORWARD_AFTER_MS);
    return out;
  }

  /**
   * Step 2 on a sharded campaign (this shard holds the events' IPs): the remaining rules, counting and archiving.
   * `shards`: how many counting shards the event's minute has, which share its day's budget.
   */
  async count(shard: number, items: { event: ClickEvent; dedup: Dedup; shards: number }[]): Promise<Outcome[]> {
    if (items.length === 0) return [];
    const events = items.map((i) => i.event);
    const blocked = await resolveBlocklisted(this.#blocklist(), events);
    const store = this.#store(this.#rules.outcomes);
    const lateness = allowedLateness(this.env);
    return this.#commit(shard, events, LogKind.counted, (e, i) =>
      classify(e, items[i].dedup, store, blocked[i], lateness, items[i].shards),
    );
  }

  /**
   * Counts conversions of this campaign that the advertiser's ledger (durable-objects/conversions.ts)
   * recorded as its row `seq`, in their clicks' cells; one log row. The ledger hands its rows on in order
   * and again after a failure, so a row at or below the last one applied is a repeat and changes nothing.
   */
  async convert(advertiserId: string, seq: number, conversions: Conversion[]): Promise<void> {
    const mark = `conversions:${advertiserId}`;
    if (conversions.length === 0 || seq <= Number(this.#meta(mark) ?? 0)) return;
    this.#tick();
    this.#identify(conversions[0], 0);
    const now = Date.now();
    const keepAfter = { minute: now - HORIZONS.minuteMs, hour: now - HORIZONS.hourMs, day: 0 };
    this.#transaction(() => {
      for (const c of conversions) this.#cells.addConversion(c, keepAfter);
      this.#log.append(LogKind.converted, conversions);
      this.#setMeta(mark, String(seq));
    });
    this.#sinceCheckpoint += conversions.length;
    this.#armAlarm(FLUSH_DELAY_MS);
  }

  #store<T>(receipts: ReceiptStore<T>): DedupStore & CountStore & BudgetStore & ReceiptStore<T> {
    const r = this.#rules;
    const b = this.#budget;
    return {
      spent: (day) => b.spent(day),
      spend: (day, micros) => b.spend(day, micros),
      eventIdSeen: (id, minute) => r.eventIdSeen(id, minute),
      userMinuteSeen: (ad, user, minute) => r.userMinuteSeen(ad, user, minute),
      rememberKeys: (e) => r.rememberKeys(e),
      countIp: (ip, second, minute) => r.countIp(ip, second, minute),
      receipt: receipts.receipt,
      rememberReceipt: receipts.rememberReceipt,
    };
  }

  /**
   * Runs a batch in one storage transaction. The in-memory state changes as events are judged; should
   * the transaction fail, the object restarts so memory is rebuilt from what storage holds.
   */
  #transaction(fn: () => void): void {
    try {
      this.ctx.storage.transactionSync(fn);
    } catch (err) {
      this.ctx.abort(`batch could not be recorded: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  }

  /** Judges events one by one; counts and logs, in the same transaction, those not seen before. */
  #commit(
    shard: number,
    events: ClickEvent[],
    kind: LogKind,
    decide: (e: ClickEvent, i: number) => Outcome & { replay: boolean },
  ): Outcome[] {
    this.#tick();
    const out: Outcome[] = [];
    const fresh: JudgedEntry[] = [];
    this.#identify(events[0], shard);
    this.#transaction(() => {
      events.forEach((e, i) => {
        const j = decide(e, i);
        const o: Outcome = { verdict: j.verdict, reason: j.reason, late: j.late };
        out.push(o);
        if (j.replay) return;
        fresh.push([e, outcomeCode(o)]);
        this.#cells.add(e, o);
        this.#live.add(e, o);
        this.#heat.add(e, o);
      });
      if (fresh.length) this.#log.append(kind, fresh);
    });
    this.#sinceCheckpoint += fresh.length;
    this.#noteLoad(events.length);
    this.#armAlarm(FLUSH_DELAY_MS);
    return out;
  }

  /** Applies a log row's recorded verdicts to the state (recovery: never judged again). */
  #apply(row: LogRow): void {
    if (row.kind === LogKind.converted) {
      const now = Date.now();
      const keepAfter = { minute: now - HORIZONS.minuteMs, hour: now - HORIZONS.hourMs, day: 0 };
      for (const c of JSON.parse(row.body) as Conversion[]) this.#cells.addConversion(c, keepAfter);
      return;
    }
    if (row.kind === LogKind.admitted) {
      for (const [e, d] of JSON.parse(row.body) as AdmittedEntry[]) {
        this.#rules.rememberKeys(e);
        this.#rules.admissions.rememberReceipt(e, d);
      }
      return;
    }
    for (const [e, code] of JSON.parse(row.body) as JudgedEntry[]) {
      const o = outcomeOf(code);
      if (row.kind === LogKind.judged) this.#rules.rememberKeys(e);
      if (o.verdict !== "duplicate") this.#rules.countIp(e.ip_hash, Math.floor(e.timestamp / SECOND), Math.floor(e.timestamp / MINUTE));
      if (isClick(o.verdict)) this.#budget.spend(budgetDay(e), toMicros(e.cost_per_click));
      this.#rules.outcomes.rememberReceipt(e, o);
      this.#cells.add(e, o);
      this.#live.add(e, o);
      this.#heat.add(e, o);
    }
  }

  #replay(): void {
    let after = this.#checkpointSeq;
    for (;;) {
      const rows = this.#log.rows(after, Number.MAX_SAFE_INTEGER, undefined, 1_000);
      for (const row of rows) {
        this.#apply(row);
        this.#sinceCheckpoint += 1;
      }
      if (rows.length < 1_000) break;
      after = rows[rows.length - 1].seq;
    }
  }

  // ——— Handoffs ———

  /** The aggregator has these archive messages' files in R2: their log rows may go. */
  async archived(ids: string[]): Promise<number> {
    const n = this.#archive.confirm(ids);
    if (n) this.#armAlarm(FLUSH_DELAY_MS);
    return n;
  }

  /** Forwards admitted events to the shards that count them, in log order. */
  async #forward(): Promise<void> {
    const identity = this.#identity;
    if (!identity) return;
    for (;;) {
      // Rows in log order up to the first one still young (forwarding keeps the order).
      const young = Date.now() - FORWARD_AFTER_MS;
      const candidates = this.#log.rows(this.#forwarded, this.#log.last, [LogKind.admitted], 100);
      const firstYoung = candidates.findIndex((r) => (this.#admittedAt.get(r.seq) ?? 0) > young);
      const rows = firstYoung < 0 ? candidates : candidates.slice(0, firstYoung);
      if (rows.length === 0) return;
      const byShard = new Map<number, { event: ClickEvent; dedup: Dedup; shards: number }[]>();
      let taken = 0;
      let through = this.#forwarded;
      for (const row of rows) {
        for (const [event, dedup, shards] of JSON.parse(row.body) as AdmittedEntry[]) {
          const c = countShard(event, shards);
          let list = byShard.get(c);
          if (!list) byShard.set(c, (list = []));
          list.push({ event, dedup, shards });
          taken++;
        }
        through = row.seq;
        if (taken >= FORWARD_EVENTS) break;
      }
      await Promise.all(
        [...byShard].map(([c, items]) => (c === identity.shard ? this.count(c, items) : this.#stub(identity.campaign, c).count(c, items))),
      );
      this.#forwarded = Math.max(this.#forwarded, through);
      for (const seq of this.#admittedAt.keys()) if (seq <= through) this.#admittedAt.delete(seq);
    }
  }

  async #sendArchive(): Promise<void> {
    this.#archive.seal();
    const due = this.#archive.due(Date.now(), 4 * SENDS_PER_ALARM);
    const size = (m: (typeof due)[number]) => m.packed.length + MESSAGE_OVERHEAD_BYTES;
    for (let i = 0; i < due.length; ) {
      const batch: typeof due = [];
      let bytes = 0;
      while (i < due.length && batch.length < SEND_MESSAGES && (batch.length === 0 || bytes + size(due[i]) <= SEND_BYTES)) {
        bytes += size(due[i]);
        batch.push(due[i++]);
      }
      await this.env.EVENTS.sendBatch(batch.map((m) => ({ body: m, contentType: "v8" as const })));
      this.#archive.markSent(batch, Date.now());
    }
  }

  /** Sends this shard's per-ad clicks of recently changed minutes to its advertiser's and the global leaderboard. */
  async #pushLeaderboards(): Promise<void> {
    const identity = this.#identity;
    if (!identity || !this.#live.hasUnpushed) return;
    const minutes = this.#live.takeUnpushed(60);
    const rows = minutes.flatMap((m) => this.#cells.minuteClicks(m, TOP_ADS_PER_MINUTE));
    const source = campaignObjectName(identity.campaign, identity.shard);
    const ns = this.env.LEADERBOARD;
    try {
      await Promise.all(
        [GLOBAL_LEADERBOARD, advertiserLeaderboard(identity.advertiser)].map((name) =>
          ns.getByName(name).update(source, identity.campaign, rows),
        ),
      );
    } catch (err) {
      this.#live.unpushed(minutes);
      throw err;
    }
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    let failed = false;
    const step = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        failed = true;
        logLine("error", `campaign ${what} failed; retrying`, {
          campaign_id: this.#identity?.campaign,
          shard: this.#identity?.shard,
          error: err,
        });
      }
    };
    await step("forward", () => this.#forward());
    await step("archive send", () => this.#sendArchive());
    await step("leaderboard push", () => this.#pushLeaderboards());
    await step("auto-sharding check", () => this.#maybeReshard());

    this.#tick();
    const now = Date.now();
    this.#transaction(() => {
      if (this.#sinceCheckpoint > 0 || this.#live.dirty) {
        if (now - this.#checkpointAt >= CHECKPOINT_MS || this.#sinceCheckpoint >= CHECKPOINT_EVENTS) this.#checkpoint();
      }
      // Minutes past the lateness window only see late events now: store them as buckets a late event can probe.
      if (now - this.#lastClose >= MINUTE) {
        this.#rules.close(Math.floor((now - allowedLateness(this.env) - 10 * MINUTE) / MINUTE), 30);
        this.#lastClose = now;
      }
      this.#archive.flush();
      this.#log.deleteDone(Math.min(this.#archive.archivedThrough, this.#checkpointSeq), Math.min(this.#forwarded, this.#checkpointSeq));
      if (now - this.#lastPrune >= PRUNE_EVERY_MS) this.prune(now);
    });
    this.#rules.evict(RULES_IDLE_MS);
    this.#cells.evict(CELLS_IDLE_MS);
    this.#heat.evict(now);

    const b = this.backlog();
    if (failed) this.#armAlarm(5_000);
    else if (b.unsent_messages > 0 || b.unsealed || b.unforwarded_rows > 0 || this.#live.hasUnpushed) this.#armAlarm(FLUSH_DELAY_MS);
    if (this.#sinceCheckpoint > 0 || this.#live.dirty || b.log_rows > 0)
      this.#armAlarm(Math.max(FLUSH_DELAY_MS, this.#checkpointAt + CHECKPOINT_MS - now));
    if (b.open_messages > 0) this.#armAlarm(FLUSH_DELAY_MS * 4);
    if (this.#rules.oldest() !== null || this.#cells.hasExpiring()) this.#armAlarm(PRUNE_EVERY_MS);
  }

  /** Checkpoints now rather than on schedule (always safe; tests and operators use it). Returns the log seq covered. */
  checkpointNow(): number {
    this.#transaction(() => this.#checkpoint());
    return this.#checkpointSeq;
  }

  /** Writes what changed since the last checkpoint; the log rows up to here need no replay any more. */
  #checkpoint(): void {
    this.#rules.checkpoint();
    this.#cells.checkpoint();
    this.#live.checkpoint();
    this.#heat.checkpoint();
    this.#budget.checkpoint();
    this.#checkpointSeq = this.#log.last;
    this.#setMeta("checkpoint", String(this.#checkpointSeq));
    this.#checkpointAt = Date.now();
    this.#sinceCheckpoint = 0;
  }

  /** Drops state past its horizon (whole minutes and partitions; never row by row). */
  prune(now: number): void {
    this.#rules.dropBefore(Math.floor((now - HORIZONS.stateMs) / MINUTE));
    this.#cells.dropBefore("minute", now - HORIZONS.minuteMs);
    this.#cells.dropBefore("hour", now - HORIZONS.hourMs);
    // Heatmaps are hourly counts: kept as long as hour cells.
    this.#heat.dropBefore(now - HORIZONS.hourMs);
    this.#live.dropBefore(now - HORIZONS.minuteMs);
    this.#budget.dropBefore(floorTo(now - HORIZONS.stateMs, DAY));
    this.#lastPrune = now;
    this.#setMeta("last_prune", String(now));
  }

  // ——— Queries (from memory) ———

  /** Partial aggregates of this shard's cells (merge across shards with domain/metrics.ts). */
  async cells(query: CellQuery): Promise<CellPartial[]> {
    this.#tick();
    return this.#cells.query(query);
  }

  /** Several questions in one round trip (e.g. the minute, hour and day segments of one range). */
  async cellsMany(queries: CellQuery[]): Promise<CellPartial[][]> {
    this.#tick();
    return queries.map((q) => this.#cells.query(q));
  }

  /** Clean, on-time clicks of one ad per heatmap grid cell over the hours starting in [from, to): [cell, clicks][]. */
  async heatmap(adId: string, from: number, to: number): Promise<[number, number][]> {
    return [...this.#heat.query(adId, from, to)];
  }

  /** This object's billed cost (micros) of clicks dated on the UTC day starting `day`: what rule 5 compares with its share of the budget. */
  async spent(day: number): Promise<number> {
    return this.#budget.spent(day);
  }

  /** Late events received in [from, to): the live view shows them as they arrive, not in their (old) buckets. */
  async lateArrivals(from: number, to: number): Promise<{ events: number; clicks: number }> {
    return this.#live.lateArrivals(from, to);
  }

  backlog(): Backlog {
    return {
      log_rows: this.#log.count(),
      last_seq: this.#log.last,
      checkpoint_seq: this.#checkpointSeq,
      open_messages: this.#archive.openMessages,
      unsent_messages: this.#archive.unsentMessages,
      unsealed: this.#log.countAfter(this.#archive.sealedThrough, [LogKind.judged, LogKind.counted]) > 0,
      unforwarded_rows: this.#log.countAfter(this.#forwarded, [LogKind.admitted]),
      oldest_unarchived_at: this.#log.oldestReceivedAt(),
      events_per_second: Math.round(this.#eventsPerSecond()),
    };
  }

  /** SQLite rows written and read per kind of statement since this object started, and rows stored now. */
  storage(): StorageStats {
    return {
      statements: this.#sql.report(),
      rows: this.#sql.tableRows(["log", "keys", "blob", "meta"]),
      // Retention will delete these, one row written each: part of what an event costs over its life.
      rows_to_expire:
        this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM keys").one().n +
        this.ctx.storage.sql
          .exec<{ n: number }>("SELECT COUNT(*) AS n FROM blob WHERE name LIKE '_:minute:%' OR name LIKE '_:hour:%'")
          .one().n,
      database_bytes: this.ctx.storage.sql.databaseSize,
    };
  }

  memory(): MemoryStats {
    const r = this.#rules.stats();
    const c = this.#cells.stats();
    return { rule_minutes: r.partitions, rule_entries: r.entries, rule_bytes: r.bytes, cell_partitions: c.partitions, cells: c.cells };
  }

  // ——— Internals ———

  #tick(): void {
    const now = Date.now();
    this.#rules.tick(now);
    this.#cells.tick(now);
  }

  /** Where this object lives (set when it was created through `namespace.jurisdiction()`). */
  #jurisdiction(): Jurisdiction | null {
    return jurisdictionOf(this.ctx.id);
  }

  #stub(campaignId: string, shard: number): DurableObjectStub<CampaignCounter> {
    return stubIn(
      this.env.CAMPAIGN as DurableObjectNamespace<CampaignCounter>,
      this.#jurisdiction(),
      campaignObjectName(campaignId, shard),
    );
  }

  #noteLoad(n: number): void {
    const second = Math.floor(Date.now() / SECOND);
    this.#load.set(second, (this.#load.get(second) ?? 0) + n);
    for (const s of this.#load.keys()) if (s < second - LOAD_WINDOW_S) this.#load.delete(s);
  }

  /** Events per second over the last complete seconds of the window. */
  #eventsPerSecond(): number {
    const now = Math.floor(Date.now() / SECOND);
    let sum = 0;
    let first = now;
    for (const [s, n] of this.#load) {
      if (s < now && s >= now - LOAD_WINDOW_S) {
        sum += n;
        first = Math.min(first, s);
      }
    }
    // Over the seconds actually seen (an object that just woke up has less than a full window).
    return sum / Math.max(1, now - first);
  }

  /** A hot object asks for more shards (at most once a minute per object). */
  async #maybeReshard(): Promise<void> {
    const now = Date.now();
    if (!this.#identity || now - this.#reshardCheckedAt < MINUTE) return;
    const rate = this.#eventsPerSecond();
    const threshold = autoShardThreshold(this.env);
    if (rate <= threshold) return;
    this.#reshardCheckedAt = now;
    const plan = await reshardIfHot(this.env.DB, this.#identity.campaign, rate, threshold, now);
    if (plan) logLine("info", "campaign resharded", { campaign_id: this.#identity.campaign, events_per_second: Math.round(rate), plan });
  }

  #armAlarm(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  #identify(e: Pick<ClickEvent, "campaign_id" | "advertiser_id">, shard: number): void {
    if (this.#identity === null) {
      this.#setMeta("campaign_id", e.campaign_id);
      this.#setMeta("shard", String(shard));
      this.#setMeta("advertiser_id", e.advertiser_id);
      this.#identity = { campaign: e.campaign_id, shard, advertiser: e.advertiser_id };
    } else if (this.#identity.campaign !== e.campaign_id || this.#identity.shard !== shard) {
      throw new Error(`events of ${e.campaign_id}#${shard} sent to the object of ${this.#identity.campaign}#${this.#identity.shard}`);
    }
  }

  #meta(k: string): string | null {
    return this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = ?", k).toArray()[0]?.v ?? null;
  }

  #setMeta(k: string, v: string): void {
    this.#sql.exec("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
  }

  #blocklist(): BlocklistSource {
    const stub = this.env.BLOCKLIST.getByName("global");
    return {
      version: () => stub.version(),
      snapshot: () => stub.snapshot(),
      contains: (items) => stub.contains(items),
    };
  }
}
