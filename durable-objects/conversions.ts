/**
 * ConversionLedger: one per advertiser, the first durable record of its conversions and the one place
 * that knows every conversion_id it reported (a repeat counts once, across all its campaigns).
 *
 * Like a campaign object it is a log plus checkpoints: each batch of new conversions is ONE log row,
 * written in the transaction that answers the caller; the conversion ids live in memory by receive day,
 * and a checkpoint writes the ids added since the last one as one row per day. Log rows are handed on
 * (their conversions counted by their campaigns' objects, which remember the last ledger row they applied,
 * and archived as Parquet in R2 under a name of the row, so a repeat overwrites) and deleted when both are
 * done and a checkpoint covers them. A restart loads the checkpoints and replays the rows after them.
 */
import { DurableObject } from "cloudflare:workers";
import { conversionsKey } from "../domain/archive-layout";
import type { Conversion } from "../domain/conversion";
import { archiveFor, jurisdictionOf } from "../domain/jurisdiction";
import { MAX_ATTRIBUTION_WINDOW_DAYS } from "../domain/limits";
import { logLine } from "../domain/log";
import { encodeConversions } from "../domain/parquet";
import { DAY } from "../domain/time";
import { BLOBS_SCHEMA, blobNames, deleteBlob, readJsonBlob, writeJsonBlob } from "./campaign/blobs";
import { campaignStub } from "./client";
import { MeteredSql, type StatementCost } from "./meter";

/**
 * Conversion ids are remembered this long after they were received: a repeat later than that could only
 * name a click outside every attribution window, which is refused anyway.
 */
const REMEMBER_MS = (MAX_ATTRIBUTION_WINDOW_DAYS + 1) * DAY;
const CHECKPOINT_MS = 5_000;
const RETRY_MS = 5_000;

/** Each posted conversion's answer: new (counted), or a repeat of a conversion_id already counted. */
export type LedgerAnswer = "new" | "repeat";

export interface LedgerStats {
  log_rows: number;
  conversion_ids: number;
  statements: Record<string, StatementCost>;
}

