/** Time helpers. Every bucket, partition and billing date in edgeclick is UTC. */

export const SECOND = 1_000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export type Granularity = "minute" | "hour" | "day";
export const GRANULARITIES: readonly Granularity[] = ["minute", "hour", "day"];
export const GRANULARITY_MS: Record<Granularity, number> = { minute: MINUTE, hour: HOUR, day: DAY };

/** Events may carry a time at most this far in the past or future (CONTRACT: [now − 7 d, now + 5 min]). */
export const MAX_EVENT_AGE_MS = 7 * DAY;
export const MAX_EVENT_SKEW_MS = 5 * MINUTE;

export function floorTo(ms: number, step: number): number {
  return Math.floor(ms / step) * step;
}

// ISO-8601 date or date-time; a date-time without an offset is read as UTC, never as local time.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Parses ISO-8601 or epoch milliseconds; returns null for anything else (never guesses). */
export function parseTime(input: string | number): number | null {
  if (typeof input === "number") return Number.isSafeInteger(input) && input >= 0 ? input : null;
  const s = input.trim();
  if (/^\d{1,16}$/.test(s)) {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : null;
  }
  const m = ISO.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const month = Number(mo),
    day = Number(d),
    hour = Number(h ?? 0),
    min = Number(mi ?? 0),
    second = Number(sec ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || second > 59) return null;
  const ms = frac ? Math.floor(Number(frac) * 1000) : 0;
  let t = Date.UTC(Number(y), month - 1, day, hour, min, second, ms);
  // Date.UTC rolls 31 February into March: reject dates that do not exist.
  if (new Date(t).getUTCDate() !== day) return null;
  if (zone && zone.toUpperCase() !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    t -= sign * (Number(digits.slice(0, 2)) * HOUR + Number(digits.slice(2)) * MINUTE);
  }
  return Number.isFinite(t) ? t : null;
}

/** `YYYY-MM-DD` of an epoch-ms instant. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Epoch ms of 00:00 UTC on a `YYYY-MM-DD` date, or null when the date does not exist. */
export function dateStart(date: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return null;
  return parseTime(date);
}

export function isoMinute(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
