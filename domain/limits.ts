/** Limits of the public API, shared by the Workers that enforce them and the OpenAPI document. */

/** CONTRACT: at most 1,000 events and 1 MiB per `POST /v1/events`. */
export const MAX_EVENTS = 1000;
export const MAX_BODY_BYTES = 1 << 20;

/** An edge isolate keeps a registry entry (ad, campaign, shard plan) this long: a change is seen by every click within it. */
export const REGISTRY_TTL_MS = 30_000;

/**
 * How long an isolate trusts what it looked up about an API key: a revoked key is refused everywhere at
 * most this long after `DELETE /v1/keys/{key_id}` answers (at once in the isolate that revoked it), and a
 * publisher's new limits apply within it. Short, because a miss costs one D1 read, never a write.
 */
export const PRINCIPAL_TTL_MS = 15_000;
/** "Last used" is written at most once per key per this long per isolate: a request costs no D1 write. */
export const LAST_USED_WRITE_MS = 5 * 60_000;

/** CONTRACT: `GET /v1/ads/popular` looks back 1 ≤ M ≤ 1440 minutes for the top 1 ≤ N ≤ 100 ads. */
export const MAX_POPULAR_WINDOW_MINUTES = 1440;
export const MAX_POPULAR_ADS = 100;

/** The longest city and Referer an event keeps, from the edge's headers or as posted. */
export const CITY_MAX = 128;
export const REFERER_MAX = 2048;

/** The period of the edge rate limit of `/click` per IP, in seconds (wrangler.toml `[[ratelimits]] simple.period`). */
export const LIMIT_PERIOD_S = 60;

/** What one publisher key may post; each is a setting of the publisher (admin API), these are the defaults. */
export interface PublisherLimits {
  requests_per_minute: number;
  events_per_second: number;
}
/** 600 requests a minute and, at 500-event batches, 5,000 events a second: the limits before they were settings. */
export const DEFAULT_PUBLISHER_LIMITS: PublisherLimits = { requests_per_minute: 600, events_per_second: 5_000 };

/** What one advertiser key may post to `POST /v1/conversions`; settings of the advertiser, these are the defaults. */
export interface AdvertiserLimits {
  requests_per_minute: number;
  conversions_per_second: number;
}
/** The publishers' defaults: conversions are fewer than clicks, so these hold back only a runaway client. */
export const DEFAULT_ADVERTISER_LIMITS: AdvertiserLimits = { requests_per_minute: 600, conversions_per_second: 5_000 };

/**
 * What a key gate (durable-objects/key-gate.ts) enforces for any account's key: requests a minute, and items
 * (events or conversions) a second.
 */
export interface KeyLimits {
  requests_per_minute: number;
  items_per_second: number;
}
/** The items bucket holds this many seconds of a key's rate, and never less than one full batch. */
export const EVENT_BURST_S = 10;

/**
 * A token bucket: `tokens` refill at `rate` a second up to `capacity`. Pure, so the gate object and the
 * tests share one rule.
 */
export interface Bucket {
  tokens: number;
  at: number;
}

export function refill(b: Bucket, rate: number, capacity: number, now: number): Bucket {
  return { tokens: Math.min(capacity, b.tokens + (Math.max(0, now - b.at) / 1000) * rate), at: now };
}

/** Takes `n` tokens, or says how many ms until there will be enough (a request larger than capacity waits for a full bucket). */
export function take(b: Bucket, n: number, rate: number, capacity: number, now: number): { bucket: Bucket; wait_ms: number } {
  const full = refill(b, rate, capacity, now);
  const need = Math.min(n, capacity);
  if (full.tokens >= need) return { bucket: { ...full, tokens: full.tokens - n }, wait_ms: 0 };
  return { bucket: full, wait_ms: Math.ceil(((need - full.tokens) / rate) * 1000) };
}

export function itemCapacity(limits: KeyLimits): number {
  return Math.max(limits.items_per_second * EVENT_BURST_S, MAX_EVENTS);
}

/**
 * The longest attribution window a campaign may set: conversions are counted in their click's minute,
 * hour and day cells, and hour cells are kept 90 days (durable-objects/campaign.ts, HORIZONS).
 */
export const MAX_ATTRIBUTION_WINDOW_DAYS = 90;

/** A click id longer than this is not one of ours (domain/click-id.ts), and is not worth a MAC. */
export const CLICK_ID_MAX = 512;
