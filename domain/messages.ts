/**
 * Messages on the events queue (ingest and campaign objects produce them, the aggregator consumes them),
 * and the name of a campaign object: what crosses Workers lives here.
 */
import type { ClickEvent, RecordedEvent } from "./event";
import type { Jurisdiction } from "./jurisdiction";
import type { ShardPlan } from "./sharding";

/** The Durable Object that counts one campaign (or one shard of a hot campaign). */
export function campaignObjectName(campaignId: string, shard: number): string {
  return `${campaignId}#${shard}`;
}

/**
 * Recorded events of one campaign shard, for the archive. `id` is stable (`<campaign>.<shard>-<first seq>`):
 * a re-sent message archives to the same file names. Once its files are in R2 the aggregator tells the
 * object (`archived`), and only then does the object drop the events from its log.
 */
export interface ArchiveMessage {
  v: 1;
  kind: "recorded";
  id: string;
  campaign_id: string;
  shard: number;
  /** Where the campaign's objects and archive live: its files go to that jurisdiction's bucket. */
  jurisdiction: Jurisdiction | null;
  events: RecordedEvent[];
}

/** Events that reached the queue without being counted; the aggregator hands them to their objects. */
export interface PendingMessage {
  v: 1;
  kind: "pending";
  plan: ShardPlan;
  jurisdiction?: Jurisdiction | null;
  events: ClickEvent[];
}

export type EventsMessage = ArchiveMessage | PendingMessage;
