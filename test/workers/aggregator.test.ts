import { describe, expect, it } from "vitest";
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import aggregator from "../../workers/aggregator/index";
import { archiveKey, spoolKey } from "../../domain/archive-layout";
import { decodeArchive } from "../../domain/parquet";
import type { RecordedEvent } from "../../domain/event";
import { packEvents, type ArchiveMessage } from "../../domain/messages";
import { makeEvent, uniq } from "./fixtures";
import { testEnv } from "./helpers";

const recorded = (over: Parameters<typeof makeEvent>[0], seq: number): RecordedEvent => ({
  ...makeEvent(over),
  verdict: "clean",
  reason: null,
  late: false,
  shard: 0,
  seq,
});

const message = (id: string, events: RecordedEvent[]): ArchiveMessage => ({
  v: 2,
  kind: "recorded",
  id,
  campaign_id: uniq("cmp"),
  shard: 0,
  jurisdiction: null,
  packed: packEvents(events),
});

async function deliver(messages: { id: string; body: unknown; attempts?: number }[], queue = "edgeclick-events") {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({ id: m.id, timestamp: Date.now(), attempts: m.attempts ?? 1, body: m.body })),
  );
  const ctx = createExecutionContext();
  await aggregator.queue(batch as never, testEnv);
  return getQueueResult(batch, ctx);
}

describe("aggregator (queue consumer)", () => {
  it("archives each message on its own: good ones are acked and written, a bad one alone is retried", async () => {
    const env = testEnv;
    const hour = Date.parse("2026-11-20T10:15:00Z");
    const a = [recorded({ event_id: uniq("e"), timestamp: hour }, 1), recorded({ event_id: uniq("e"), timestamp: hour + 1000 }, 2)];
    const c = [recorded({ event_id: uniq("e"), timestamp: hour + 3_600_000 }, 3)];
    const ids = { a: uniq("msg"), b: uniq("msg"), c: uniq("msg") };
    const result = await deliver([
      { id: "q-a", body: message(ids.a, a) },
      { id: "q-b", body: { v: 2, kind: "nonsense" } },
      { id: "q-c", body: message(ids.c, c) },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["q-a", "q-c"]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["q-b"]);
    expect(result.ackAll).toBe(false);
    expect(result.retryBatch.retry).toBe(false);

    const fileA = await env.ARCHIVE.get(archiveKey(ids.a, hour));
    const fileC = await env.ARCHIVE.get(archiveKey(ids.c, hour + 3_600_000));
    expect((await decodeArchive(await fileA!.arrayBuffer(), ["event_id"])).map((r) => r.event_id)).toEqual(a.map((e) => e.event_id));
    expect((await decodeArchive(await fileC!.arrayBuffer(), ["event_id"])).map((r) => r.event_id)).toEqual(c.map((e) => e.event_id));
  });

  it("a redelivered message rewrites its own file and makes no second copy", async () => {
    const env = testEnv;
    const hour = Date.parse("2026-11-20T12:00:00Z");
    const events = [recorded({ event_id: uniq("e"), timestamp: hour }, 1)];
    const id = uniq("msg");
    const body = message(id, events);
    await deliver([{ id: "q-1", body }]);
    const again = await deliver([{ id: "q-1", body, attempts: 2 }]);
    expect(again.explicitAcks).toEqual(["q-1"]);
    const listed = await env.ARCHIVE.list({ prefix: "raw/" });
    expect(listed.objects.filter((o) => o.key.includes(id)).map((o) => o.key)).toEqual([archiveKey(id, hour)]);
  });

  it("drains the dead-letter queue: uncounted events go to the R2 spool, recorded ones are dropped (their objects resend them)", async () => {
    const pendingEvent = makeEvent({ campaign_id: uniq("cmp") });
    const pending = { v: 1, kind: "pending", plan: [[0, 1]], jurisdiction: null, events: [pendingEvent] };
    const recordedId = uniq("msg");
    const result = await deliver(
      [
        { id: "d-1", body: pending },
        { id: "d-2", body: message(recordedId, [recorded({ event_id: uniq("e") }, 1)]) },
      ],
      "edgeclick-events-dlq",
    );
    expect(result.explicitAcks.sort()).toEqual(["d-1", "d-2"]);
    const spooled = await testEnv.ARCHIVE.get(spoolKey(pendingEvent.received_at, pendingEvent.uid));
    expect(await spooled!.json()).toEqual(pending);
    // Nothing was archived for the recorded one: its object keeps it and sends it again.
    expect((await testEnv.ARCHIVE.list({ prefix: "raw/" })).objects.filter((o) => o.key.includes(recordedId))).toEqual([]);
  });
});
