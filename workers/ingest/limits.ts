/**
 * Edge limits:
 *   `GET /click`, per client IP (keyed by its hash, never the raw IP): the CLICK_LIMITER binding (Workers Rate
 *     Limiting, wrangler.toml `[[ratelimits]]`), counted per Cloudflare location and eventually consistent —
 *     a shield against floods; the counting rules (`ip_burst_second`, `ip_rate_minute`) judge what is billed.
 *   `POST /v1/events`, per publisher key, and `POST /v1/conversions`, per advertiser key: the account's KeyGate
 *     object, with the account's own limits.
 */
import { logLine } from "../../domain/log";
import { ApiError } from "../../domain/errors";
import type { AdvertiserLimits, KeyLimits, PublisherLimits } from "../../domain/limits";
import type { GateAnswer, KeyGate } from "../../durable-objects/key-gate";
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
/** Whose key a gate holds, with its limits: what the 429 names. */
export type GatedAccount =
  | { kind: "publisher"; id: string; limits: PublisherLimits }
  | { kind: "advertiser"; id: string; limits: AdvertiserLimits };

const keyLimits = (a: GatedAccount): KeyLimits => ({
  requests_per_minute: a.limits.requests_per_minute,
  items_per_second: a.kind === "publisher" ? a.limits.events_per_second : a.limits.conversions_per_second,
});

/**
 * Whether an account may post now: one request before its body is read (`items` undefined), or the events or
 * conversions of an admitted request. Fails open like the click limit: a gate that cannot be reached must never
 * cost a publisher's batch or an advertiser's conversions.
 */
export async function keyWithinLimit(ns: DurableObjectNamespace<KeyGate>, account: GatedAccount, items?: number): Promise<void> {
  const limits = keyLimits(account);
  let answer: GateAnswer;
  try {
    // Account ids carry their kind (pub_…, adv_…), so one namespace holds both without collisions.
    const gate = ns.getByName(account.id);
    answer = items === undefined ? await gate.admit(limits) : await gate.charge(limits, items);
  } catch (err) {
    logLine("warn", "key gate unavailable; letting the request through", { [`${account.kind}_id`]: account.id, error: err });
    return;
  }
  if (!answer.ok) {
    const unit = account.kind === "publisher" ? "events" : "conversions";
    const what =
      answer.limit === "requests_per_minute"
        ? `${limits.requests_per_minute} requests a minute`
        : `${limits.items_per_second} ${unit} a second`;
    throw new ApiError(
      429,
      "rate_limited",
      `This ${account.kind} key may make ${what}; retry in ${answer.retry_after_s} s. Nothing of this request was recorded.`,
      {
        "Retry-After": String(answer.retry_after_s),
      },
    );
  }
}
