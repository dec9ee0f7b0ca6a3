/**
 * How Workers reach the campaign objects: which object counts an event, and recording a batch, with the
 * queue as the durable fallback when an object cannot be reached.
 */
import type { ClickEvent, Outcome } from "../domain/event";
import type { Dedup } from "../domain/rules";
import { countShard, dedupShard, shardsAt, type ShardPlan } from "../domain/sharding";
import { batcherFor } from "./batcher";
import type { CampaignCounter } from "./campaign";
import { campaignObjectName } from "./campaign";

export type CampaignNamespace = DurableObjectNamespace<CampaignCounter>;
/** The binding as each Worker's generated Env types it (typed where the class is local, plain across scripts). */
export type CampaignBinding = CampaignNamespace | DurableObjectNamespace;

export function campaignStub(ns: CampaignBinding, campaignId: string, shard: number): DurableObjectStub<CampaignCounter> {
  const typed = ns as CampaignNamespace;
  return typed.get(typed.idFromName(campaignObjectName(campaignId, shard)));
}

/** Groups indexes by key, keeping their order. */
function groupBy(indexes: number[], key: (i: number) => number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const i of indexes) {
    const k = key(i);
    const list = out.get(k);
    if (list) list.push(i);
    else out.set(k, [i]);
  }
  return out;
}

/**
 * Records events of one campaign, in order, on the objects its shard plan names (domain/sharding.ts).
 * Returns every event's outcome once all of them are durable; throws if any object failed (retrying
 * the whole batch is safe: objects recognise receipts they already recorded).
 */
export async function recordEvents(ns: CampaignBinding, plan: ShardPlan, events: ClickEvent[]): Promise<Outcome[]> {
  const out = new Array<Outcome>(events.length);
  if (events.length === 0) return out;
  const campaignId = events[0].campaign_id;
  const stub = (shard: number) => campaignStub(ns, campaignId, shard);
  const byShards = groupBy(events.map((_, i) => i), (i) => shardsAt(plan, events[i].timestamp));

  await Promise.all(
    [...byShards].map(async ([n, idx]) => {
      if (n === 1) {
        const res = await stub(0).record(0, idx.map((i) => events[i]));
        idx.forEach((i, k) => (out[i] = res[k]));
        return;
      }
      const dedups = new Map<number, Dedup>();
      await Promise.all(
        [...groupBy(idx, (i) => dedupShard(events[i], n))].map(async ([d, list]) => {
          const res = await stub(d).dedupe(d, list.map((i) => events[i]));
          list.forEach((i, k) => dedups.set(i, res[k]));
        }),
      );
      await Promise.all(
        [...groupBy(idx, (i) => countShard(events[i], n))].map(async ([c, list]) => {
          const res = await stub(c).count(c, list.map((i) => ({ event: events[i], dedup: dedups.get(i)! })));
          list.forEach((i, k) => (out[i] = res[k]));
        }),
      );
    }),
  );
  return out;
}

/** Events that reached the queue without being counted; the aggregator hands them to their objects. */
export interface PendingMessage {
  v: 1;
  kind: "pending";
  plan: ShardPlan;
  events: ClickEvent[];
}

/** Queue messages are limited to 128 KB. */
const PENDING_MESSAGE_BYTES = 100_000;
const utf8 = new TextEncoder();

export function chunkBySize<T>(items: T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const n = utf8.encode(JSON.stringify(item)).length + 1;
    if (current.length && size + n > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += n;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/**
 * Records one click, batched with the campaign's other clicks in flight in this isolate (batcher.ts).
 * Falls back to the queue like recordDurably.
 */
export async function recordClickDurably(
  env: { CAMPAIGN: CampaignBinding; EVENTS: Queue },
  plan: ShardPlan,
  event: ClickEvent,
): Promise<Outcome | null> {
  try {
    return await batcherFor(event.campaign_id).submit(event, (events) => recordEvents(env.CAMPAIGN, plan, events));
  } catch (err) {
    return (await recordDurably(env, plan, [event], err))?.[0] ?? null;
  }
}

/**
 * Records events of one campaign. If its objects cannot be reached, the events go to the queue
 * instead (durable there) and are counted when the aggregator delivers them: the result is then null.
 * Throws only when neither path took the events.
 */
export async function recordDurably(
  env: { CAMPAIGN: CampaignBinding; EVENTS: Queue },
  plan: ShardPlan,
  events: ClickEvent[],
  failure?: unknown,
): Promise<Outcome[] | null> {
  try {
    if (failure) throw failure;
    return await recordEvents(env.CAMPAIGN, plan, events);
  } catch (err) {
    console.error("campaign object unavailable; queueing events for later counting", err instanceof Error ? err.message : err);
    for (const chunk of chunkBySize(events, PENDING_MESSAGE_BYTES)) {
      const body: PendingMessage = { v: 1, kind: "pending", plan, events: chunk };
      await env.EVENTS.send(body, { contentType: "json" });
    }
    return null;
  }
}
