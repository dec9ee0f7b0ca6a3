import type { ClickEvent } from "../../domain/event";

let n = 0;

/** A clean, plausible click event; override what a test is about. */
export function makeEvent(over: Partial<ClickEvent> = {}): ClickEvent {
  n++;
  const now = over.received_at ?? Date.now();
  return {
    event_id: `ev-${n}-${Math.random().toString(36).slice(2)}`,
    uid: `r-${n}-${Math.random().toString(36).slice(2)}`,
    timestamp: now,
    received_at: now,
    source: "api",
    advertiser_id: "adv_test",
    campaign_id: "cmp_test",
    ad_id: "ad_test",
    publisher_id: null,
    user_id: `user-${n}`,
    ip_hash: `ip-${n}`,
    user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
    referer: null,
    device_type: "desktop",
    os: "Windows",
    browser: "Chrome",
    country: "US",
    edge_country: "XX",
    city: null,
    asn: null,
    colo: null,
    cost_per_click: 0.5,
    ad_format: null,
    ad_group_id: null,
    variant: null,
    x: null,
    y: null,
    w: null,
    h: null,
    signature: "none",
    rate_limited: false,
    click_id: null,
    ...over,
  };
}

export const uniq = (prefix: string) => `${prefix}_${crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`;
