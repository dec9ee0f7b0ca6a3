/** Writing the raw-event archive in R2 (the layout is domain/archive-layout.ts). */
import { DIRTY_PREFIX, archiveKey } from "../../domain/archive-layout";
import { encodeArchive } from "../../domain/parquet";
import type { RecordedEvent } from "../../domain/event";
import { DAY, utcDate } from "../../domain/time";

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
    [...byHour].map(async ([key, list]) => {
      const date = utcDate(list[0].timestamp);
      if (date < yesterday) dirty.add(date);
      const bytes = encodeArchive(list);
      return bucket.put(key, bytes, {
        httpMetadata: { contentType: "application/vnd.apache.parquet" },
        customMetadata: { message: messageId, events: String(list.length) },
        // Kept by R2 (and checked on upload): billing statements list each file's SHA-256 without reading it.
        sha256: await crypto.subtle.digest("SHA-256", bytes),
      });
    }),
  );
  // One marker per message and date: the rollup deletes exactly the markers it has seen.
  await Promise.all([...dirty].map((date) => bucket.put(`${DIRTY_PREFIX}${date}/${messageId}`, date)));
  return [...byHour.keys()];
}
