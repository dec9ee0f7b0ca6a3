import { DurableObject } from "cloudflare:workers";
import { MAX_POPULAR_WINDOW_MINUTES } from "../domain/limits";
import { insertRows } from "../domain/sql";
import { MINUTE, floorTo } from "../domain/time";
import { MeteredSql, type StatementCost } from "./meter";

/** Windows of `GET /v1/ads/popular` go back at most this far (and into the minute they start in). */
const KEEP_MS = (MAX_POPULAR_WINDOW_MINUTES + 1) * MINUTE;

export interface MinuteClicks {
  ts: number;
  ad_id: string;
  clicks: number;
}

export interface PopularAd {
  ad_id: string;
  campaign_id: string;
  count: number;
}

export const GLOBAL_LEADERBOARD = "global";
export const advertiserLeaderboard = (advertiserId: string) => `adv:${advertiserId}`;

/**
 * Top ads by clicks over the last minutes, for one advertiser or for everyone ("global"). It is the
 * reduce step of a map-reduce: every campaign shard pushes its own per-ad click counts per minute
 * (absolute values, so a repeated push changes nothing), and the top N is a sum over those rows. No
 * query ever scans the campaigns.
 */
export class Leaderboard extends DurableObject<IngestEnv> {
  readonly #sql: MeteredSql;

  constructor(ctx: DurableObjectState, env: IngestEnv) {
    super(ctx, env);
    this.#sql = new MeteredSql(ctx.storage.sql);
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS minute_clicks (
      ts INTEGER NOT NULL, ad_id TEXT NOT NULL, source TEXT NOT NULL, campaign_id TEXT NOT NULL, clicks INTEGER NOT NULL,
      PRIMARY KEY (ts, ad_id, source)) WITHOUT ROWID`);
  }

  /** The latest per-minute click counts of one campaign shard (`source`). */
  async update(source: string, campaignId: string, rows: MinuteClicks[]): Promise<void> {
    const cutoff = Date.now() - KEEP_MS;
    const values = rows.filter((r) => r.ts >= cutoff).map((r) => [r.ts, r.ad_id, source, campaignId, r.clicks]);
    const columns = ["ts", "ad_id", "source", "campaign_id", "clicks"];
    for (const s of insertRows("minute_clicks", columns, values, "ON CONFLICT DO UPDATE SET clicks = excluded.clicks")) {
      this.#sql.exec(s.sql, ...s.params);
    }
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 10 * MINUTE);
  }

  /** The `n` ads with most clicks in minute buckets from `now − minutes` on (ties by ad id). */
  top(minutes: number, n: number, now = Date.now()): PopularAd[] {
    return this.#sql
      .exec<{ ad_id: string; campaign_id: string; count: number }>(
        `SELECT ad_id, MIN(campaign_id) AS campaign_id, SUM(clicks) AS count FROM minute_clicks WHERE ts >= ?
         GROUP BY ad_id HAVING count > 0 ORDER BY count DESC, ad_id LIMIT ?`,
        floorTo(now - minutes * MINUTE, MINUTE),
        n,
      )
      .toArray();
  }

  /** SQLite rows written and read per kind of statement since this object started. */
  storage(): { statements: Record<string, StatementCost>; rows: Record<string, number> } {
    return { statements: this.#sql.report(), rows: this.#sql.tableRows(["minute_clicks"]) };
  }

  override async alarm(): Promise<void> {
    const sql = this.#sql;
    sql.exec("DELETE FROM minute_clicks WHERE ts < ?", Date.now() - KEEP_MS);
    if (sql.exec("SELECT 1 FROM minute_clicks LIMIT 1").toArray().length) await this.ctx.storage.setAlarm(Date.now() + 10 * MINUTE);
  }
}
