/**
 * The R2 layout of the archive, in one place: where raw events, rollup markers and spooled events live.
 * The aggregator writes it, the billing cron reads it, the edge spools into it.
 */
import { HOUR, floorTo } from "./time";

/** Hive-style partition of the archive, by event time: `year=YYYY/month=MM/day=DD/hour=HH`. */
export function hourPartition(ms: number): string {
  const iso = new Date(floorTo(ms, HOUR)).toISOString();
  return `year=${iso.slice(0, 4)}/month=${iso.slice(5, 7)}/day=${iso.slice(8, 10)}/hour=${iso.slice(11, 13)}`;
}

/** The archive prefix holding every hour of one UTC date. */
export function dayPrefix(date: string): string {
  return `raw/year=${date.slice(0, 4)}/month=${date.slice(5, 7)}/day=${date.slice(8, 10)}/`;
}

/** R2 object of one queue message's events in one hour (by event time). Re-delivery overwrites it. */
export function archiveKey(messageId: string, eventTime: number): string {
  return `raw/${hourPartition(eventTime)}/${messageId.replace(/[^A-Za-z0-9_.-]/g, "_")}.parquet`;
}

/** Dates older than yesterday that received events are marked here for the next rollup. */
export const DIRTY_PREFIX = "dirty/";

/** Events spooled to R2 because neither their objects nor the queue took them; the cron sweeps them in. */
export const SPOOL_PREFIX = "spool/";

export function spoolKey(receivedAt: number, uid: string): string {
  return `${SPOOL_PREFIX}${receivedAt}-${uid}.json`;
}

/**
 * R2 object of one batch of conversions of an advertiser (one ledger row), by receive hour; apart from
 * `raw/`, so billing never reads a conversion as a click. A re-written batch overwrites its own file.
 */
export function conversionsKey(advertiserId: string, seq: number, receivedAt: number): string {
  return `conversions/${hourPartition(receivedAt)}/${advertiserId.replace(/[^A-Za-z0-9_.-]/g, "_")}-${seq}.parquet`;
}
