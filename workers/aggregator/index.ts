/**
 * edgeclick-aggregator: the queue consumer. Recorded events become Parquet files in R2 (one per message
 * and hour, named by the message's stable id, so a redelivered message overwrites its own files and
 * never makes a second copy). Events that reached the queue uncounted are handed to their campaign object.
 *
 * It also drains the dead-letter queue, so nothing waits there for a person: a recorded message is
 * dropped (its campaign object keeps the events in its log and sends them again until the archive
 * confirms), and uncounted events are written to the R2 spool, which the billing cron hands to their
 * objects (receipts make every repeat harmless).
 */
import { logLine } from "../../domain/log";
import { spoolKey } from "../../domain/archive-layout";
import { archiveFor } from "../../domain/jurisdiction";
import { DEAD_LETTER_QUEUE, unpackEvents, type EventsMessage } from "../../domain/messages";
import { campaignStub, recordEvents } from "../../durable-objects/client";
import { archiveMessage } from "./archive";

type Body = EventsMessage;

async function handleMessage(body: Body, env: AggregatorEnv): Promise<void> {
  if (body?.kind === "recorded") {
    await archiveMessage(archiveFor(env, body.jurisdiction), body.id, unpackEvents(body));
    // Only now may the object drop these events from its log; until it hears this it sends them again.
    await campaignStub(env.CAMPAIGN, body.campaign_id, body.shard, body.jurisdiction ?? null).archived([body.id]);
  } else if (body?.kind === "pending") {
    // The campaign object recognises receipts it already recorded, so a retry here counts nothing twice.
    await recordEvents(env.CAMPAIGN, body.plan, body.events, body.jurisdiction ?? null);
  } else {
    throw new Error(`unknown message ${JSON.stringify(body)?.slice(0, 200)}`);
  }
}

/** A message that failed every retry: what to do with it so that nothing is lost or counted twice. */
async function handleDeadLetter(body: Body, env: AggregatorEnv): Promise<"dropped" | "spooled"> {
  if (body?.kind === "pending") {
    const first = body.events[0];
    if (!first) return "dropped";
    await archiveFor(env, body.jurisdiction).put(spoolKey(first.received_at, first.uid), JSON.stringify(body), {
      httpMetadata: { contentType: "application/json" },
    });
    return "spooled";
  }
  logLine("info", "dead letter dropped", { kind: body?.kind ?? null, message_id: body?.kind === "recorded" ? body.id : null });
  return "dropped";
}

export default {
  async queue(batch, env) {
    if (batch.queue === DEAD_LETTER_QUEUE) {
      for (const msg of batch.messages) {
        try {
          await handleDeadLetter(msg.body, env);
          msg.ack();
        } catch (err) {
          logLine("error", "dead letter could not be handled; will retry", { message_id: msg.id, error: err });
          msg.retry({ delaySeconds: 60 });
        }
      }
      return;
    }
    // One message at a time: encoding a message's Parquet is a few ms of CPU, and starting a whole batch's
    // at once would run them all in one uninterrupted turn, stalling everything else on the isolate's thread
    // (locally that includes /click) for hundreds of milliseconds.
    for (const msg of batch.messages) {
      try {
        await handleMessage(msg.body, env);
        msg.ack();
      } catch (err) {
        logLine("warn", "queue message failed; will retry", { message_id: msg.id, attempts: msg.attempts, error: err });
        msg.retry({ delaySeconds: Math.min(60, 2 ** msg.attempts) });
      }
    }
  },
} satisfies ExportedHandler<AggregatorEnv, Body>;
