/**
 * The click event: one shape, one set of names, from the edge to the Durable Object, the queue, the
 * Parquet archive, D1 and the API.
 */

/**
 * `over_budget`: a click that would have been billed (clean or suspicious) on a UTC day whose billed cost had
 * already reached the campaign's daily budget (domain/rules.ts, rule 5): the person is redirected, the click
 * is neither billed nor fraud.
 */
export type Verdict = "clean" | "suspicious" | "invalid" | "duplicate" | "over_budget";

/** CONTRACT reason codes for `invalid`, in the order they are checked; `rate_limited` is edgeclick's addition. */
export const INVALID_REASONS = [
  "blocklisted_ip",
  "blocklisted_ua",
  "bot_ua",
  "ip_burst_second",
  "ip_rate_minute",
  "bad_signature",
  "rate_limited",
] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

export const SUSPICIOUS_REASONS = ["geo_mismatch"] as const;
export type SuspiciousReason = (typeof SUSPICIOUS_REASONS)[number];

/** Why a duplicate is one: the same event_id, or the same (ad_id, user_id, UTC minute). */
export const DUPLICATE_REASONS = ["event_id", "user_minute"] as const;
export type DuplicateReason = (typeof DUPLICATE_REASONS)[number];

export type Reason = InvalidReason | SuspiciousReason | DuplicateReason;

/**
 * Reasons for `invalid` that only batch fraud review gives (r2-batch/fraud.ts), after the fact. They live in
 * billing overlays (r2-batch/recalculate.ts) and findings, never in real time: the campaign object's cells store
 * invalid clicks by position of INVALID_REASONS, so these stay out of it (and out of metrics and their CSV columns).
 */
export const BATCH_REASONS = ["batch_click_farm", "batch_publisher_spike"] as const;
export type BatchReason = (typeof BATCH_REASONS)[number];

/** A reason a billed verdict may carry: the counting rules' or batch review's. */
export type BillingReason = Reason | BatchReason;

/** A click as the edge accepted it, before the campaign's counting rules ran. */
export interface ClickEvent {
  /** The click's id: generated at the edge for `/click`, the publisher's own for `POST /v1/events`. */
  event_id: string;
  /** Receipt id: unique per accepted request item. A replay of the same receipt is recognised, not re-counted. */
  uid: string;
  /** Event time, epoch ms. For `/click` it is the receive time. */
  timestamp: number;
  received_at: number;
  source: "click" | "api";
  advertiser_id: string;
  campaign_id: string;
  ad_id: string;
  publisher_id: string | null;
  user_id: string | null;
  /** Keyed hash of the client IP; the raw IP never leaves the edge. */
  ip_hash: string;
  user_agent: string | null;
  referer: string | null;
  device_type: string;
  os: string;
  browser: string;
  /** Country used for breakdowns and billing: the posted one if any, else the edge's. `XX` when unknown. */
  country: string;
  /** Country the edge saw for the connection. */
  edge_country: string;
  city: string | null;
  asn: number | null;
  colo: string | null;
  cost_per_click: number;
  /**
   * The campaign's daily budget in currency units as the edge saw it (registry cache), null or absent: none.
   * What rule 5 compares the day's billed cost with; not archived (the verdict is).
   */
  daily_budget?: number | null;
  ad_format: string | null;
  /** The ad's group (domain/registry.ts), as it was when the click came in. */
  ad_group_id: string | null;
  /** The A/B variant the click was sent to (the ad's choice, domain/variants.ts), or the link's label. */
  variant: string | null;
  x: number | null;
  y: number | null;
  /** The creative's size in pixels, which x and y are within (domain/heatmap.ts). */
  w: number | null;
  h: number | null;
  /** `invalid` when a signed link's signature did not match its ad and publisher. */
  signature: "valid" | "invalid" | "none";
  /**
   * The click id added to the landing page (`/click` only; domain/click-id.ts): what a conversion names.
   * Null for posted events and when no signing key is configured.
   */
  click_id: string | null;
  /** The edge's per-IP rate limit was exceeded for this request. */
  rate_limited: boolean;
}

/** The outcome of the counting rules for one event. */
export interface Outcome {
  verdict: Verdict;
  reason: Reason | null;
  /** Older than the allowed lateness when received: archived and billed, kept out of real-time buckets. */
  late: boolean;
}

/** An event with its outcome, as it is archived. `seq` orders events within their shard. */
export interface RecordedEvent extends ClickEvent, Outcome {
  shard: number;
  seq: number;
}

/** Clean and suspicious events are clicks: billed and counted. */
export function isClick(verdict: Verdict): boolean {
  return verdict === "clean" || verdict === "suspicious";
}

/** Money is handled in millionths so sums are exact; the API shows currency units. */
export function toMicros(amount: number): number {
  return Math.round(amount * 1_000_000);
}

export function fromMicros(micros: number): number {
  return Math.round(micros) / 1_000_000;
}
