/**
 * Signed click links: `sig = <key id>.<base64url HMAC-SHA256 over "ad_id|pub">`. Two keys are active at a
 * time (`CLICK_SIGNING_KEYS = "new:secret,old:secret"`): links are signed with the first and verified
 * with whichever key id they name, so keys rotate without breaking links already out there.
 */
import { fromBase64Url, hmac, hmacVerify, toBase64Url } from "./crypto";

export interface SigningKey {
  id: string;
  secret: string;
}

export function parseSigningKeys(spec: string | undefined): SigningKey[] {
  return (spec ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const i = part.indexOf(":");
      return i > 0 ? { id: part.slice(0, i), secret: part.slice(i + 1) } : null;
    })
    .filter((k): k is SigningKey => k !== null && /^[A-Za-z0-9_-]{1,16}$/.test(k.id) && k.secret.length >= 8)
    .slice(0, 2);
}

const message = (adId: string, pub: string) => `click:v1|${adId}|${pub}`;

export async function signClick(keys: SigningKey[], adId: string, pub: string): Promise<string> {
  const key = keys[0];
  if (!key) throw new Error("CLICK_SIGNING_KEYS has no usable key");
  return `${key.id}.${toBase64Url(await hmac(key.secret, message(adId, pub)))}`;
}

/** True when `sig` is a valid signature of this ad and publisher under one of the active keys. */
export async function verifyClick(keys: SigningKey[], adId: string, pub: string, sig: string): Promise<boolean> {
  const dot = sig.indexOf(".");
  if (dot <= 0) return false;
  const key = keys.find((k) => k.id === sig.slice(0, dot));
  const tag = fromBase64Url(sig.slice(dot + 1));
  if (!key || !tag || tag.length !== 32) return false;
  return hmacVerify(key.secret, message(adId, pub), tag);
}
