/**
 * Hot campaigns run on several Durable Object shards without losing exactness.
 *
 * The counting rules need two kinds of state: dedup keys (event_id; ad + user + minute) and per-IP
 * counters. On a sharded campaign each event takes two steps: `dedupe` on the shard chosen by
 * ad + user (by event_id when there is no user), so every possible duplicate meets the earlier event
 * there, then `count` on the shard chosen by IP, so an IP's counters are all in one place. The second
 * step sees each shard's events in arrival order, which is what the per-IP limits depend on.
 *
 * The number of shards is a plan over time: [[from, shards], …]. A change takes effect at a minute
 * boundary further ahead than any edge may cache the plan and any event may be dated in the future,
 * and routing uses the event's own time, so every UTC minute is counted under exactly one plan: a
 * resent event, a double click or an IP's burst always lands where its predecessors are.
 */
import type { ClickEvent } from "./event";
import { murmur32 } from "./hash";
import { REGISTRY_TTL_MS } from "./limits";
import { MAX_EVENT_SKEW_MS, MINUTE } from "./time";

export type ShardPlan = readonly (readonly [from: number, shards: number])[];

export const MAX_SHARDS = 16;
/** Past the edge's registry cache and the furthest an event may be dated ahead, with a minute of margin. */
export const RESHARD_LEAD_MS = MAX_EVENT_SKEW_MS + REGISTRY_TTL_MS + MINUTE;

export function singlePlan(shards = 1): ShardPlan {
  return [[0, Math.min(MAX_SHARDS, Math.max(1, Math.floor(shards)))]];
}

export function parsePlan(json: string | null | undefined, shards = 1): ShardPlan {
  if (json) {
    try {
      const plan = JSON.parse(json) as unknown;
      if (
        Array.isArray(plan) &&
        plan.length &&
        plan.every((p) => Array.isArray(p) && Number.isSafeInteger(p[0]) && Number.isSafeInteger(p[1]) && p[1] >= 1)
      ) {
        return (plan as [number, number][]).slice().sort((a, b) => a[0] - b[0]);
      }
    } catch {
      // fall through to the column value
    }
  }
  return singlePlan(shards);
}

/** Shards counting events dated `t`. */
export function shardsAt(plan: ShardPlan, t: number): number {
  let n = plan[0]?.[1] ?? 1;
  for (const [from, shards] of plan) if (from <= t) n = shards;
  return n;
}

/** Every shard that ever counted: queries merge all of them. */
export function maxShards(plan: ShardPlan): number {
  return plan.reduce((m, [, n]) => Math.max(m, n), 1);
}

/** The plan with `shards` from the first minute boundary at least RESHARD_LEAD_MS ahead. */
export function withShards(plan: ShardPlan, shards: number, now: number): ShardPlan {
  const n = Math.min(MAX_SHARDS, Math.max(1, Math.floor(shards)));
  const from = Math.ceil((now + RESHARD_LEAD_MS) / MINUTE) * MINUTE;
  if (shardsAt(plan, from) === n) return plan;
  return [...plan.filter(([f]) => f < from), [from, n]];
}

export function dedupShard(e: Pick<ClickEvent, "ad_id" | "user_id" | "event_id">, shards: number): number {
  if (shards <= 1) return 0;
  return murmur32(e.user_id ? `u|${e.ad_id}|${e.user_id}` : `e|${e.event_id}`) % shards;
}

export function countShard(e: Pick<ClickEvent, "ip_hash">, shards: number): number {
  if (shards <= 1) return 0;
  return murmur32(`ip|${e.ip_hash}`) % shards;
}
