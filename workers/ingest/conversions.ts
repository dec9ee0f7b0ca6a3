/** `POST /v1/conversions`: an advertiser reports what happened after its clicks, JSON array or NDJSON. */
import { readClickId, type ClickClaims } from "../../domain/click-id";
import type { Conversion } from "../../domain/conversion";
import { stubIn } from "../../domain/jurisdiction";
import { MAX_BODY_BYTES } from "../../domain/limits";
import { logLine } from "../../domain/log";
import { getAdsCached } from "../../domain/registry";
import { describeIssues, postedConversion, type PostedConversion } from "../../domain/schemas";
import { parseSigningKeys } from "../../domain/signing";
import { DAY, MAX_EVENT_SKEW_MS } from "../../domain/time";
import { readBody } from "../http";
import type { Advertiser } from "./auth";
import { splitEvents, type Rejection } from "./events";
import { keyWithinLimit } from "./limits";

const UNKNOWN_CLICK = "no click of yours with this click id within the campaign's attribution window";

function parseItem(index: number, value: unknown, now: number): Rejection | PostedConversion {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { index, code: "invalid_conversion", message: "each conversion must be a JSON object" };
  }
  const r = postedConversion.safeParse(value);
  if (!r.success) {
    const missing = r.error.issues.find(
      (i) => (i.path[0] === "conversion_id" || i.path[0] === "click_id") && (i.code === "invalid_type" || i.code === "too_small"),
    );
    if (missing) return { index, code: "missing_field", message: `${String(missing.path[0])} is required` };
    return { index, code: "invalid_field", message: describeIssues(r.error, undefined, value) };
  }
  if (r.data.timestamp !== undefined && r.data.timestamp > now + MAX_EVENT_SKEW_MS) {
    return { index, code: "invalid_field", message: "timestamp: must be at most 5 minutes ahead" };
  }
  return r.data;
}

/** The advertiser has been authenticated by the route (its definition says `auth: "advertiser"`). */
export async function handlePostConversions(req: Request, env: IngestEnv, advertiser: Advertiser): Promise<Response> {
  const advertiserId = advertiser.advertiser_id;
  const gated = { kind: "advertiser", id: advertiserId, limits: advertiser.limits } as const;
  // Before the body is read, as for a publisher's events: an over-limit advertiser costs us as little as possible.
  await keyWithinLimit(env.KEY_GATE, gated);
  const items = splitEvents(await readBody(req, MAX_BODY_BYTES), "conversions");
  const now = Date.now();
  const keys = parseSigningKeys(env.CLICK_SIGNING_KEYS);
  const rejected: Rejection[] = [];
  const valid: { index: number; c: PostedConversion; click: ClickClaims }[] = [];
  for (const [index, item] of items.entries()) {
    if (!item.ok) {
      rejected.push({ index, code: "invalid_json", message: item.message });
      continue;
    }
    const r = parseItem(index, item.value, now);
    if ("code" in r) {
      rejected.push(r);
      continue;
    }
    // Malformed, forged, another advertiser's: all the same answer, so a click id's owner cannot be probed.
    const click = await readClickId(keys, advertiserId, r.click_id);
    if (click) valid.push({ index, c: r, click });
    else rejected.push({ index, code: "unknown_click", message: UNKNOWN_CLICK });
  }

  const ads = await getAdsCached(
    env.DB,
    valid.map((v) => v.click.ad_id),
  );
  const conversions: { index: number; conversion: Conversion }[] = [];
  for (const { index, c, click } of valid) {
    const ad = ads.get(click.ad_id);
    const inWindow = ad && click.timestamp >= now - ad.attribution_window_days * DAY && click.timestamp <= now + MAX_EVENT_SKEW_MS;
    if (!ad || ad.advertiser_id !== advertiserId || ad.campaign_id !== click.campaign_id || !inWindow) {
      rejected.push({ index, code: "unknown_click", message: UNKNOWN_CLICK });
      continue;
    }
    const { timestamp: click_timestamp, ...claims } = click;
    conversions.push({
      index,
      conversion: {
        ...claims,
        conversion_id: c.conversion_id,
        click_id: c.click_id,
        advertiser_id: advertiserId,
        click_timestamp,
        timestamp: c.timestamp ?? now,
        received_at: now,
        name: c.name ?? null,
        value: c.value ?? null,
        currency: c.currency ?? null,
      },
    });
  }

  // Only what would be recorded counts; a batch that does not fit is refused whole.
  if (conversions.length) await keyWithinLimit(env.KEY_GATE, gated, conversions.length);
  let accepted = 0;
  if (conversions.length) {
    // Every ad of one advertiser lives in the advertiser's jurisdiction, and so does its ledger.
    const jurisdiction = ads.get(conversions[0].conversion.ad_id)?.jurisdiction ?? null;
    try {
      await stubIn(env.CONVERSIONS, jurisdiction, advertiserId).record(conversions.map((c) => c.conversion));
      // A repeated conversion_id is accepted (a resend must be safe) and counted once.
      accepted = conversions.length;
    } catch (err) {
      logLine("error", "conversions could not be recorded", { advertiser_id: advertiserId, conversions: conversions.length, error: err });
      for (const { index } of conversions) {
        rejected.push({ index, code: "unavailable", message: "could not be recorded right now; send it again" });
      }
    }
  }
  rejected.sort((a, b) => a.index - b.index);
  return Response.json({ accepted, rejected }, { status: 202, headers: { "Cache-Control": "no-store" } });
}
