/**
 * Click ids: what a `/click` adds to its landing page so the advertiser can report a conversion later.
 * A click id is a signed token that carries everything attribution needs (the click's campaign, ad, ad
 * group, cell dimensions and time), so a conversion is attributed without a lookup row per click:
 * `<key id>.<base64url JSON claims>.<base64url HMAC>`. The MAC covers the advertiser id, which the token
 * does not carry, so a click id is only valid in its own advertiser's hands; a random nonce makes every
 * click id unique and unguessable. Keys are the click-signing keys (domain/signing.ts), so they rotate the
 * same way: minted with the first, read with whichever key id the token names.
 */
import type { ClickClaims } from "./conversion";
import { fromBase64Url, hmac, toBase64Url } from "./crypto";
import { CLICK_ID_MAX } from "./limits";

export type { ClickClaims };
import type { SigningKey } from "./signing";

/** Bytes of the MAC kept: 128 bits, unforgeable, and short in a URL. */
const TAG_BYTES = 16;

const message = (advertiserId: string, payload: string) => `click_id:v1|${advertiserId}|${payload}`;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

type Packed = [string, string, string, string, string, string, string, string, string, number, string];

/** base64url bytes, or null for text that is not (atob throws on a length no encoder makes). */
function decode(s: string): Uint8Array | null {
  try {
    return fromBase64Url(s);
  } catch {
    return null;
  }
}

/** A new click id for a click of `advertiserId`'s ad, or null when no signing key is configured. */
export async function mintClickId(keys: SigningKey[], advertiserId: string, c: ClickClaims): Promise<string | null> {
  const key = keys[0];
  if (!key) return null;
  const nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(9)));
  const packed: Packed = [
    c.campaign_id,
    c.ad_id,
    c.ad_group_id ?? "",
    c.publisher_id ?? "",
    c.variant ?? "",
    c.country,
    c.device_type,
    c.os,
    c.ad_format ?? "",
    c.timestamp,
    nonce,
  ];
  const payload = toBase64Url(utf8.encode(JSON.stringify(packed)));
  const tag = (await hmac(key.secret, message(advertiserId, payload))).slice(0, TAG_BYTES);
  return `${key.id}.${payload}.${toBase64Url(tag)}`;
}

/**
 * The claims of a click id minted for `advertiserId`, or null for anything else: malformed, forged, made
 * under a retired key, or another advertiser's (the caller cannot tell these apart, on purpose).
 */
export async function readClickId(keys: SigningKey[], advertiserId: string, clickId: string): Promise<ClickClaims | null> {
  if (typeof clickId !== "string" || clickId.length > CLICK_ID_MAX) return null;
  const parts = clickId.split(".");
  if (parts.length !== 3) return null;
  const [kid, payload, mac] = parts;
  const key = keys.find((k) => k.id === kid);
  const tag = decode(mac);
  if (!key || !tag || tag.length !== TAG_BYTES || !/^[A-Za-z0-9_-]+$/.test(payload)) return null;
  // Web Crypto verifies full tags only: recompute and compare the kept bytes in constant time.
  const full = await hmac(key.secret, message(advertiserId, payload));
  let diff = 0;
  for (let i = 0; i < TAG_BYTES; i++) diff |= full[i] ^ tag[i];
  if (diff !== 0) return null;
  let p: unknown;
  try {
    p = JSON.parse(fromUtf8.decode(decode(payload)!));
  } catch {
    return null;
  }
  if (!Array.isArray(p) || p.length !== 11 || typeof p[9] !== "number") return null;
  const s = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  const [campaign, ad, group, pub, variant, country, device, os, format, timestamp] = p as Packed;
  return {
    campaign_id: campaign,
    ad_id: ad,
    ad_group_id: s(group),
    publisher_id: s(pub),
    variant: s(variant),
    country,
    device_type: device,
    os,
    ad_format: s(format),
    timestamp,
  };
}

/**
 * The landing URL with one query parameter added, and nothing else changed: the query string and the
 * fragment stay byte for byte as registered (a URL parser would re-encode them).
 */
export function withQueryParam(url: string, name: string, value: string): string {
  const hash = url.indexOf("#");
  const base = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? "" : url.slice(hash);
  const sep = !base.includes("?") ? "?" : base.endsWith("?") || base.endsWith("&") ? "" : "&";
  return `${base}${sep}${encodeURIComponent(name)}=${encodeURIComponent(value)}${fragment}`;
}
