/**
 * Hot campaigns shard themselves: an object that absorbs more than the threshold of events per second
 * asks for twice the shards, from the next safe minute on (domain/sharding.ts). The change is a
 * compare-and-set on the campaign's plan in D1, so objects deciding at once cannot undo each other.
 */
import { MAX_SHARDS, RESHARD_LEAD_MS, parsePlan, shardsAt, withShards, type ShardPlan } from "../domain/sharding";
import { MINUTE } from "../domain/time";

/** Default when AUTO_SHARD_EVENTS_PER_SECOND is unset (wrangler.toml sets it; see there why). */
const DEFAULT_AUTO_SHARD_EVENTS_PER_SECOND = 2_000;

export function autoShardThreshold(env: { AUTO_SHARD_EVENTS_PER_SECOND?: string }): number {
  const n = Number(env.AUTO_SHARD_EVENTS_PER_SECOND);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_AUTO_SHARD_EVENTS_PER_SECOND;
}

/** Shards the campaign should have given one object's load, or null to leave it. */
export function wantedShards(plan: ShardPlan, now: number, eventsPerSecond: number, threshold: number): number | null {
  if (eventsPerSecond <= threshold) return null;
  const upcoming = shardsAt(plan, now + RESHARD_LEAD_MS + MINUTE);
  return upcoming >= MAX_SHARDS ? null : Math.min(MAX_SHARDS, upcoming * 2);
}

/** Doubles the campaign's shards if `eventsPerSecond` is over the threshold. Returns the new plan, if any. */
export async function reshardIfHot(
  db: D1Database,
  campaignId: string,
  eventsPerSecond: number,
  threshold: number,
  now = Date.now(),
): Promise<ShardPlan | null> {
  const row = await db
    .prepare("SELECT shards, shard_plan FROM campaigns WHERE campaign_id = ?")
    .bind(campaignId)
    .first<{ shards: number; shard_plan: string | null }>();
  if (!row) return null;
  const plan = parsePlan(row.shard_plan, row.shards);
  const target = wantedShards(plan, now, eventsPerSecond, threshold);
  if (target === null) return null;
  const next = withShards(plan, target, now);
  const res = await db
    .prepare("UPDATE campaigns SET shard_plan = ? WHERE campaign_id = ? AND shard_plan IS ?")
    .bind(JSON.stringify(next), campaignId, row.shard_plan)
    .run();
  return res.meta.changes === 1 ? next : null;
}
