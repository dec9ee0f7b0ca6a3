/**
 * The blocklist's Bloom filter and the test every campaign object runs against it: a per-isolate cached
 * filter, re-checked at most once a BLOCKLIST_STALENESS_MS, with every hit confirmed against the exact set
 * so a verdict is never a false positive.
 *
 * The filter is our own small bit array (stored format BLOOM_FORMAT, which we own and version): k bit
 * positions per item by double hashing of two 32-bit MurmurHash3 values (Kirsch & Mitzenmacher, "Less
 * hashing, same performance", 2006), m and k from the usual optimum for n items at error rate p.
 */
import { BLOCKLIST_STALENESS_MS, BLOOM_CAPACITY, BLOOM_ERROR_RATE, ipItem, uaItem, type BlocklistSource } from "./blocklist";
import { murmur32 } from "./hash";
import type { Blocklisted } from "./rules";

/** Version of the stored bits; a change of hashing or layout bumps it and stored filters are rebuilt. */
export const BLOOM_FORMAT = 2;

export class Bloom {
  readonly bits: Uint8Array;

  constructor(
    /** Bits in the filter (m). */
    readonly size: number,
    /** Positions per item (k). */
    readonly hashes: number,
    bits?: Uint8Array,
  ) {
    if (bits && bits.length !== Math.ceil(size / 8)) throw new Error("bloom filter bits do not match its size");
    this.bits = bits ?? new Uint8Array(Math.ceil(size / 8));
  }

  /** The optimum for `capacity` items at `errorRate`: m = -n ln p / (ln 2)^2, k = m/n ln 2. */
  static forCapacity(capacity: number, errorRate: number): Bloom {
    const size = Math.ceil((-capacity * Math.log(errorRate)) / Math.LN2 ** 2);
    return new Bloom(size, Math.max(1, Math.round((size / capacity) * Math.LN2)));
  }

  #positions(item: string, visit: (bit: number) => boolean): boolean {
    const h1 = murmur32(item, 0x5f3759df);
    const h2 = murmur32(item, 0x9e3779b9) | 1;
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      if (!visit(bit % this.size)) return false;
    }
    return true;
  }

  add(item: string): void {
    this.#positions(item, (b) => {
      this.bits[b >>> 3] |= 1 << (b & 7);
      return true;
    });
  }

  has(item: string): boolean {
    return this.#positions(item, (b) => (this.bits[b >>> 3] & (1 << (b & 7))) !== 0);
  }
}

export function newBloom(): Bloom {
  return Bloom.forCapacity(BLOOM_CAPACITY, BLOOM_ERROR_RATE);
}

interface Cached {
  version: number;
  checkedAt: number;
  filter: Bloom | null;
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
      filter: snap ? new Bloom(snap.size, snap.hashes, snap.bits) : null,
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
    probes.forEach((p, k) => {
      out[p.i][p.kind] = exact[k];
    });
  }
  return out;
}

/** Forgets the cached filter (tests). */
export function forgetBlocklistCache(): void {
  cached = { version: -1, checkedAt: 0, filter: null };
}
