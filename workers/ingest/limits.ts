/**
 * Edge rate limits (Workers Rate Limiting bindings, configured in wrangler.toml `[[ratelimits]]`):
 *   CLICK_LIMITER   anonymous `GET /click`, per client IP (keyed by its hash, never the raw IP)
 *   EVENTS_LIMITER  `POST /v1/events`, per publisher
 * The binding counts per Cloudflare location and is eventually consistent: a shield against floods, not
 * an exact meter. The counting rules (`ip_burst_second`, `ip_rate_minute`) stay the exact judge of what
 * gets billed.
 */
import { ApiError } from "../../domain/errors";

/** The period both limiters are configured with, in seconds (wrangler.toml `simple.period`). */
export const LIMIT_PERIOD_S = 60;

/**
 * Whether `key` is within its limit. Fails open: a missing binding (a local stack without it) or an
 * outage of the limiter must never cost a click or a publisher's batch.
 */
export async function withinLimit(limiter: RateLimit | undefined, key: string): Promise<boolean> {
  if (!limiter) return true;
  try {
    return (await limiter.limit({ key })).success;
  } catch (err) {
    console.error("rate limiter unavailable; letting the request through:", err instanceof Error ? err.message : err);
    return true;
  }
}

export const clickLimitKey = (ipHash: string) => `click:${ipHash}`;
export const eventsLimitKey = (publisherId: string) => `events:${publisherId}`;

/** The 429 a publisher gets over its limit; nothing of the request has been read or recorded. */
export function eventsRateLimited(): ApiError {
  return new ApiError(429, "rate_limited", `Too many requests for this publisher key; retry in ${LIMIT_PERIOD_S} seconds.`, {
    "Retry-After": String(LIMIT_PERIOD_S),
  });
}
