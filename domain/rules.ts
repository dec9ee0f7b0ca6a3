/**
 * The counting rules (CONTRACT "Counting rules"), applied per campaign to events in order of arrival.
 * The first matching rule decides:
 *   1. duplicate  — same event_id as an earlier event, or same (ad_id, user_id, UTC minute) when user_id is set;
 *   2. invalid    — blocklisted_ip, blocklisted_ua, bot_ua, ip_burst_second, ip_rate_minute, bad_signature
 *                   (then edgeclick's rate_limited), checked in that order;
 *   3. suspicious — geo_mismatch;
 *   4. clean.
 * Lateness is orthogonal: a late event gets its verdict like any other and is kept out of real-time buckets.
 *
 * The rules are synchronous over a RuleStore so that the Durable Object can run a whole batch inside one
 * storage transaction; tests run them over an in-memory store.
 */
import type { ClickEvent, InvalidReason, Outcome } from "./event";
import { isBotUserAgent } from "./useragent";
import { MINUTE, SECOND } from "./time";

/** CONTRACT: the 11th and later non-duplicate event of one IP within one UTC second is `ip_burst_second`. */
export const IP_BURST_PER_SECOND = 10;
/** CONTRACT: the 101st and later within one UTC minute is `ip_rate_minute`. */
export const IP_RATE_PER_MINUTE = 100;

export interface FirstSeen extends Outcome {
  uid: string;
}

/** The state the rules read and write. Implementations must be synchronous (see module comment). */
export interface RuleStore {
  /** What was recorded for the first event with this id, if any. */
  firstWithEventId(eventId: string): FirstSeen | null;
  /** Whether an event with this (ad_id, user_id, minute) was seen. */
  userMinuteSeen(adId: string, userId: string, minute: number): boolean;
  /** Adds one event of this IP to its second and minute counters; returns the counts including it. */
  countIp(ipHash: string, second: number, minute: number): { second: number; minute: number };
  /** Remembers the event's dedup keys (the first event with an id keeps its record). */
  remember(event: ClickEvent, outcome: Outcome): void;
}

/** Blocklist membership, resolved before the rules run (it may need I/O). */
export interface Blocklisted {
  ip: boolean;
  ua: boolean;
}

export interface Judgement extends Outcome {
  /** The same receipt was already judged (a retried delivery): nothing must be counted again. */
  replay: boolean;
}

export function isLate(event: Pick<ClickEvent, "timestamp" | "received_at">, allowedLatenessMs: number): boolean {
  return event.received_at - event.timestamp > allowedLatenessMs;
}

export function userMinute(timestamp: number): number {
  return Math.floor(timestamp / MINUTE);
}

function invalidReason(e: ClickEvent, blocked: Blocklisted, ipCounts: { second: number; minute: number }): InvalidReason | null {
  if (blocked.ip) return "blocklisted_ip";
  if (blocked.ua) return "blocklisted_ua";
  if (isBotUserAgent(e.user_agent)) return "bot_ua";
  if (ipCounts.second > IP_BURST_PER_SECOND) return "ip_burst_second";
  if (ipCounts.minute > IP_RATE_PER_MINUTE) return "ip_rate_minute";
  if (e.signature === "invalid") return "bad_signature";
  if (e.rate_limited) return "rate_limited";
  return null;
}

/** A posted country that differs from the one the edge saw (when the edge knows one). */
export function isGeoMismatch(e: Pick<ClickEvent, "country" | "edge_country">): boolean {
  return e.edge_country !== "XX" && e.country !== e.edge_country;
}

/** Applies the counting rules to one event and records what later events must know about it. */
export function judge(e: ClickEvent, store: RuleStore, blocked: Blocklisted, allowedLatenessMs: number): Judgement {
  const first = store.firstWithEventId(e.event_id);
  if (first && first.uid === e.uid) return { verdict: first.verdict, reason: first.reason, late: first.late, replay: true };

  const late = isLate(e, allowedLatenessMs);
  let outcome: Outcome;
  if (first) {
    outcome = { verdict: "duplicate", reason: "event_id", late };
  } else if (e.user_id && store.userMinuteSeen(e.ad_id, e.user_id, userMinute(e.timestamp))) {
    outcome = { verdict: "duplicate", reason: "user_minute", late };
  } else {
    const counts = store.countIp(e.ip_hash, Math.floor(e.timestamp / SECOND), Math.floor(e.timestamp / MINUTE));
    const invalid = invalidReason(e, blocked, counts);
    if (invalid) outcome = { verdict: "invalid", reason: invalid, late };
    else if (isGeoMismatch(e)) outcome = { verdict: "suspicious", reason: "geo_mismatch", late };
    else outcome = { verdict: "clean", reason: null, late };
  }
  store.remember(e, outcome);
  return { ...outcome, replay: false };
}

/** A RuleStore in memory, for tests and for replaying an archive. */
export class MemoryRuleStore implements RuleStore {
  readonly #ids = new Map<string, FirstSeen>();
  readonly #userMinutes = new Set<string>();
  readonly #ipSeconds = new Map<string, number>();
  readonly #ipMinutes = new Map<string, number>();

  firstWithEventId(eventId: string): FirstSeen | null {
    return this.#ids.get(eventId) ?? null;
  }
  userMinuteSeen(adId: string, userId: string, minute: number): boolean {
    return this.#userMinutes.has(JSON.stringify([adId, userId, minute]));
  }
  countIp(ipHash: string, second: number, minute: number) {
    const s = (this.#ipSeconds.get(`${ipHash}|${second}`) ?? 0) + 1;
    const m = (this.#ipMinutes.get(`${ipHash}|${minute}`) ?? 0) + 1;
    this.#ipSeconds.set(`${ipHash}|${second}`, s);
    this.#ipMinutes.set(`${ipHash}|${minute}`, m);
    return { second: s, minute: m };
  }
  remember(e: ClickEvent, o: Outcome): void {
    if (!this.#ids.has(e.event_id)) this.#ids.set(e.event_id, { uid: e.uid, ...o });
    if (e.user_id) this.#userMinutes.add(JSON.stringify([e.ad_id, e.user_id, userMinute(e.timestamp)]));
  }
}
