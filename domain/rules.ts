/**
 * The counting rules (CONTRACT "Counting rules"), applied per campaign to events in order of arrival.
 * The first matching rule decides:
 *   1. duplicate  — same event_id as an earlier event of the same UTC minute (of event time), or same
 *                   (ad_id, user_id, UTC minute) when user_id is set;
 *   2. invalid    — blocklisted_ip, blocklisted_ua, bot_ua, ip_burst_second, ip_rate_minute, bad_signature
 *                   (then edgeclick's rate_limited), checked in that order;
 *   3. suspicious — geo_mismatch;
 *   4. clean;
 *   5. over_budget — edgeclick's addition: a click (clean or suspicious) dated on a UTC day whose billed cost,
 *                   counted in arrival order, had already reached the campaign's daily budget before it. The
 *                   click that reaches or crosses the budget is billed in full (its cost may exceed what was
 *                   left), so a day's billed cost is below budget + one click's cost. On a sharded campaign each
 *                   counting shard holds budget ÷ shards of it (see `budgetShare`).
 * Lateness is orthogonal: a late event gets its verdict like any other and is kept out of real-time buckets.
 *
 * The rules come in two steps so a hot campaign can spread over several objects and stay exact:
 * `dedupe` needs the dedup keys (an object chosen so that possible duplicates meet) and `classify`
 * needs the IP counters (an object chosen by IP). A campaign on one object runs both in one go (`judge`).
 * Both are synchronous over their stores so an object judges a whole batch inside one storage transaction.
 */
import { toMicros, type ClickEvent, type DuplicateReason, type InvalidReason, type Outcome } from "./event";
import { isBotUserAgent } from "./useragent";
import { DAY, MINUTE, SECOND, floorTo } from "./time";

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
 * State of rule 5: the billed cost of the campaign's clicks per UTC day of event time, as counted by this store
 * (on a sharded campaign, by one counting shard).
 */
export interface BudgetStore {
  spent(day: number): number;
  spend(day: number, micros: number): void;
}

/**
 * What one store may spend of a day's budget: the whole of it on a campaign counted by one object; on a
 * sharded one each of the `shards` counting shards gets an equal share (rounded down to the micro), so the
 * shards never need to ask each other and their total never exceeds the budget by more than one click each.
 */
export function budgetShare(budgetMicros: number, shards: number): number {
  return Math.floor(budgetMicros / Math.max(1, shards));
}

/** The UTC day a click's cost counts in (its event time, like its billing row). */
export const budgetDay = (e: Pick<ClickEvent, "timestamp">): number => floorTo(e.timestamp, DAY);

/** Rule 5 itself: has the day's billed cost already reached this store's share of the budget? */
export function overBudget(e: Pick<ClickEvent, "timestamp" | "daily_budget">, store: BudgetStore, shards: number): boolean {
  if (e.daily_budget === null || e.daily_budget === undefined) return false;
  return store.spent(budgetDay(e)) >= budgetShare(toMicros(e.daily_budget), shards);
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

/**
 * Rules 2–5 for an event whose dedup answer is known. Duplicates do not count towards the IP limits; a billed
 * click adds its cost to its day. `shards`: how many counting shards share the budget.
 */
export function classify(
  e: ClickEvent,
  dedup: Dedup,
  store: CountStore & BudgetStore & ReceiptStore<Outcome>,
  blocked: Blocklisted,
  allowedLatenessMs: number,
  shards = 1,
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
    else if (overBudget(e, store, shards)) outcome = { verdict: "over_budget", reason: null, late };
    else {
      outcome = isGeoMismatch(e) ? { verdict: "suspicious", reason: "geo_mismatch", late } : { verdict: "clean", reason: null, late };
      store.spend(budgetDay(e), toMicros(e.cost_per_click));
    }
  }
  store.rememberReceipt(e, outcome);
  return { ...outcome, replay: false };
}

/** Both steps on one store: a campaign counted by one object. */
export function judge(
  e: ClickEvent,
  store: DedupStore & CountStore & BudgetStore & ReceiptStore<Outcome>,
  blocked: Blocklisted,
  allowedLatenessMs: number,
): Replayable<Outcome> {
  const prior = store.receipt(e);
  if (prior) return { ...prior, replay: true };
  return classify(e, { duplicate: duplicateOf(e, store) }, store, blocked, allowedLatenessMs);
}

/** A RuleStore in memory, for tests and for replaying an archive. */
export class MemoryRuleStore implements DedupStore, CountStore, BudgetStore, ReceiptStore<Outcome> {
  readonly #ids = new Set<string>();
  readonly #spent = new Map<number, number>();
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
  spent(day: number): number {
    return this.#spent.get(day) ?? 0;
  }
  spend(day: number, micros: number): void {
    this.#spent.set(day, this.spent(day) + micros);
  }
  receipt(e: ClickEvent): Outcome | null {
    return this.#receipts.get(e.uid) ?? null;
  }
  rememberReceipt(e: ClickEvent, o: Outcome): void {
    this.#receipts.set(e.uid, o);
  }
}
