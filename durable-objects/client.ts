/**
 * How Workers reach the campaign objects: which object counts an event, and recording a batch, with the
 * queue as the durable fallback when an object cannot be reached.
 */
import { logLine } from "../domain/log";
import type { ClickEvent, Outcome } from "../domain/event";
import { campaignObjectName, type PendingMessage } from "../domain/messages";
import type { Dedup } from "../domain/rules";
import { countShard, dedupShard, shardsAt, type ShardPlan } from "../domain/sharding";
import { bufferName, bufferSlots, isolateKey } from "../domain/buffer";
import { spoolKey } from "../domain/archive-layout";
import { archiveFor, stubIn, type CampaignRoute, type Jurisdiction } from "../domain/jurisdiction";
import { batcherFor } from "./batcher";
import type { EdgeBuffer } from "./buffer";
import type { CampaignCounter } from "./campaign";

export type CampaignNamespace = DurableObjectNamespace<CampaignCounter>;
/** The binding as each Worker's generated Env types it (typed where the class is local, plain across scripts). */
export type CampaignBinding = CampaignNamespace | DurableObjectNamespace;

export function campaignStub(
  ns: CampaignBinding,
  campaignId: string,
  shard: number,
  jurisdiction: Jurisdiction | null = null,
): DurableObjectStub<CampaignCounter> {
  return stubIn(ns as CampaignNamespace, jurisdiction, campaignObjectName(campaignId, shard));
}

/** Events per call to a campaign object: one call is one log row, which holds at most EVENTS_PER_ROW (campaign/log.ts). */
export const RECORD_SLICE = 5_000;

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
export async function recordEvents(
  ns: CampaignBinding,
  plan: ShardPlan,
  events: ClickEvent[],
  jurisdiction: Jurisdiction | null = null,
): Promise<Outcome[]> {
  // One call is one log row on the object: a larger batch goes in slices, in order.
  if (events.length > RECORD_SLICE) {
    const out: Outcome[] = [];
    for (let i = 0; i < events.length; i += RECORD_SLICE)
      out.push(...(await recordEvents(ns, plan, events.slice(i, i + RECORD_SLICE), jurisdiction)));
    return out;
  }
  const out = new Array<Outcome>(events.length);
  if (events.length === 0) return out;
  const campaignId = events[0].campaign_id;
  const stub = (shard: number) => campaignStub(ns, campaignId, shard, jurisdiction);
  const byShards = groupBy(
    events.map((_, i) => i),
    (i) => shardsAt(plan, events[i].timestamp),
  );

  await Promise.all(
    [...byShards].map(async ([n, idx]) => {
      if (n === 1) {
        const res = await stub(0).record(
          0,
          idx.map((i) => events[i]),
        );
        idx.forEach((i, k) => {
          out[i] = res[k];
        });
        return;
      }
      // The dedup shards log the events with their dedup answers (durable from here: should anything die
      // before the counting step, they forward the events themselves), then the counting shards count
      // them in this batch's order.
      const dedups = new Map<number, Dedup>();
      await Promise.all(
        [...groupBy(idx, (i) => dedupShard(events[i], n))].map(async ([d, list]) => {
          const res = await stub(d).admit(
            d,
            list.map((i) => ({ event: events[i], shards: n })),
          );
          list.forEach((i, k) => {
            dedups.set(i, res[k]);
          });
        }),
      );
      await Promise.all(
        [...groupBy(idx, (i) => countShard(events[i], n))].map(async ([c, list]) => {
          const res = await stub(c).count(
            c,
            list.map((i) => ({ event: events[i], dedup: dedups.get(i)!, shards: n })),
          );
          list.forEach((i, k) => {
            out[i] = res[k];
          });
        }),
      );
    }),
  );
  return out;
}

/** Queue messages are limited to 128 KB. */
const PENDING_MESSAGE_BYTES = 100_000;
const utf8 = new TextEncoder();

