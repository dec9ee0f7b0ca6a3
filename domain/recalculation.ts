/**
 * Re-judging archived events (issue 11, item 5): the counting rules of domain/rules.ts run again, with the current
 * code and blocklist, over one campaign-date's events in the order the campaign objects judged them (receive time,
 * then uid). Pure: r2-batch/recalculate.ts reads the events and writes what changed.
 *
 * What is decided again and what is not:
 * - rules 1–4 (duplicate, invalid, suspicious, clean) are decided again from the archived event;
 * - rule 5 (over_budget) is not: the budget a click met is not archived, so an over_budget click stays over_budget
 *   unless rules 1–2 now call it a duplicate or invalid (a recalculation never bills a click it did not bill);
 * - lateness is kept as recorded (it is the receive delay, not a rule);
 * - batch fraud review's findings (BATCH_REASONS) are decisions about the past, not rules to run again: an event a
 *   finding made invalid stays invalid under every later recalculation, unless the rules now call it a duplicate.
 */
import { BATCH_REASONS, isClick, type BatchReason, type BillingReason, type ClickEvent, type RecordedEvent, type Verdict } from "./event";
import { type Blocklisted, MemoryRuleStore, judge } from "./rules";

/** The archive columns re-judging reads (the rules' inputs, billing's, and the recorded outcome). */
export const REJUDGE_COLUMNS = [
  "uid",
  "event_id",
  "campaign_id",
  "ad_id",
  "publisher_id",
  "user_id",
  "ip_hash",
  "user_agent",
  "timestamp",
  "received_at",
  "signature",
  "rate_limited",
  "country",
  "edge_country",
  "device_type",
  "cost_per_click",
  "verdict",
  "reason",
  "late",
] as const satisfies readonly (keyof RecordedEvent)[];

export type RejudgeInput = Pick<RecordedEvent, (typeof REJUDGE_COLUMNS)[number]>;

export interface Judged {
  verdict: Verdict;
  reason: BillingReason | null;
}

/** A batch finding applied to events: those whose `field` is `value` with event time in [from, to) are invalid. */
export interface Mark {
  field: "ip_hash" | "user_id" | "publisher_id";
  value: string;
  from: number;
  to: number;
  reason: BatchReason;
}

const isBatch = (reason: BillingReason | null | undefined) => (BATCH_REASONS as readonly (string | null | undefined)[]).includes(reason);

/** Arrival order, as the campaign objects judged: receive time, then uid. */
export const arrivalOrder = (a: Pick<RejudgeInput, "received_at" | "uid">, b: Pick<RejudgeInput, "received_at" | "uid">) =>
  a.received_at - b.received_at || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);

/**
 * The verdict of every event (by uid) under the current rules. `blocked` answers the current blocklist;
 * `current` is the verdict billing gives now where it differs from the recorded one (the applied overlays).
 */
export function rejudge(
  events: readonly RejudgeInput[],
  blocked: (e: RejudgeInput) => Blocklisted,
  current: ReadonlyMap<string, Judged>,
  marks: readonly Mark[] = [],
): Map<string, Judged> {
  const store = new MemoryRuleStore();
  const out = new Map<string, Judged>();
  for (const e of [...events].sort(arrivalOrder)) {
    if (out.has(e.uid)) continue;
    // No daily budget is archived, so rule 5 never fires here; lateness is not ours to decide (Infinity).
    const event = { ...e, daily_budget: null } as unknown as ClickEvent;
    const outcome = judge(event, store, blocked(e), Number.POSITIVE_INFINITY);
    let judged: Judged = { verdict: outcome.verdict, reason: outcome.reason };
    if (e.verdict === "over_budget" && isClick(judged.verdict)) judged = { verdict: "over_budget", reason: null };
    if (judged.verdict !== "duplicate" && judged.verdict !== "invalid") {
      const mark = marks.find((m) => e[m.field] === m.value && e.timestamp >= m.from && e.timestamp < m.to);
      const before = current.get(e.uid);
      if (mark) judged = { verdict: "invalid", reason: mark.reason };
      else if (before && isBatch(before.reason)) judged = before;
    }
    out.set(e.uid, judged);
  }
  return out;
}
