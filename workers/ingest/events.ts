/** `POST /v1/events`: a publisher's batch of click events, JSON array or NDJSON. */
import { logLine } from "../../domain/log";
import { hashIp } from "../../domain/crypto";
import { edgeContext } from "../../domain/edge";
import { ApiError } from "../../domain/errors";
import { newClickEvent } from "../../domain/click-event";
import type { ClickEvent } from "../../domain/event";
import { getAdsCached, type AdRecord } from "../../domain/registry";
import { describeIssues, postedEvent, type PostedEvent } from "../../domain/schemas";
import { MAX_EVENT_AGE_MS, MAX_EVENT_SKEW_MS } from "../../domain/time";
import { bufferName, bufferSlots } from "../../domain/buffer";
import { bufferEvents, recordDurably } from "../../durable-objects/client";
import { readBody } from "../http";
import type { Publisher } from "./auth";
import { keyWithinLimit } from "./limits";

import { MAX_BODY_BYTES, MAX_EVENTS } from "../../domain/limits";

export interface Rejection {
  index: number;
  code: string;
  message: string;
}

type Item = { ok: true; value: unknown } | { ok: false; message: string };

/**
 * A JSON array, or NDJSON (one JSON object per line). A broken NDJSON line rejects only that event; a
 * body that is neither (plain text, `null`, a number) is refused whole.
 */
