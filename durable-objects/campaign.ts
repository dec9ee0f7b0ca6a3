import { DurableObject } from "cloudflare:workers";
import type { ClickEvent, Outcome } from "../domain/event";
import { classify, dedupe, judge, type Dedup } from "../domain/rules";
import { resolveBlocklisted, type BlocklistSource } from "../domain/blocklist";
import { GLOBAL_LEADERBOARD, advertiserLeaderboard } from "./leaderboard";
import { assertUp } from "./faults";
import { autoShardThreshold, reshardIfHot } from "./autoshard";
import { DAY, HOUR, MAX_EVENT_AGE_MS, MAX_EVENT_SKEW_MS, MINUTE } from "../domain/time";
import {
  SCHEMA,
  SqlRuleStore,
  assignMessages,
  clearDirtyMinutes,
  countEvents,
  dirtyMinuteClicks,
  deleteMessages,
  enqueueOutbox,
  hasExpiringState,
  lateArrivals,
  outboxSize,
  pendingMessages,
  prune,
  queryCells,
  type CellPartial,
  type CellQuery,
  type Horizons,
} from "./campaign-store";

/** Recorded events wait at most this long before they are handed to the queue. */
export const FLUSH_DELAY_MS = 500;
/** Queue messages stay under 64 KB, the unit Queues bills by; four fit one sendBatch (≤ 256 KB). */
export const MESSAGE_BYTES = 48_000;
const MESSAGES_PER_SEND = 4;
const SENDS_PER_ALARM = 25;
const PRUNE_EVERY_MS = 10 * MINUTE;

export const HORIZONS: Horizons = {
  // Dedup keys and IP counters outlive the oldest event time ingest accepts, so every accepted event,
  // late ones included, is judged against everything before it.
  stateMs: MAX_EVENT_AGE_MS + MAX_EVENT_SKEW_MS + 10 * MINUTE,
  minuteMs: 48 * HOUR + HOUR,
  hourMs: 90 * DAY + DAY,
};

export const DEFAULT_ALLOWED_LATENESS_MS = HOUR;
/** `GET /v1/ads/popular` asks for at most 100 ads, so a shard never needs to push more per minute. */
const TOP_ADS_PER_MINUTE = 100;
/** Load is judged over this many seconds. */
const LOAD_WINDOW_S = 10;

export function allowedLateness(env: { ALLOWED_LATENESS_MS?: string }): number {
  const n = Number(env.ALLOWED_LATENESS_MS);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_ALLOWED_LATENESS_MS;
}

/** The Durable Object that counts one campaign (or one shard of a hot campaign). */
export function campaignObjectName(campaignId: string, shard: number): string {
  return `${campaignId}#${shard}`;
}

/**
 * Counts one campaign shard in real time. `record()` applies the counting rules to a batch of events in
 * arrival order and, in the same storage transaction, updates the real-time cells and puts the events in
 * an outbox; when it returns, all of that is durable. An alarm hands the outbox to the queue in batched
 * messages with stable ids, so the archive receives every event exactly once per file name.
 */
export class CampaignCounter extends DurableObject<IngestEnv> {
  readonly #store: SqlRuleStore;
  #alarmAt: number | null = null;
  #identity: { campaign: string; shard: string } | null | undefined;
  /** Events absorbed per second, for the last few seconds (in memory: load is about now, not history). */
  readonly #load = new Map<number, number>();
  #reshardCheckedAt = 0;

  constructor(ctx: DurableObjectState, env: IngestEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(SCHEMA);
    this.#store = new SqlRuleStore(ctx.storage.sql, HORIZONS.stateMs);
  }