function chunkBySize<T>(items: T[], maxBytes: number): T[][] {
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

/** What recording needs: the edge buffers, the campaign objects, the queue, and R2 for the last-resort spool. */
export interface RecordEnv {
  BUFFER: DurableObjectNamespace<EdgeBuffer>;
  CAMPAIGN: CampaignBinding;
  EVENTS: Queue;
  ARCHIVE: R2Bucket;
  ARCHIVE_EU: R2Bucket;
  EDGE_BUFFER_SLOTS?: string;
}

/**
 * Appends events (of any campaigns of one jurisdiction) to the edge buffer `name`, durably, in one row;
 * the buffer forwards them to their campaign objects. `routes` routes each campaign.
 */
export async function bufferEvents(
  env: RecordEnv,
  name: string,
  events: ClickEvent[],
  routes: Record<string, CampaignRoute>,
  jurisdiction: Jurisdiction | null,
): Promise<void> {
  await stubIn(env.BUFFER, jurisdiction, name).append({ events, routes });
}

/**
 * Records one click in the nearby edge buffer, batched with the other clicks in flight for that buffer
 * in this isolate (batcher.ts): the redirect never waits for the campaign object, wherever it lives.
 * Falls back like recordDurably when the buffer cannot be reached.
 */
export async function recordClickDurably(env: RecordEnv, route: CampaignRoute, event: ClickEvent): Promise<void> {
  const name = bufferName(event.colo, isolateKey(), bufferSlots(env));
  const key = `buffer:${route.jurisdiction ?? ""}:${name}`;
  try {
    await batcherFor<{ event: ClickEvent; route: CampaignRoute }, number>(key).submit({ event, route }, async (items) => {
      const routes: Record<string, CampaignRoute> = {};
      for (const i of items) routes[i.event.campaign_id] = { shard_plan: i.route.shard_plan, jurisdiction: i.route.jurisdiction };
      await bufferEvents(
        env,
        name,
        items.map((i) => i.event),
        routes,
        route.jurisdiction,
      );
      return items.map(() => 0);
    });
  } catch (err) {
    await recordDurably(env, route, [event], err);
  }
}

/**
 * Records events of one campaign, durably, by the first path that is up (the fallback when the edge
 * buffer cannot be reached):
 *   1. the campaign objects (counted now; the result is every event's outcome);
 *   2. the queue (the aggregator hands them to the objects seconds later; the result is null);
 *   3. an R2 spool object (the billing cron hands them to the objects; the result is null).
 * Throws only when none of the three took the events. Every later delivery is safe to repeat:
 * objects recognise receipts they already recorded.
 */
export async function recordDurably(
  env: RecordEnv,
  route: CampaignRoute,
  events: ClickEvent[],
  failure?: unknown,
): Promise<Outcome[] | null> {
  const plan = route.shard_plan;
  const jurisdiction = route.jurisdiction;
  try {
    if (failure) throw failure;
    return await recordEvents(env.CAMPAIGN, plan, events, jurisdiction);
  } catch (err) {
    logLine("warn", "campaign objects unavailable; queueing events for later counting", {
      campaign_id: events[0]?.campaign_id,
      events: events.length,
      error: err,
    });
  }
  const body = (chunk: ClickEvent[]): PendingMessage => ({ v: 1, kind: "pending", plan, jurisdiction, events: chunk });
  try {
    for (const chunk of chunkBySize(events, PENDING_MESSAGE_BYTES)) await env.EVENTS.send(body(chunk), { contentType: "json" });
    return null;
  } catch (err) {
    logLine("warn", "queue unavailable too; spooling events to R2", {
      campaign_id: events[0]?.campaign_id,
      events: events.length,
      error: err,
    });
  }
  await archiveFor(env, jurisdiction).put(spoolKey(events[0].received_at, events[0].uid), JSON.stringify(body(events)), {
    httpMetadata: { contentType: "application/json" },
  });
  return null;
}
