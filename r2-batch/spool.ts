/** Hands events that were spooled to R2 (objects and queue both down at the edge) to their campaign objects. */
import { logLine } from "../domain/log";
import type { PendingMessage } from "../domain/messages";
import { SPOOL_PREFIX, spooledAt } from "../domain/archive-layout";
import type { SpoolBacklog } from "../domain/billing";
import { recordEvents, type CampaignBinding } from "../durable-objects/client";

export async function sweepSpool(
  env: { ARCHIVE: R2Bucket; ARCHIVE_EU: R2Bucket; CAMPAIGN: CampaignBinding },
  limit = 500,
): Promise<{ swept: number; events: number; failed: number }> {
  let swept = 0;
  let events = 0;
  let failed = 0;
  // Each jurisdiction's spool is in its own bucket.
  for (const bucket of [env.ARCHIVE, env.ARCHIVE_EU]) {
    const page = await bucket.list({ prefix: SPOOL_PREFIX, limit });
    for (const { key } of page.objects) {
      try {
        const obj = await bucket.get(key);
        if (obj) {
          const body = (await obj.json()) as PendingMessage;
          await recordEvents(env.CAMPAIGN, body.plan, body.events, body.jurisdiction ?? null);
          events += body.events.length;
        }
        // Recorded (or already gone): the objects keep the receipts, so a crash before this delete is harmless.
        await bucket.delete(key);
        swept++;
      } catch (err) {
        failed++;
        logLine("warn", "spooled events could not be recorded yet; kept for the next run", { key, error: err });
      }
    }
  }
  return { swept, events, failed };
}

/** What waits in the spool (both jurisdictions): files, and when the oldest of them was spooled. */
export async function spoolBacklog(env: { ARCHIVE: R2Bucket; ARCHIVE_EU: R2Bucket }, limit = 1000): Promise<SpoolBacklog> {
  let files = 0;
  let spooled: number | null = null;
  let received: number | null = null;
  let more = false;
  for (const bucket of [env.ARCHIVE, env.ARCHIVE_EU]) {
    const page = await bucket.list({ prefix: SPOOL_PREFIX, limit });
    files += page.objects.length;
    more ||= page.truncated;
    // When it was written (a dead letter can be old when it is spooled), and the receive time its key names.
    for (const { key, uploaded } of page.objects) {
      spooled = Math.min(spooled ?? Number.POSITIVE_INFINITY, uploaded.getTime());
      const at = spooledAt(key);
      if (at !== null) received = Math.min(received ?? Number.POSITIVE_INFINITY, at);
    }
  }
  return { files, more, oldest_spooled_at: spooled, oldest_received_at: received };
}