  /**
   * Judges, counts and records events of a campaign counted by this one object, in order; durable when
   * it returns. Returns each event's outcome. A replayed receipt (same `uid`) gets its first outcome
   * back and changes nothing.
   */
  async record(shard: number, events: ClickEvent[]): Promise<Outcome[]> {
    if (events.length === 0) return [];
    const blocked = await resolveBlocklisted(this.#blocklist(), events);
    const store = this.#store.withReceipts<Outcome>("outcome");
    return this.#commit(shard, events, (e, i) => judge(e, store, blocked[i], allowedLateness(this.env)));
  }

  /** Step 1 on a sharded campaign: the dedup answer for each event (this shard holds their dedup keys). */
  dedupe(shard: number, events: ClickEvent[]): Dedup[] {
    if (events.length === 0) return [];
    const store = this.#store.withReceipts<Dedup>("dedup");
    return this.#inBatch(() => {
      this.#identify(events[0].campaign_id, shard, events[0].advertiser_id);
      return events.map((e) => ({ duplicate: dedupe(e, store).duplicate }));
    });
  }

  /** Step 2 on a sharded campaign: the remaining rules, counting and archiving (this shard holds the events' IPs). */
  async count(shard: number, items: { event: ClickEvent; dedup: Dedup }[]): Promise<Outcome[]> {
    if (items.length === 0) return [];
    const events = items.map((i) => i.event);
    const blocked = await resolveBlocklisted(this.#blocklist(), events);
    const store = this.#store.withReceipts<Outcome>("outcome");
    return this.#commit(shard, events, (e, i) => classify(e, items[i].dedup, store, blocked[i], allowedLateness(this.env)));
  }

  /** Runs a batch in one storage transaction, with the rule store's write-behind flushed inside it. */
  #inBatch<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(() => {
        this.#store.begin();
        const out = fn();
        this.#store.flush();
        return out;
      });
    } catch (err) {
      this.#store.discard();
      throw err;
    }
  }

  /** Judges events one by one and, in the same transaction, counts and queues for the archive what is new. */
  #commit(shard: number, events: ClickEvent[], decide: (e: ClickEvent, i: number) => Outcome & { replay: boolean }): Outcome[] {
    const sql = this.ctx.storage.sql;
    const outcomes = this.#inBatch(() => {
      this.#identify(events[0].campaign_id, shard, events[0].advertiser_id);
      const fresh: { e: ClickEvent; o: Outcome }[] = [];
      const out = events.map((e, i) => {
        const j = decide(e, i);
        const outcome: Outcome = { verdict: j.verdict, reason: j.reason, late: j.late };
        if (!j.replay) fresh.push({ e, o: outcome });
        return outcome;
      });
      countEvents(sql, fresh);
      enqueueOutbox(sql, fresh.map(({ e, o }) => ({ ...e, ...o, shard })));
      return out;
    });
    this.#noteLoad(events.length);
    this.#armAlarm(FLUSH_DELAY_MS);
    return outcomes;
  }

  /** Partial aggregates of this shard's cells (merge across shards with domain/metrics.ts). */
  cells(query: CellQuery): CellPartial[] {
    return queryCells(this.ctx.storage.sql, query);
  }

  /** Several questions in one round trip (e.g. the minute, hour and day segments of one range). */
  cellsMany(queries: CellQuery[]): CellPartial[][] {
    return queries.map((q) => queryCells(this.ctx.storage.sql, q));
  }

  /** Late events received in [from, to): the live view shows them as they arrive, not in their (old) buckets. */
  lateArrivals(from: number, to: number): { events: number; clicks: number } {
    return lateArrivals(this.ctx.storage.sql, from, to);
  }

  /** Events recorded but not yet handed to the queue. */
  pending(): number {
    return outboxSize(this.ctx.storage.sql);
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    try {
      await this.#flush();
    } catch (err) {
      // The queue is unavailable: the events stay in the outbox, durable, and we try again shortly.
      console.error("campaign outbox flush failed; retrying", err instanceof Error ? err.message : err);
      this.#armAlarm(5_000);
      return;
    }
    try {
      await this.#pushLeaderboards();
    } catch (err) {
      // Pushes are absolute counts: the next one repairs whatever this one missed.
      console.error("leaderboard push failed; retrying", err instanceof Error ? err.message : err);
      this.#armAlarm(5_000);
    }
    try {
      await this.#maybeReshard();
    } catch (err) {
      console.error("auto-sharding check failed", err instanceof Error ? err.message : err);
    }
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    const lastPrune = this.#meta("last_prune");
    if (now - Number(lastPrune ?? 0) >= PRUNE_EVERY_MS) {
      const deleted = prune(sql, now, HORIZONS);
      this.#setMeta("last_prune", String(deleted > 0 ? now - PRUNE_EVERY_MS + MINUTE : now));
    }
    if (outboxSize(sql) > 0 || sql.exec("SELECT 1 FROM dirty_minute LIMIT 1").toArray().length) this.#armAlarm(FLUSH_DELAY_MS);
    else if (hasExpiringState(sql)) this.#armAlarm(PRUNE_EVERY_MS);
  }

  async #flush(): Promise<void> {
    const sql = this.ctx.storage.sql;
    const prefix = `${this.#meta("campaign_id")}.${this.#meta("shard")}`;
    for (let sends = 0; sends < SENDS_PER_ALARM; sends++) {
      let batch = pendingMessages(sql, MESSAGES_PER_SEND);
      if (batch.length === 0) {
        this.ctx.storage.transactionSync(() => assignMessages(sql, prefix, MESSAGE_BYTES));
        batch = pendingMessages(sql, MESSAGES_PER_SEND);
        if (batch.length === 0) return;
      }
      assertUp(this.env, "queue");
      await this.env.EVENTS.sendBatch(batch.map((m) => ({ body: m, contentType: "json" as const })));
      deleteMessages(sql, batch.map((m) => m.id));
    }
  }

  #noteLoad(n: number): void {
    const second = Math.floor(Date.now() / 1000);
    this.#load.set(second, (this.#load.get(second) ?? 0) + n);
    for (const s of this.#load.keys()) if (s < second - LOAD_WINDOW_S) this.#load.delete(s);
  }

  /** Events per second over the last complete seconds of the window. */
  #eventsPerSecond(): number {
    const now = Math.floor(Date.now() / 1000);
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
    if (now - this.#reshardCheckedAt < MINUTE) return;
    const rate = this.#eventsPerSecond();
    const threshold = autoShardThreshold(this.env);
    if (rate <= threshold) return;
    this.#reshardCheckedAt = now;
    const plan = await reshardIfHot(this.env.DB, this.#identity?.campaign ?? this.#meta("campaign_id")!, rate, threshold, now);
    if (plan) console.log(`campaign ${this.#identity?.campaign} absorbs ${rate.toFixed(0)} events/s: shard plan now ${JSON.stringify(plan)}`);
  }

  /** Sends this shard's per-ad clicks of recently changed minutes to its advertiser's and the global leaderboard. */
  async #pushLeaderboards(): Promise<void> {
    const sql = this.ctx.storage.sql;
    const { dirty, rows } = dirtyMinuteClicks(sql, TOP_ADS_PER_MINUTE);
    if (dirty.length === 0) return;
    const campaignId = this.#meta("campaign_id")!;
    const source = `${campaignId}#${this.#meta("shard")}`;
    const ns = this.env.LEADERBOARD;
    const boards = [GLOBAL_LEADERBOARD, advertiserLeaderboard(this.#meta("advertiser_id") ?? "")];
    await Promise.all(boards.map((name) => ns.get(ns.idFromName(name)).update(source, campaignId, rows)));
    clearDirtyMinutes(sql, dirty);
  }

  #armAlarm(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  #identify(campaignId: string, shard: number, advertiserId: string): void {
    // Identity never changes once written, so it is read from storage once per instance.
    this.#identity ??= this.#meta("campaign_id") === null ? null : { campaign: this.#meta("campaign_id")!, shard: this.#meta("shard")! };
    if (this.#identity === null) {
      this.#setMeta("campaign_id", campaignId);
      this.#setMeta("shard", String(shard));
      this.#setMeta("advertiser_id", advertiserId);
      this.#identity = { campaign: campaignId, shard: String(shard) };
    } else if (this.#identity.campaign !== campaignId || this.#identity.shard !== String(shard)) {
      throw new Error(`events of ${campaignId}#${shard} sent to the object of ${this.#identity.campaign}#${this.#identity.shard}`);
    }
  }

  #meta(k: string): string | null {
    return this.ctx.storage.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = ?", k).toArray()[0]?.v ?? null;
  }

  #setMeta(k: string, v: string): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", k, v);
  }

  #blocklist(): BlocklistSource {
    const stub = this.env.BLOCKLIST.get(this.env.BLOCKLIST.idFromName("global"));
    return {
      version: () => stub.version(),
      snapshot: () => stub.snapshot(),
      contains: (items) => stub.contains(items),
    };
  }
}
