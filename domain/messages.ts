/**
 * Messages on the events queue (ingest and campaign objects produce them, the aggregator consumes them),
 * and the name of a campaign object: what crosses Workers lives here.
 */
import type { ClickEvent, RecordedEvent } from "./event";
import { zstdCompressSync, zstdDecompressSync } from "node:zlib";
import type { Jurisdiction } from "./jurisdiction";
import type { ShardPlan } from "./sharding";

/** The Durable Object that counts one campaign (or one shard of a hot campaign). */
export function campaignObjectName(campaignId: string, shard: number): string {
  return `${campaignId}#${shard}`;
}

/**
 * Recorded events of one campaign shard, for the archive. `id` is stable (`<campaign>.<shard>-<first seq>`):
 * a re-sent message archives to the same file names. Once its files are in R2 the aggregator tells the
 * object (`archived`), and only then does the object drop the events from its log. The events travel
 * as zstd-compressed JSON (`packed`, sent with content type v8): a message carries ~120 KB of events in
 * well under the 64 KB Queues bills by.
 */
export interface ArchiveMessage {
  v: 2;
  kind: "recorded";
  id: string;
  campaign_id: string;
  shard: number;
  /** Where the campaign's objects and archive live: its files go to that jurisdiction's bucket. */
  jurisdiction: Jurisdiction | null;
  packed: Uint8Array;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function packEvents(events: RecordedEvent[]): Uint8Array {
  return new Uint8Array(zstdCompressSync(utf8.encode(JSON.stringify(events))));
}

export function unpackEvents(message: Pick<ArchiveMessage, "packed">): RecordedEvent[] {
  return JSON.parse(fromUtf8.decode(zstdDecompressSync(message.packed))) as RecordedEvent[];
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

/** Where the events queue puts a message that failed every retry (the aggregator drains it too). */
export const DEAD_LETTER_QUEUE = "edgeclick-events-dlq";