export class ConversionLedger extends DurableObject<IngestEnv> {
  readonly #sql: MeteredSql;
  /** Conversion ids by receive day (UTC day number). */
  readonly #seen = new Map<number, Set<string>>();
  /** Ids added since the last checkpoint, by receive day. */
  readonly #delta = new Map<number, string[]>();
  #next: number;
  #checkpointSeq: number;
  /** Rows up to here were applied by their campaigns' objects, and archived (persisted in meta at checkpoints). */
  #forwarded: number;
  #archived: number;
  #pumping: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: IngestEnv) {
    super(ctx, env);
    const sql = (this.#sql = new MeteredSql(ctx.storage.sql));
    sql.exec(
      `CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
       CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, body TEXT NOT NULL); ${BLOBS_SCHEMA}`,
    );
    this.#checkpointSeq = Number(this.#meta("checkpoint") ?? 0);
    this.#forwarded = Number(this.#meta("forwarded") ?? 0);
    this.#archived = Number(this.#meta("archived") ?? 0);
    const max = sql.exec<{ m: number | null }>("SELECT MAX(seq) AS m FROM log").one().m ?? 0;
    this.#next = Math.max(max, this.#checkpointSeq) + 1;
    for (const name of blobNames(sql, "s:")) {
      const day = Number(name.split(":")[1]);
      const ids = readJsonBlob<string[]>(sql, name)?.value ?? [];
      const set = this.#seen.get(day) ?? new Set<string>();
      for (const id of ids) set.add(id);
      this.#seen.set(day, set);
    }
    // Rows after the checkpoint: their ids are not in a checkpoint yet.
    for (let after = this.#checkpointSeq, rows = this.#rows(after); rows.length > 0; rows = this.#rows(after)) {
      for (const row of rows) for (const c of row.conversions) this.#remember(c.conversion_id, row.received_at);
      after = rows[rows.length - 1].seq;
    }
    if (this.#rows(0, 1).length > 0) void ctx.storage.setAlarm(Date.now());
  }

  /**
   * Records conversions of this advertiser, durably when it returns: each new conversion_id in one log
   * row; a repeat (earlier, or within the batch) is answered `repeat` and changes nothing.
   */
  async record(conversions: Conversion[]): Promise<LedgerAnswer[]> {
    const answers: LedgerAnswer[] = [];
    const fresh: Conversion[] = [];
    const now = Date.now();
    const inBatch = new Set<string>();
    for (const c of conversions) {
      const repeat = inBatch.has(c.conversion_id) || this.#seenId(c.conversion_id);
      answers.push(repeat ? "repeat" : "new");
      if (repeat) continue;
      inBatch.add(c.conversion_id);
      fresh.push(c);
    }
    if (fresh.length === 0) return answers;
    const seq = this.#next;
    try {
      this.ctx.storage.transactionSync(() => {
        this.#sql.exec("INSERT INTO log (seq, received_at, body) VALUES (?, ?, ?)", seq, now, JSON.stringify(fresh));
      });
    } catch (err) {
      this.ctx.abort(`conversions could not be recorded: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    this.#next++;
    for (const c of fresh) this.#remember(c.conversion_id, now);
    // Counted in real time before the answer when the campaign objects can be reached; else by the alarm.
    try {
      await this.#pump();
    } catch (err) {
      logLine("warn", "conversions recorded; handing them on later", { error: err });
    }
    void this.ctx.storage.setAlarm(Date.now() + CHECKPOINT_MS);
    return answers;
  }

  override async alarm(): Promise<void> {
    let failed = false;
    try {
      await this.#pump();
      await this.#archive();
    } catch (err) {
      failed = true;
      logLine("error", "conversion handoff failed; retrying", { error: err });
    }
    this.#checkpoint();
    const waiting = this.#rows(0, 1).length > 0;
    if (failed || waiting) void this.ctx.storage.setAlarm(Date.now() + (failed ? RETRY_MS : CHECKPOINT_MS));
  }

  /** Log rows, conversion ids in memory and SQLite rows written per statement (the storage meter). */
  stats(): LedgerStats {
    let ids = 0;
    for (const s of this.#seen.values()) ids += s.size;
    return {
      log_rows: this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM log").one().n,
      conversion_ids: ids,
      statements: this.#sql.report(),
    };
  }

  /** Hands rows to their campaigns' objects in log order, one pump at a time (the objects rely on that order). */
  #pump(): Promise<void> {
    const run = async () => {
      for (const row of this.#rows(this.#forwarded)) {
        const byCampaign = new Map<string, Conversion[]>();
        for (const c of row.conversions) {
          const list = byCampaign.get(c.campaign_id) ?? [];
          list.push(c);
          byCampaign.set(c.campaign_id, list);
        }
        const jurisdiction = jurisdictionOf(this.ctx.id);
        // Counted on shard 0: the shard every read of the campaign asks.
        await Promise.all(
          [...byCampaign].map(([campaign, list]) =>
            campaignStub(this.env.CAMPAIGN, campaign, 0, jurisdiction).convert(list[0].advertiser_id, row.seq, list),
          ),
        );
        this.#forwarded = row.seq;
      }
    };
    const p = (this.#pumping ?? Promise.resolve()).catch(() => {}).then(run);
    this.#pumping = p;
    return p;
  }

  async #archive(): Promise<void> {
    const bucket = archiveFor(this.env, jurisdictionOf(this.ctx.id));
    for (const row of this.#rows(this.#archived)) {
      const first = row.conversions[0];
      await bucket.put(conversionsKey(first.advertiser_id, row.seq, row.received_at), encodeConversions(row.conversions), {
        httpMetadata: { contentType: "application/vnd.apache.parquet" },
        customMetadata: { conversions: String(row.conversions.length) },
      });
      this.#archived = row.seq;
    }
  }

  /** Writes the ids added since the last checkpoint (one row per receive day), the handoff marks, and drops done rows. */
  #checkpoint(): void {
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const [day, ids] of this.#delta) writeJsonBlob(this.#sql, `s:${day}:${now}`, ids, 0);
      this.#delta.clear();
      this.#checkpointSeq = this.#next - 1;
      this.#setMeta("checkpoint", String(this.#checkpointSeq));
      this.#setMeta("forwarded", String(this.#forwarded));
      this.#setMeta("archived", String(this.#archived));
      this.#sql.exec("DELETE FROM log WHERE seq <= ?", Math.min(this.#forwarded, this.#archived, this.#checkpointSeq));
      // Whole days past the memory of repeats.
      const oldest = Math.floor((now - REMEMBER_MS) / DAY);
      for (const day of [...this.#seen.keys()]) if (day < oldest) this.#seen.delete(day);
      for (const name of blobNames(this.#sql, "s:")) if (Number(name.split(":")[1]) < oldest) deleteBlob(this.#sql, name);
    });
  }

  #seenId(id: string): boolean {
    for (const s of this.#seen.values()) if (s.has(id)) return true;
    return false;
  }

  #remember(id: string, receivedAt: number): void {
    const day = Math.floor(receivedAt / DAY);
    let s = this.#seen.get(day);
    if (!s) this.#seen.set(day, (s = new Set()));
    s.add(id);
    const d = this.#delta.get(day) ?? [];
    d.push(id);
    this.#delta.set(day, d);
  }

  #rows(after: number, limit = 100): { seq: number; received_at: number; conversions: Conversion[] }[] {
    return this.#sql
      .exec<{ seq: number; received_at: number; body: string }>(
        "SELECT seq, received_at, body FROM log WHERE seq > ? ORDER BY seq LIMIT ?",
        after,
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, received_at: r.received_at, conversions: JSON.parse(r.body) as Conversion[] }));
  }

  #meta(k: string): string | null {
    return this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = ?", k).toArray()[0]?.v ?? null;
  }

  #setMeta(k: string, v: string): void {
    this.#sql.exec("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
  }
}
