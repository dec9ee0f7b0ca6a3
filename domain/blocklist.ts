/**
 * Known bad actors: blocked IPs (as keyed hashes) and User-Agents. Campaign objects test every event
 * against a Bloom filter (domain/bloom.ts, sized for 1M entries at 0.1 % false positives) cached in their
 * isolate, so a click costs no lookup elsewhere; only a Bloom hit is confirmed against the exact set,
 * which keeps the verdict exact. The cache re-checks the filter's version at most once a second, and
 * `POST /v1/admin/blocklist` answers only after that second, so every click received after the answer
 * is judged with the new list.
 *
 * This module holds what the rest of edgeclick needs to name blocklist entries; the filter itself is in
 * domain/bloom.ts, so only the Workers that test events against it carry that code.
 */
import { normalizeUserAgent } from "./useragent";

export const BLOOM_CAPACITY = 1_000_000;
export const BLOOM_ERROR_RATE = 0.001;
/** How stale a campaign object's view of the blocklist may be. */
export const BLOCKLIST_STALENESS_MS = 1_000;

export const ipItem = (ipHash: string) => `ip:${ipHash}`;
export const uaItem = (ua: string) => `ua:${normalizeUserAgent(ua)}`;

export interface BloomSnapshot {
  version: number;
  size: number;
  hashes: number;
  bits: Uint8Array;
}

/** What the campaign objects need from the blocklist's owner. */
export interface BlocklistSource {
  version(): Promise<number>;
  snapshot(): Promise<BloomSnapshot | null>;
  contains(items: string[]): Promise<boolean[]>;
}
