/**
 * Edge rate limits (Workers Rate Limiting bindings, configured in wrangler.toml `[[ratelimits]]`):
 *   CLICK_LIMITER   anonymous `GET /click`, per client IP (keyed by its hash, never the raw IP)
 *   EVENTS_LIMITER  `POST /v1/events`, per publisher
 * The binding counts per Cloudflare location and is eventually consistent: a shield against floods, not
 * an exact meter. The counting rules (`ip_burst_second`, `ip_rate_minute`) stay the exact judge of what
 * gets billed.
 */
import { logLine } from "../../domain/log";
import { ApiError } from "../../domain/errors";
import { LIMIT_PERIOD_S } from "../../domain/limits";
import { MINUTE } from "../../domain/time";

/**
 * Whether `key` is within its limit. Fails open: a missing binding (a local stack without it) or an
 * outage of the limiter must never cost a click or a publisher's batch.
 */
export async function withinLimit(limiter: RateLimit | undefined, key: string): Promise<boolean> {
  if (!limiter) return true;
  try {
    return (await limiter.limit({ key })).success;
  } catch (err) {
    logLine("warn", "rate limiter unavailable; letting the request through", { error: err });
    return true;
  }
}

const clickLimitKey = (ipHash: string) => `click:${ipHash}`;

/** Requests of one IP in this isolate in the current minute before the shared limiter is consulted. */
const LOCAL_FREE = 10;
const LOCAL_MAX_KEYS = 50_000;
const local = new Map<string, { minute: number; n: number }>();

/**
 * The click limit, asked of the shared limiter only for IPs that are busy in this isolate. Almost every
 * person clicks a few times a minute, so almost no click pays for the call; when an IP reaches
 * LOCAL_FREE requests in a minute, its earlier requests are replayed into the limiter, so from then on
 * the shared count is what it would have been had every request been counted. (What is billed is judged
 * exactly by the campaign objects' per-IP rules whatever happens here.)
 */
export async function clickWithinLimit(limiter: RateLimit | undefined, ipHash: string, now = Date.now()): Promise<boolean> {
  const minute = Math.floor(now / MINUTE);
  let entry = local.get(ipHash);
  if (!entry || entry.minute !== minute) {
    local.delete(ipHash);
    if (local.size >= LOCAL_MAX_KEYS) local.delete(local.keys().next().value as string);
    local.set(ipHash, (entry = { minute, n: 0 }));
  }
  entry.n++;
  if (entry.n < LOCAL_FREE) return true;
  const key = clickLimitKey(ipHash);
  if (entry.n === LOCAL_FREE) {
    // Catch up: the requests that did not ask the limiter count now.
    for (let i = 1; i < LOCAL_FREE; i++) await withinLimit(limiter, key);
  }
  return withinLimit(limiter, key);
}
export const eventsLimitKey = (publisherId: string) => `events:${publisherId}`;

/** The 429 a publisher gets over its limit; nothing of the request has been read or recorded. */
export function eventsRateLimited(): ApiError {
  return new ApiError(429, "rate_limited", `Too many requests for this publisher key; retry in ${LIMIT_PERIOD_S} seconds.`, {
    "Retry-After": String(LIMIT_PERIOD_S),
  });
}
