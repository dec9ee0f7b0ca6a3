/**
 * The event the edge records for a click, built in one place for `GET /click` and `POST /v1/events`. Apart
 * from domain/event.ts (the shape) because it needs Web Crypto and the User-Agent parser, which the Node-side
 * readers of the shape (the archive reader, benchmarks, end-to-end tests) do not.
 */
import { newId } from "./crypto";
import type { EdgeContext } from "./edge";
import type { ClickEvent } from "./event";
import type { AdRecord } from "./registry";
import { normalizeUserAgent, parseUserAgent } from "./useragent";

/**
 * What a request tells about one click, beyond its ad and where it came in: the `/click` link and its
 * browser, or a posted event (whose own country, device type and OS win over what the edge and the
 * User-Agent say). Left out: null, unsigned, not rate limited, at the ad's price.
 */
export type ClickFields = Pick<
  ClickEvent,
  "event_id" | "timestamp" | "received_at" | "source" | "publisher_id" | "ip_hash" | "ad_format"
> & { [K in OptionalField]?: ClickEvent[K] | null } & {
  user_agent: string | null | undefined;
  device_type?: string | null;
  os?: string | null;
};

type OptionalField =
  | "user_id"
  | "referer"
  | "country"
  | "city"
  | "asn"
  | "cost_per_click"
  | "variant"
  | "click_id"
  | "x"
  | "y"
  | "w"
  | "h"
  | "signature"
  | "rate_limited";

/** The event the edge records for a click, with a new receipt id (`uid`). */
export function newClickEvent(
  ad: Pick<AdRecord, "advertiser_id" | "campaign_id" | "ad_id" | "cost_per_click"> &
    Partial<Pick<AdRecord, "ad_group_id" | "daily_budget">>,
  edge: Pick<EdgeContext, "country" | "colo">,
  f: ClickFields,
): ClickEvent {
  const ua = parseUserAgent(f.user_agent);
  return {
    event_id: f.event_id,
    uid: newId("r"),
    timestamp: f.timestamp,
    received_at: f.received_at,
    source: f.source,
    advertiser_id: ad.advertiser_id,
    campaign_id: ad.campaign_id,
    ad_id: ad.ad_id,
    publisher_id: f.publisher_id,
    user_id: f.user_id ?? null,
    ip_hash: f.ip_hash,
    user_agent: normalizeUserAgent(f.user_agent) || null,
    referer: f.referer ?? null,
    device_type: f.device_type ?? ua.device_type,
    os: f.os ?? ua.os,
    browser: ua.browser,
    country: f.country ?? edge.country,
    edge_country: edge.country,
    city: f.city ?? null,
    asn: f.asn ?? null,
    colo: edge.colo,
    cost_per_click: f.cost_per_click ?? ad.cost_per_click,
    daily_budget: ad.daily_budget ?? null,
    ad_format: f.ad_format,
    ad_group_id: ad.ad_group_id ?? null,
    variant: f.variant ?? null,
    x: f.x ?? null,
    y: f.y ?? null,
    w: f.w ?? null,
    h: f.h ?? null,
    signature: f.signature ?? "none",
    rate_limited: f.rate_limited ?? false,
    click_id: f.click_id ?? null,
  };
}
