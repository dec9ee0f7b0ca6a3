/**
 * How Workers reach the campaign objects: which object counts an event, and recording a batch with the
 * queue as the durable fallback when an object cannot be reached.
 */
import type { ClickEvent, Outcome } from "../domain/event";
import type { CampaignCounter } from "./campaign";
import { campaignObjectName } from "./campaign";

export type CampaignNamespace = DurableObjectNamespace<CampaignCounter>;
/** The binding as each Worker's generated Env types it (typed where the class is local, plain across scripts). */
export type CampaignBinding = CampaignNamespace | DurableObjectNamespace;

export function campaignStub(ns: CampaignBinding, campaignId: string, shard: number): DurableObjectStub<CampaignCounter> {
  const typed = ns as CampaignNamespace;
  return typed.get(typed.idFromName(campaignObjectName(campaignId, shard)));
}

/** Which shard of its campaign counts an event. Until sharding lands every campaign has one object. */
export function shardOf(_event: ClickEvent, _shards: number): number {
  return 0;
}

/** Events that reached the queue without being counted; the aggregator hands them to their objects. */
export interface PendingMessage {
  v: 1;
  kind: "pending";
  shard: number;
  events: ClickEvent[];
}

/**
 * Records events of one campaign shard. If the object cannot be reached, the events go to the queue
 * instead (durable there) and are counted when the aggregator delivers them: the result is then null.
 * Throws only when neither path took the events.
 */
export async function recordDurably(
  env: { CAMPAIGN: CampaignBinding; EVENTS: Queue },
  shard: number,
  events: ClickEvent[],
): Promise<Outcome[] | null> {
  try {
    return await campaignStub(env.CAMPAIGN, events[0].campaign_id, shard).record(shard, events);
  } catch (err) {
    console.error("campaign object unavailable; queueing events for later counting", err instanceof Error ? err.message : err);
    for (const chunk of chunkBySize(events, PENDING_MESSAGE_BYTES)) {
      const body: PendingMessage = { v: 1, kind: "pending", shard, events: chunk };
      await env.EVENTS.send(body, { contentType: "json" });
    }
    return null;
  }
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
