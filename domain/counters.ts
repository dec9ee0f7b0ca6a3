/**
 * The counter set: what real time counts for every cell and billing for every row, and what one judged event
 * adds to it. A new counter is added to COUNTERS (and, where the contract names it otherwise, to
 * CONTRACT_NAMES); the compiler then names what else must learn it. Cells store the counters in this order,
 * then one per reason (durable-objects/campaign/cells.ts); shard answers carry and merge them (domain/cells.ts,
 * domain/metrics.ts); billing rows and their D1 columns carry them by their contract names (domain/billing.ts,
 * r2-batch/rollup.ts).
 */
import { INVALID_REASONS, SUSPICIOUS_REASONS, isClick, type InvalidReason, type Verdict } from "./event";

/** Clicks (clean and suspicious: billed), their cost in micros, and the events of each other verdict. */
export const COUNTERS = ["clicks", "cost_micros", "suspicious", "duplicates", "invalid", "over_budget"] as const;
export type Counter = (typeof COUNTERS)[number];
export type Counts = Record<Counter, number>;

/**
 * Conversions (POST /v1/conversions), counted in their click's cells: what real time shows beside the
 * clicks. They are not events (not in eventsOf) and not billed, so billing rows do not carry them.
 */
export const CONVERSION_COUNTERS = ["conversions", "conversion_value_micros"] as const;
export type ConversionCounter = (typeof CONVERSION_COUNTERS)[number];
export type ConversionCounts = Record<ConversionCounter, number>;

/** Reason codes counted apart (invalid reasons, then suspicious ones); a duplicate's reason is not counted. */
export const CELL_REASONS = [...INVALID_REASONS, ...SUSPICIOUS_REASONS] as const;
export type CellReason = (typeof CELL_REASONS)[number];

/** Each counter by its contract name: the API's fields, billing rows and their D1 columns. */
export const CONTRACT_NAMES = {
  clicks: "clicks",
  cost_micros: "cost_micros",
  suspicious: "suspicious_clicks",
  duplicates: "duplicates",
  invalid: "invalid_clicks",
  over_budget: "over_budget_clicks",
} as const satisfies Record<Counter, string>;
export type ContractCounts = { [K in Counter as (typeof CONTRACT_NAMES)[K]]: number };

/** The counter each verdict adds to besides clicks and cost (a clean event is only a click). */
const VERDICT_COUNTER: Record<Verdict, Counter | null> = {
  clean: null,
  suspicious: "suspicious",
  duplicate: "duplicates",
  invalid: "invalid",
  over_budget: "over_budget",
};

export function zeroCounts(): Counts {
  return Object.fromEntries(COUNTERS.map((k) => [k, 0])) as Counts;
}

/** What one event judged `verdict` adds to the counters. */
export function eventCounts(verdict: Verdict, costMicros: number): Counts {
  const c = zeroCounts();
  if (isClick(verdict)) {
    c.clicks = 1;
    c.cost_micros = costMicros;
  }
  const k = VERDICT_COUNTER[verdict];
  if (k) c[k] += 1;
  return c;
}

/** Adds `from` to `into` (sign -1 takes it back). */
export function addCounts(into: Counts, from: Counts, sign: 1 | -1 = 1): void {
  for (const k of COUNTERS) into[k] += sign * from[k];
}

/** Events judged: clicks (suspicious ones among them), duplicates, invalid events and clicks over the budget. */
export const eventsOf = (c: Counts): number => c.clicks + c.duplicates + c.invalid + c.over_budget;

/** The counters by their contract names. */
export function contractCounts(c: Counts): ContractCounts {
  return Object.fromEntries(COUNTERS.map((k) => [CONTRACT_NAMES[k], c[k]])) as ContractCounts;
}

/** The counted invalid reasons, without zeros (the API's `invalid_by_reason`). */
export function invalidByReason(reasons: Partial<Record<string, number>>): Partial<Record<InvalidReason, number>> {
  const out: Partial<Record<InvalidReason, number>> = {};
  for (const r of INVALID_REASONS) if (reasons[r]) out[r] = reasons[r];
  return out;
}
