/** Writing and reading the raw-event archive in R2. */
import { encodeArchive } from "../domain/parquet";
import type { RecordedEvent } from "../domain/event";
import { DAY, hourPartition, utcDate } from "../domain/time";

/** R2 object of one queue message's events in one hour (by event time). Re-delivery overwrites it. */
export function archiveKey(messageId: string, eventTime: number): string {
  return `raw/${hourPartition(eventTime)}/${messageId.replace(/[^A-Za-z0-9_.-]/g, "_")}.parquet`;
}

/** Dates older than yesterday that received events are marked here for the next rollup. */
export const DIRTY_PREFIX = "dirty/";

/** Archives one message's events: one Parquet file per hour partition. Returns the keys written. */
export async function archiveMessage(bucket: R2Bucket, messageId: string, events: RecordedEvent[], now = Date.now()): Promise<string[]> {
  const byHour = new Map<string, RecordedEvent[]>();
  for (const e of events) {
    const key = archiveKey(messageId, e.timestamp);
    let list = byHour.get(key);
    if (!list) byHour.set(key, (list = []));
    list.push(e);
  }
  const yesterday = utcDate(now - DAY);
  const dirty = new Set<string>();
  await Promise.all(
    [...byHour].map(([key, list]) => {
      const date = utcDate(list[0].timestamp);
      if (date < yesterday) dirty.add(date);
      return bucket.put(key, encodeArchive(list), {
        httpMetadata: { contentType: "application/vnd.apache.parquet" },
        customMetadata: { message: messageId, events: String(list.length) },
      });
    }),
  );
  // One marker per message and date: the rollup deletes exactly the markers it has seen.
  await Promise.all([...dirty].map((date) => bucket.put(`${DIRTY_PREFIX}${date}/${messageId}`, date)));
  return [...byHour.keys()];
}
