/**
 * The counting rules (CONTRACT "Counting rules"), applied per campaign to events in order of arrival.
 * The first matching rule decides:
 *   1. duplicate  — same event_id as an earlier event of the same UTC minute (of event time), or same
 *                   (ad_id, user_id, UTC minute) when user_id is set;
 *   2. invalid    — blocklisted_ip, blocklisted_ua, bot_ua, ip_burst_second, ip_rate_minute, bad_signature
 *                   (then edgeclick's rate_limited), checked in that order;
 *   3. suspicious — geo_mismatch;
 *   4. clean.
 * Lateness is orthogonal: a late event gets its verdict like any other and is kept out of real-time buckets.
 *
 * The rules come in two steps so a hot campaign can spread over several objects and stay exact:
 * `dedupe` needs the dedup keys (an object chosen so that possible duplicates meet) and `classify`
 * needs the IP counters (an object chosen by IP). A campaign on one object runs both in one go (`judge`).
 * Both are synchronous over their stores so an object judges a whole batch inside one storage transaction.
 */
import type { ClickEvent, DuplicateReason, InvalidReason, Outcome } from "./event";
import { isBotUserAgent } from "./useragent";
import { MINUTE, SECOND } from "./time";

/** CONTRACT: the 11th and later non-duplicate event of one IP within one UTC second is `ip_burst_second`. */
export const IP_BURST_PER_SECOND = 10;
/** CONTRACT: the 101st and later within one UTC minute is `ip_rate_minute`. */
export const IP_RATE_PER_MINUTE = 100;

/** The dedup step's answer for one event. */
export interface Dedup {
  duplicate: DuplicateReason | null;
}

/** State of the dedup step. */
export interface DedupStore {
  /** Real-time event_id dedup is scoped to the event's UTC minute (a genuine resend carries the same time). */
  eventIdSeen(eventId: string, minute: number): boolean;
  userMinuteSeen(adId: string, userId: string, minute: number): boolean;
  /** Remembers the event's dedup keys (idempotent). */
  rememberKeys(event: ClickEvent): void;
}

/** State of the classify step. */
export interface CountStore {
  /** Adds one event of this IP to its second and minute counters; returns the counts including it. */
  countIp(ipHash: string, second: number, minute: number): { second: number; minute: number };
}

/**
 * Receipts already judged: an event delivered twice (a retry after a timeout, a redelivered queue
 * message) is recognised by its `uid` and gets its first answer back, so nothing is counted twice.
 */
export interface ReceiptStore<T> {
  /** The answer given to this receipt (`uid`) before, if any. */
  receipt(event: ClickEvent): T | null;
  rememberReceipt(event: ClickEvent, value: T): void;
}

/** Blocklist membership, resolved before the rules run (it may need I/O). */
export interface Blocklisted {
  ip: boolean;
  ua: boolean;
}

export type Replayable<T> = T & { replay: boolean };

export function isLate(event: Pick<ClickEvent, "timestamp" | "received_at">, allowedLatenessMs: number): boolean {
  return event.received_at - event.timestamp > allowedLatenessMs;
}

export function userMinute(timestamp: number): number {
  return Math.floor(timestamp / MINUTE);
}

/** Rule 1 itself: is the event a duplicate of one seen before? Records its keys either way. */
function duplicateOf(e: ClickEvent, store: DedupStore): DuplicateReason | null {
  let duplicate: DuplicateReason | null = null;
  if (store.eventIdSeen(e.event_id, userMinute(e.timestamp))) duplicate = "event_id";
  else if (e.user_id && store.userMinuteSeen(e.ad_id, e.user_id, userMinute(e.timestamp))) duplicate = "user_minute";
  store.rememberKeys(e);
  return duplicate;
}

/** Rule 1 as a step of its own (sharded campaigns), answering a replayed receipt with its first answer. */
export function dedupe(e: ClickEvent, store: DedupStore & ReceiptStore<Dedup>): Replayable<Dedup> {
  const prior = store.receipt(e);
  if (prior) return { ...prior, replay: true };
  const result = { duplicate: duplicateOf(e, store) };
  store.rememberReceipt(e, result);
  return { ...result, replay: false };
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
function isGeoMismatch(e: Pick<ClickEvent, "country" | "edge_country">): boolean {
  return e.edge_country !== "XX" && e.country !== e.edge_country;
}

/** Rules 2–5 for an event whose dedup answer is known. Duplicates do not count towards the IP limits. */
export function classify(
  e: ClickEvent,
  dedup: Dedup,
  store: CountStore & ReceiptStore<Outcome>,
  blocked: Blocklisted,
  allowedLatenessMs: number,
): Replayable<Outcome> {
  const prior = store.receipt(e);
  if (prior) return { ...prior, replay: true };
  const late = isLate(e, allowedLatenessMs);
  let outcome: Outcome;
  if (dedup.duplicate) {
    outcome = { verdict: "duplicate", reason: dedup.duplicate, late };
  } else {
    const counts = store.countIp(e.ip_hash, Math.floor(e.timestamp / SECOND), Math.floor(e.timestamp / MINUTE));
    const invalid = invalidReason(e, blocked, counts);
    if (invalid) outcome = { verdict: "invalid", reason: invalid, late };
    else if (isGeoMismatch(e)) outcome = { verdict: "suspicious", reason: "geo_mismatch", late };
    else outcome = { verdict: "clean", reason: null, late };
  }
  store.rememberReceipt(e, outcome);
  return { ...outcome, replay: false };
}

/** Both steps on one store: a campaign counted by one object. */
export function judge(
  e: ClickEvent,
  store: DedupStore & CountStore & ReceiptStore<Outcome>,
  blocked: Blocklisted,
  allowedLatenessMs: number,
): Replayable<Outcome> {
  const prior = store.receipt(e);
  if (prior) return { ...prior, replay: true };
  return classify(e, { duplicate: duplicateOf(e, store) }, store, blocked, allowedLatenessMs);
}

/** A RuleStore in memory, for tests and for replaying an archive. */
export class MemoryRuleStore implements DedupStore, CountStore, ReceiptStore<Outcome> {
  readonly #ids = new Set<string>();
  readonly #userMinutes = new Set<string>();
  readonly #ipSeconds = new Map<string, number>();
  readonly #ipMinutes = new Map<string, number>();
  readonly #receipts = new Map<string, Outcome>();

  eventIdSeen(eventId: string, minute: number): boolean {
    return this.#ids.has(JSON.stringify([eventId, minute]));
  }
  userMinuteSeen(adId: string, userId: string, minute: number): boolean {
    return this.#userMinutes.has(JSON.stringify([adId, userId, minute]));
  }
  rememberKeys(e: ClickEvent): void {
    this.#ids.add(JSON.stringify([e.event_id, userMinute(e.timestamp)]));
    if (e.user_id) this.#userMinutes.add(JSON.stringify([e.ad_id, e.user_id, userMinute(e.timestamp)]));
  }
  countIp(ipHash: string, second: number, minute: number) {
    const s = (this.#ipSeconds.get(`${ipHash}|${second}`) ?? 0) + 1;
    const m = (this.#ipMinutes.get(`${ipHash}|${minute}`) ?? 0) + 1;
    this.#ipSeconds.set(`${ipHash}|${second}`, s);
    this.#ipMinutes.set(`${ipHash}|${minute}`, m);
    return { second: s, minute: m };
  }
  receipt(e: ClickEvent): Outcome | null {
    return this.#receipts.get(e.uid) ?? null;
  }
  rememberReceipt(e: ClickEvent, o: Outcome): void {
    this.#receipts.set(e.uid, o);
  }
}