export function splitEvents(text: string, noun = "events"): Item[] {
  const body = text.trim();
  if (body === "") throw new ApiError(400, "empty_body", `Send a JSON array or NDJSON of ${noun}.`);
  if (!body.startsWith("[") && !body.startsWith("{")) {
    throw new ApiError(400, "invalid_json", `The body must be a JSON array of ${noun} or NDJSON, one JSON object per line.`);
  }
  if (body.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      throw new ApiError(400, "invalid_json", `The body is not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(parsed)) throw new ApiError(400, "invalid_json", `The body must be a JSON array of ${noun}.`);
    if (parsed.length > MAX_EVENTS) throw new ApiError(413, "too_many_events", `At most ${MAX_EVENTS} ${noun} per request.`);
    return parsed.map((value) => ({ ok: true, value }));
  }
  const lines = body.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length > MAX_EVENTS) throw new ApiError(413, "too_many_events", `At most ${MAX_EVENTS} ${noun} per request.`);
  return lines.map((line) => {
    try {
      return { ok: true, value: JSON.parse(line) };
    } catch (err) {
      return { ok: false, message: `not valid JSON: ${(err as Error).message}` };
    }
  });
}

function rejectionFor(index: number, value: unknown): Rejection | PostedEvent {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { index, code: "invalid_event", message: "each event must be a JSON object" };
  }
  const r = postedEvent.safeParse(value);
  if (r.success) return r.data;
  const missing = r.error.issues.find(
    (i) => (i.path[0] === "event_id" || i.path[0] === "ad_id") && (i.code === "invalid_type" || i.code === "too_small"),
  );
  if (missing) return { index, code: "missing_field", message: `${String(missing.path[0])} is required` };
  return { index, code: "invalid_field", message: describeIssues(r.error) };
}

/** The publisher has been authenticated by the route (its definition says `auth: "publisher"`). */
export async function handlePostEvents(req: Request, env: IngestEnv, publisher: Publisher): Promise<Response> {
  const publisherId = publisher.publisher_id;
  const gated = { kind: "publisher", id: publisherId, limits: publisher.limits } as const;
  // Before the body is read: an over-limit publisher costs us as little as possible.
  await keyWithinLimit(env.KEY_GATE, gated);
  const items = splitEvents(await readBody(req, MAX_BODY_BYTES));
  const now = Date.now();
  const rejected: Rejection[] = [];
  const valid: { index: number; e: PostedEvent }[] = [];
  for (const [index, item] of items.entries()) {
    if (!item.ok) {
      rejected.push({ index, code: "invalid_json", message: item.message });
      continue;
    }
    const r = rejectionFor(index, item.value);
    if ("code" in r) {
      rejected.push(r);
    } else if (r.timestamp < now - MAX_EVENT_AGE_MS || r.timestamp > now + MAX_EVENT_SKEW_MS) {
      rejected.push({
        index,
        code: "timestamp_out_of_range",
        message: "timestamp must lie within the last 7 days and at most 5 minutes ahead",
      });
    } else {
      valid.push({ index, e: r });
    }
  }

  // The events count against the publisher's events a second; a batch that does not fit is refused whole.
  if (valid.length) await keyWithinLimit(env.KEY_GATE, gated, valid.length);
  const ads = await getAdsCached(
    env.DB,
    valid.map((v) => v.e.ad_id),
  );
  const edge = edgeContext(req);
  const ipHashes = new Map<string, Promise<string>>();
  const ipHash = (ip: string) => {
    let h = ipHashes.get(ip);
    if (!h) ipHashes.set(ip, (h = hashIp(env.IP_HASH_KEY, ip)));
    return h;
  };

  // Events of one campaign are recorded together, in the order they were posted.
  const groups = new Map<string, { ad: AdRecord; items: { index: number; event: ClickEvent }[] }>();
  for (const { index, e } of valid) {
    const ad = ads.get(e.ad_id);
    if (!ad) {
      rejected.push({ index, code: "unknown_ad", message: `no ad with id ${e.ad_id}` });
      continue;
    }
    const event = newClickEvent(ad, edge, {
      event_id: e.event_id,
      timestamp: e.timestamp,
      received_at: now,
      source: "api",
      publisher_id: publisherId,
      user_id: e.user_id,
      ip_hash: await ipHash(e.ip_address ?? edge.ip),
      user_agent: e.user_agent,
      referer: e.referer,
      device_type: e.device_type,
      os: e.os,
      country: e.country,
      city: e.city,
      cost_per_click: e.cost_per_click,
      ad_format: e.ad_format ?? ad.ad_format,
    });
    let g = groups.get(ad.campaign_id);
    if (!g) groups.set(ad.campaign_id, (g = { ad, items: [] }));
    g.items.push({ index, event });
  }

  let accepted = 0;
  // One row in the nearby edge buffer per jurisdiction for the whole request; the buffer forwards each
  // campaign's events.
  for (const jurisdiction of new Set([...groups.values()].map((g) => g.ad.jurisdiction))) {
    const mine = [...groups].filter(([, g]) => g.ad.jurisdiction === jurisdiction);
    try {
      const routes = Object.fromEntries(mine.map(([campaignId, g]) => [campaignId, { shard_plan: g.ad.shard_plan, jurisdiction }]));
      const events = mine.flatMap(([, g]) => g.items.map((i) => i.event));
      await bufferEvents(env, bufferName(edge.colo, publisherId, bufferSlots(env)), events, routes, jurisdiction);
      accepted += events.length;
      for (const [campaignId] of mine) groups.delete(campaignId);
    } catch (err) {
      logLine("warn", "edge buffer unavailable; recording through the fallbacks", { publisher_id: publisherId, error: err });
    }
  }
  await Promise.all(
    [...groups.values()].map(async (g) => {
      try {
        await recordDurably(
          env,
          g.ad,
          g.items.map((i) => i.event),
        );
        accepted += g.items.length;
      } catch (err) {
        logLine("error", "events could not be recorded", { campaign_id: g.ad.campaign_id, events: g.items.length, error: err });
        for (const { index } of g.items) {
          rejected.push({ index, code: "unavailable", message: "could not be recorded right now; send it again" });
        }
      }
    }),
  );
  rejected.sort((a, b) => a.index - b.index);
  return Response.json({ accepted, rejected }, { status: 202, headers: { "Cache-Control": "no-store" } });
}
