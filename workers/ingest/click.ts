/** `GET /click`: record the click durably, then send the browser to the ad's registered landing page. */
import { logLine } from "../../domain/log";
import { hashIp, newId } from "../../domain/crypto";
import { edgeContext } from "../../domain/edge";
import { ApiError, errorResponse } from "../../domain/errors";
import { newClickEvent } from "../../domain/click-event";
import { mintClickId, withQueryParam } from "../../domain/click-id";
import type { ClickEvent } from "../../domain/event";
import { getAdCached } from "../../domain/registry";
import { pickVariant } from "../../domain/variants";
import { idParam, parseClickParams, type ClickRequest } from "../../domain/schemas";
import { parseSigningKeys, verifyClick, type SigningKey } from "../../domain/signing";
import { recordClickDurably } from "../../durable-objects/client";
import { clickWithinLimit } from "./limits";

/** First-party cookie that identifies a browser when the link carries no user_id. */
const USER_COOKIE = "ec_uid";

function cookie(req: Request, name: string): string | null {
  const header = req.headers.get("Cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) {
      const value = v.join("=");
      return /^[A-Za-z0-9_-]{8,64}$/.test(value) ? value : null;
    }
  }
  return null;
}

/** A signed link's verdict; a link without `pub` and `sig` is simply unsigned. */
async function signatureOf(params: ClickRequest, pub: string | null, adId: string, keys: SigningKey[]): Promise<ClickEvent["signature"]> {
  if (!params.signed) return "none";
  const { sig } = params;
  if (pub === null || sig === undefined) return "invalid";
  return (await verifyClick(keys, adId, pub, sig)) ? "valid" : "invalid";
}

export async function handleClick(req: Request, env: IngestEnv): Promise<Response> {
  const url = new URL(req.url);
  const params = parseClickParams(url.searchParams);
  const edge = edgeContext(req);
  const ipHash = hashIp(env.IP_HASH_KEY, edge.ip);
  // The limiter and the registry are asked at once: the limit adds no latency to a click.
  const [ad, allowed] = await Promise.all([getAdCached(env.DB, params.ad_id), ipHash.then((h) => clickWithinLimit(env.CLICK_LIMITER, h))]);
  if (!ad) throw new ApiError(404, "unknown_ad", `No ad with id ${params.ad_id}.`);

  // The claimed publisher, if it is at least a well-formed id (a forged link's is kept for fraud analysis).
  const pub = params.pub !== undefined && idParam.safeParse(params.pub).success ? params.pub : null;
  const keys = parseSigningKeys(env.CLICK_SIGNING_KEYS);
  const signature = await signatureOf(params, pub, ad.ad_id, keys);
  // HEAD is what link checkers and unfurlers send: same answer, but it is not a person clicking.
  const record = req.method !== "HEAD";
  const cookieUser = cookie(req, USER_COOKIE);
  const newUser = record && !params.user_id && !cookieUser ? newId("u") : null;
  const now = Date.now();
  const userId = params.user_id ?? cookieUser ?? newUser;
  // An experiment's ad picks the variant (sticky per user); otherwise a link may label its own.
  const chosen = ad.variants ? pickVariant(ad.variants, ad.ad_id, userId) : null;
  const event = newClickEvent(ad, edge, {
    event_id: crypto.randomUUID(),
    timestamp: now,
    received_at: now,
    source: "click",
    publisher_id: pub,
    user_id: userId,
    ip_hash: await ipHash,
    user_agent: edge.user_agent,
    referer: edge.referer,
    city: edge.city,
    asn: edge.asn,
    ad_format: ad.ad_format ?? params.ad_format ?? null,
    variant: chosen ? chosen.name : params.variant,
    x: params.x,
    y: params.y,
    w: params.w,
    h: params.h,
    signature,
    // Over the per-IP limit the person is still sent on; the click is recorded and judged invalid.
    rate_limited: !allowed,
  });

  // Minted for recorded clicks only: a HEAD has no click to convert. The token is made from the event itself,
  // so a conversion lands in exactly the cell its click was counted in.
  if (record) event.click_id = await mintClickId(keys, ad.advertiser_id, event);

  if (record) {
    try {
      await recordClickDurably(env, ad, event);
    } catch (err) {
      // Nothing took the click. The person still gets where they were going.
      logLine("error", "click could not be recorded", { campaign_id: event.campaign_id, event_id: event.event_id, error: err });
    }
  }

  if (signature === "invalid") {
    return errorResponse(403, "bad_signature", "This link's signature does not match its ad and publisher.");
  }
  const landing = chosen ? chosen.landing_url : ad.landing_url;
  const location = event.click_id && ad.click_id_param ? withQueryParam(landing, ad.click_id_param, event.click_id) : landing;
  const headers = new Headers({ Location: location, "Cache-Control": "no-store" });
  if (newUser) {
    const secure = url.protocol === "https:" ? "; Secure" : "";
    headers.append("Set-Cookie", `${USER_COOKIE}=${newUser}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax${secure}`);
  }
  return new Response(null, { status: 302, headers });
}
