/**
 * Real-time cells: what a campaign object counts per bucket, how a reader asks for it, and the partial
 * answer one shard gives (merged across shards in domain/metrics.ts). Shared by the objects and the query
 * Worker, so it lives here.
 */
import type { CellReason, ConversionCounts, Counts } from "./counters";
import type { Filter, Grouping } from "./schemas";
import type { Granularity } from "./time";

/** The dimensions of a cell, in key order; `filter` and `group_by` name these. */
export const CELL_DIMENSIONS = ["ad_id", "country", "device_type", "os", "publisher_id", "ad_format", "variant", "ad_group_id"] as const;
export type CellDimension = (typeof CELL_DIMENSIONS)[number];

/** A question to a shard's cells. Buckets are those whose start lies in [from, to). */
export interface CellQuery {
  granularity: Granularity;
  from: number;
  to: number;
  /** Only these ads (default: all of the campaign's). */
  ad_ids?: string[];
  filter?: Filter;
  group_by?: Grouping | CellDimension;
  /** Include HyperLogLog registers so buckets can be merged across shards and estimated. */
  sketches?: boolean;
}

/** Partial aggregates of one bucket (and group): mergeable across shards. Late events are not in the counters. */
export interface CellPartial extends Counts, ConversionCounts {
  ts: number;
  group: string | null;
  reasons: Partial<Record<CellReason, number>>;
  late_events: number;
  /** Clicks among the late events: billed, not in real time. */
  late_clicks: number;
  /** Packed HyperLogLog registers (domain/hll.ts). */
  users?: Uint8Array;
}
