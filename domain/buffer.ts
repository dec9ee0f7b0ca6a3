/**
 * Edge buffers (durable-objects/buffer.ts): which buffer object takes an event, and what a buffered batch
 * carries so the buffer can forward it to its campaign objects on its own.
 */
import type { ClickEvent } from "./event";
import { murmur32 } from "./hash";
import type { CampaignRoute } from "./jurisdiction";

/** Buffer objects per Cloudflare location by default: a busy location is spread over this many. */
const BUFFER_SLOTS = 4;

/**
 * Slots per location for this deployment: `EDGE_BUFFER_SLOTS` (1–64) where a location takes more clicks
 * than 4 buffers handle (docs/SCALE.md), else BUFFER_SLOTS. Every Worker that names buffers reads the same
 * setting, so raising it only spreads new batches wider; lowering it strands nothing (buffers drain on their own).
 */
export function bufferSlots(env: { EDGE_BUFFER_SLOTS?: string }): number {
  const n = Number(env.EDGE_BUFFER_SLOTS);
  return Number.isInteger(n) && n >= 1 && n <= 64 ? n : BUFFER_SLOTS;
}

/** A batch as a buffer logs it: the events, and for each campaign the route the edge used (plan, jurisdiction). */
export interface BufferedBatch {
  events: ClickEvent[];
  routes: Record<string, CampaignRoute>;
}

/**
 * The buffer for events received at `colo` (`request.cf.colo`; "local" when unknown): one of
 * BUFFER_SLOTS, chosen by `key`. Clicks use the isolate's own slot, so all the clicks one isolate has in
 * flight share one batch (isolates of a busy location spread over the slots); posted batches use their
 * publisher, so a publisher's batches keep their order.
 */
export function bufferName(colo: string | null, key: string, slots = BUFFER_SLOTS): string {
  return `${colo ?? "local"}:${murmur32(key) % slots}`;
}

let isolate: string | null = null;

/** This isolate's slot key for clicks: random per isolate, fixed for its life (made on first use: no randomness at global scope). */
export function isolateKey(): string {
  isolate ??= crypto.randomUUID();
  return isolate;
}
