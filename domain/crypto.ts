/** Hashing, keyed hashes, signatures and identifiers. Web Crypto only, so it runs in workerd and Node alike. */

const enc = new TextEncoder();

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

export function toBase64Url(bytes: ArrayBuffer | Uint8Array): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let bin = "";
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", enc.encode(text)));
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    hmacKeys.set(secret, key);
  }
  return key;
}

export async function hmac(secret: string, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), enc.encode(message)));
}

/** Constant-time check of an HMAC-SHA256 tag (Web Crypto's verify compares in constant time). */
export async function hmacVerify(secret: string, message: string, tag: Uint8Array): Promise<boolean> {
  return crypto.subtle.verify("HMAC", await hmacKey(secret), tag, enc.encode(message));
}

/**
 * The only form in which an IP address is kept: a keyed hash (HMAC-SHA256, first 16 bytes, base64url).
 * Without the key, the 2^32 IPv4 addresses cannot be enumerated back from it.
 */
export async function hashIp(key: string, ip: string): Promise<string> {
  return toBase64Url((await hmac(key, `ip:${ip.trim().toLowerCase()}`)).slice(0, 16));
}

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

const B32 = "abcdefghijkmnpqrstuvwxyz23456789"; // no l, o, 0, 1: ids get read aloud and typed

/** A short random id with a readable prefix, e.g. `ad_k3x9…` (16 chars = 80 bits). */
export function newId(prefix: string): string {
  let s = "";
  for (const b of randomBytes(16)) s += B32[b & 31];
  return `${prefix}_${s}`;
}

/** A new API key (256 bits). Only its SHA-256 is stored. */
export function newApiKey(kind: "adv" | "pub"): string {
  return `ek_${kind}_${toBase64Url(randomBytes(32))}`;
}

/** Constant-time string equality for secrets of possibly different lengths. */
export async function secretEquals(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([sha256Hex(`eq:${a}`), sha256Hex(`eq:${b}`)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x.charCodeAt(i) ^ y.charCodeAt(i);
  return diff === 0;
}
