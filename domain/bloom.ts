/**
 * The blocklist's Bloom filter (bloom-filters) and the test every campaign object runs against it: a
 * per-isolate cached filter, re-checked at most once a BLOCKLIST_STALENESS_MS, with every hit confirmed
 * against the exact set so a verdict is never a false positive.
 */
import { BloomFilter } from "bloom-filters";
import { BLOCKLIST_STALENESS_MS, BLOOM_CAPACITY, BLOOM_ERROR_RATE, ipItem, uaItem, type BlocklistSource } from "./blocklist";
import type { Blocklisted } from "./rules";

export function newBloom(): BloomFilter {
  return BloomFilter.create(BLOOM_CAPACITY, BLOOM_ERROR_RATE);
}

// bloom-filters keeps its bits in a Uint8Array; persisting those (1.8 MB) beats its 2.4 MB JSON export.
type BitsHolder = { _filter: { array: Uint8Array } };

export function bloomBits(f: BloomFilter): Uint8Array {
  return (f as unknown as BitsHolder)._filter.array;
}

export function bloomFromBits(size: number, hashes: number, bits: Uint8Array): BloomFilter {
  const f = new BloomFilter(size, hashes);
  const holder = f as unknown as BitsHolder;
  if (bits.length !== holder._filter.array.length) throw new Error("bloom filter bits do not match its size");
  holder._filter.array = bits;
  return f;
}

interface Cached {
  version: number;
  checkedAt: number;
  filter: BloomFilter | null;
}

/** Per-isolate view of the blocklist; shared by every campaign object in the isolate. */
let cached: Cached = { version: -1, checkedAt: 0, filter: null };
let refreshing: Promise<void> | null = null;

async function refresh(source: BlocklistSource, now: number): Promise<void> {
  const version = await source.version();
  if (version !== cached.version) {
    const snap = version === 0 ? null : await source.snapshot();
    cached = {
      version: snap?.version ?? version,
      checkedAt: now,
      filter: snap ? bloomFromBits(snap.size, snap.hashes, snap.bits) : null,
    };
  } else cached = { ...cached, checkedAt: now };
}

/** Blocklist membership of each event's IP and User-Agent, exact. */
export async function resolveBlocklisted(
  source: BlocklistSource,
  events: readonly { ip_hash: string; user_agent: string | null }[],
  now = Date.now(),
): Promise<Blocklisted[]> {
  if (now - cached.checkedAt >= BLOCKLIST_STALENESS_MS) {
    refreshing ??= refresh(source, now).finally(() => (refreshing = null));
    await refreshing;
  }
  const filter = cached.filter;
  const out = events.map(() => ({ ip: false, ua: false }));
  if (!filter) return out;
  const probes: { i: number; kind: "ip" | "ua"; item: string }[] = [];
  events.forEach((e, i) => {
    const ip = ipItem(e.ip_hash);
    if (filter.has(ip)) probes.push({ i, kind: "ip", item: ip });
    if (e.user_agent) {
      const ua = uaItem(e.user_agent);
      if (filter.has(ua)) probes.push({ i, kind: "ua", item: ua });
    }
  });
  if (probes.length) {
    const exact = await source.contains(probes.map((p) => p.item));
    probes.forEach((p, k) => (out[p.i][p.kind] = exact[k]));
  }
  return out;
}

/** Forgets the cached filter (tests). */
export function forgetBlocklistCache(): void {
  cached = { version: -1, checkedAt: 0, filter: null };
}
