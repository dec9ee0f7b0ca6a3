import { logLine } from "../domain/log";
import { DurableObject } from "cloudflare:workers";
import type { ClickEvent } from "../domain/event";
import type { BufferedBatch } from "../domain/buffer";
import type { CampaignRoute } from "../domain/jurisdiction";
import { RECORD_SLICE, recordEvents } from "./client";
import { MeteredSql, type StatementCost } from "./meter";

/** Buffered events are forwarded this soon after they arrive; after a failure, again after this long. */
const RETRY_MS = 1_000;
const MAX_RETRY_MS = 10_000;
/**
 * Rows forwarded together (their events are grouped by campaign into one call each), up to RECORD_SLICE
 * events: a backlog (say, after a campaign object was unreachable) drains in calls a campaign object can
 * take in one log row, never in one call too big to ever succeed.
 */
const ROWS_PER_FORWARD = 200;
/**
 * A forward starts this long after the first row that needs it, so the batches that arrive meanwhile go
 * in the same call: far fewer campaign-object requests and log rows at a cost of a few ms of freshness.
 */
const GATHER_MS = 25;

/**
 * An edge buffer: the first durable write, near the person. The edge appends a batch of events (of any
 * campaigns) as one row and answers the click or the post as soon as that row is durable; the buffer then
 * forwards the events to their campaign objects, however far away, and deletes the row only when every
 * campaign object has confirmed. Until then it retries, with backoff; the campaign objects recognise
 * receipts they have already recorded, so a repeat counts nothing twice.
 *
 * Buffers are named by Cloudflare location and a slot (domain/buffer.ts), so a busy location is spread
 * over several objects and every object is created near where it is first used.
 */
export class EdgeBuffer extends DurableObject<IngestEnv> {
  readonly #sql: MeteredSql;
  #forwarding: Promise<void> | null = null;
  /** Whether an alarm is set (memory only; the constructor sets one if rows are waiting). */
  #alarmSet = false;
  /** The rows not yet forwarded, as appended (null until read back from storage after a restart). */
  #pending: { seq: number; batch: BufferedBatch }[] | null = [];
  #failures = 0;
  #delivered = 0;

  constructor(ctx: DurableObjectState, env: IngestEnv) {
    super(ctx, env);
    this.#sql = new MeteredSql(ctx.storage.sql);
    this.#sql.exec("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    if (this.#waiting() > 0) {
      this.#pending = null;
      this.#armAlarm(0);
    }
  }

  #waiting(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM log").one().n;
  }

  /** One alarm per busy period, not per batch: setting it is a storage write too. */
  #armAlarm(delayMs: number): void {
    if (this.#alarmSet) return;
    this.#alarmSet = true;
    void this.ctx.storage.setAlarm(Date.now() + delayMs);
  }

  /** Appends one batch; durable when it returns (the output gate holds the answer until it is). */
  append(batch: BufferedBatch): number {
    if (batch.events.length === 0) return 0;
    const seq = this.#sql.exec<{ seq: number }>("INSERT INTO log (body) VALUES (?) RETURNING seq", JSON.stringify(batch)).one().seq;
    this.#pending?.push({ seq, batch });
    this.#kick();
    return seq;
  }

  /** Starts forwarding now, in the background; the alarm is the safety net if this instance dies first. */
  #kick(): void {
    this.#armAlarm(Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** this.#failures));
    this.#forwarding ??= this.#forwardAll()
      .catch((err) => {
        this.#failures++;
        logLine("error", "edge buffer forward failed; retrying", {
          buffer: this.ctx.id.name ?? null,
          failures: this.#failures,
          error: err,
        });
      })
      .finally(() => {
        this.#forwarding = null;
      });
  }

  async #forwardAll(): Promise<void> {
    await new Promise((r) => setTimeout(r, GATHER_MS));
    for (;;) {
      this.#pending ??= this.#sql
        .exec<{ seq: number; body: string }>("SELECT seq, body FROM log ORDER BY seq")
        .toArray()
        .map((r) => ({ seq: r.seq, batch: JSON.parse(r.body) as BufferedBatch }));
      const rows: { seq: number; batch: BufferedBatch }[] = [];
      let events = 0;
      for (const r of this.#pending) {
        if (rows.length === ROWS_PER_FORWARD || (rows.length > 0 && events + r.batch.events.length > RECORD_SLICE)) break;
        rows.push(r);
        events += r.batch.events.length;
      }
      if (rows.length === 0) return;
      // Grouped by campaign, in arrival order; a campaign's route is the one the edge used for its newest event.
      const byCampaign = new Map<string, { route: CampaignRoute; events: ClickEvent[] }>();
      for (const { batch } of rows) {
        for (const e of batch.events) {
          let g = byCampaign.get(e.campaign_id);
          if (!g) byCampaign.set(e.campaign_id, (g = { route: batch.routes[e.campaign_id], events: [] }));
          g.route = batch.routes[e.campaign_id] ?? g.route;
          g.events.push(e);
        }
      }
      await Promise.all(
        [...byCampaign.values()].map(({ route, events }) => recordEvents(this.env.CAMPAIGN, route.shard_plan, events, route.jurisdiction)),
      );
      this.#sql.exec("DELETE FROM log WHERE seq <= ?", rows[rows.length - 1].seq);
      this.#pending.splice(0, rows.length);
      this.#delivered += rows.reduce((n, r) => n + r.batch.events.length, 0);
      this.#failures = 0;
    }
  }

  override async alarm(): Promise<void> {
    this.#alarmSet = false;
    if (this.#waiting() === 0) return;
    this.#kick();
    await this.#forwarding;
    if (this.#waiting() > 0) this.#armAlarm(Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** this.#failures));
  }

  /** Rows waiting, events delivered by this instance, and SQLite rows written/read per statement. */
  stats(): { waiting_rows: number; delivered: number; failures: number; statements: Record<string, StatementCost> } {
    return {
      waiting_rows: this.#waiting(),
      delivered: this.#delivered,
      failures: this.#failures,
      statements: this.#sql.report(),
    };
  }
}
