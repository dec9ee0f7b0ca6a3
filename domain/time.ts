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

/**
 * Advertiser time zones (IANA names). Real-time buckets and partitions stay UTC; a zone only decides where a local
 * hour or day starts. Offsets come from Intl (the runtime's tz database), one lookup per 15 minutes of time at most:
 * every zone's offset changes only at a multiple of 15 minutes UTC.
 */
const zoneFormats = new Map<string, Intl.DateTimeFormat>();
function zoneFormat(zone: string): Intl.DateTimeFormat {
  let f = zoneFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    zoneFormats.set(zone, f);
  }
  return f;
}

/** The zone's IANA name in its spelling ("europe/amsterdam" → "Europe/Amsterdam"), or null when Intl does not know it. */
export function canonicalZone(name: string): string | null {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(name)) return null;
  try {
    const resolved = new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
    // ICU resolves some current names to legacy ones (Asia/Kolkata → Asia/Calcutta): keep those as given.
    return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
  } catch {
    return null;
  }
}

/** The zone's offset from UTC at an instant, in milliseconds (local wall time − UTC). */
export function zoneOffset(ms: number, zone: string): number {
  if (zone === "UTC") return 0;
  const at = floorTo(ms, 15 * MINUTE);
  const parts = zoneFormat(zone).formatToParts(at);
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute")) - at;
}

/** The instant a local wall time (ms as if UTC) happens in a zone; in a skipped hour, the instant after the gap. */
function fromWall(wall: number, zone: string): number {
  let t = wall - zoneOffset(wall, zone);
  t = wall - zoneOffset(t, zone);
  return t;
}

/** The start of the local hour or day (step HOUR or DAY) an instant falls in. */
export function zoneFloor(ms: number, step: number, zone: string): number {
  if (zone === "UTC") return floorTo(ms, step);
  return fromWall(floorTo(ms + zoneOffset(ms, zone), step), zone);
}

/** The local date `YYYY-MM-DD` of an instant in a zone. */
export function zoneDate(ms: number, zone: string): string {
  return utcDate(ms + zoneOffset(ms, zone));
}

/** The local day `date` in a zone as [start, end) instants: 23, 24 or 25 hours. */
export function zoneDay(date: string, zone: string): [start: number, end: number] {
  const start = dateStart(date)!;
  if (zone === "UTC") return [start, start + DAY];
  return [fromWall(start, zone), fromWall(start + DAY, zone)];
}

/** The UTC dates (archive day folders) a local day of a zone overlaps: one for UTC, otherwise usually two. */
export function utcDatesOf(date: string, zone: string): string[] {
  const [start, end] = zoneDay(date, zone);
  const out: string[] = [];
  for (let t = floorTo(start, DAY); t < end; t += DAY) out.push(utcDate(t));
  return out;
}

/** The local dates of a zone that overlap a UTC date. */
export function zoneDatesOf(utc: string, zone: string): string[] {
  const start = dateStart(utc)!;
  const first = zoneDate(start, zone);
  const last = zoneDate(start + DAY - 1, zone);
  return first === last ? [first] : [first, last];
}

/** Starts of the local hours or days that overlap [start, end): a local day is 23, 24 or 25 hours long. */
export function zoneBucketStarts(start: number, end: number, step: number, zone: string): number[] {
  const out: number[] = [];
  // Two hours past a bucket's nominal length is inside the next one, whatever DST did to it.
  for (let t = zoneFloor(start, step, zone); t < end; t = zoneFloor(t + step + (step === DAY ? 2 * HOUR : 0), step, zone)) out.push(t);
  return out;
}
