/**
 * A compact map from 64-bit hashed keys to 32-bit values, in typed arrays (12 bytes a slot, at most half
 * full): the rule state of one event minute — dedup keys, receipts and per-IP counters — for millions of
 * events without a JavaScript object per key. Its entries pack into a byte string for checkpoints.
 *
 * Keys are two independent 32-bit MurmurHash3 values of a string; two different keys share a slot with
 * probability ~2^-64 per pair (about 1 in 10^10 for a minute of 60,000 events), the price of not keeping
 * the strings themselves.
 */
import { murmur32 } from "../../domain/hash";

const SEED_A = 0x2f8b_a6c1;
const SEED_B = 0x5bd1_e995;

export interface Key {
  hi: number;
  lo: number;
}

export function keyOf(s: string): Key {
  const hi = murmur32(s, SEED_A);
  const lo = murmur32(s, SEED_B ^ hi);
  // (0, 0) marks an empty slot.
  return hi === 0 && lo === 0 ? { hi, lo: 1 } : { hi, lo };
}

export class KeyTable {
  #hi: Uint32Array;
  #lo: Uint32Array;
  #val: Uint32Array;
  #mask: number;
  size = 0;

  constructor(capacity = 8) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.#hi = new Uint32Array(n);
    this.#lo = new Uint32Array(n);
    this.#val = new Uint32Array(n);
    this.#mask = n - 1;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.#hi.length * 12;
  }

  #slot(k: Key): number {
    let i = (k.hi ^ Math.imul(k.lo, 0x9e3779b1)) & this.#mask;
    for (;;) {
      const h = this.#hi[i];
      const l = this.#lo[i];
      if ((h === 0 && l === 0) || (h === k.hi && l === k.lo)) return i;
      i = (i + 1) & this.#mask;
    }
  }

  get(k: Key): number | undefined {
    const i = this.#slot(k);
    return this.#hi[i] === 0 && this.#lo[i] === 0 ? undefined : this.#val[i];
  }

  set(k: Key, value: number): void {
    let i = this.#slot(k);
    if (this.#hi[i] === 0 && this.#lo[i] === 0) {
      if ((this.size + 1) * 2 > this.#hi.length) {
        this.#grow();
        i = this.#slot(k);
      }
      this.#hi[i] = k.hi;
      this.#lo[i] = k.lo;
      this.size++;
    }
    this.#val[i] = value >>> 0;
  }

  #grow(): void {
    const [hi, lo, val] = [this.#hi, this.#lo, this.#val];
    const n = hi.length * 2;
    this.#hi = new Uint32Array(n);
    this.#lo = new Uint32Array(n);
    this.#val = new Uint32Array(n);
    this.#mask = n - 1;
    for (let i = 0; i < hi.length; i++) {
      if (hi[i] === 0 && lo[i] === 0) continue;
      const j = this.#slot({ hi: hi[i], lo: lo[i] });
      this.#hi[j] = hi[i];
      this.#lo[j] = lo[i];
      this.#val[j] = val[i];
    }
  }

  forEach(fn: (key: Key, value: number) => void): void {
    for (let i = 0; i < this.#hi.length; i++)
      if (this.#hi[i] !== 0 || this.#lo[i] !== 0) fn({ hi: this.#hi[i], lo: this.#lo[i] }, this.#val[i]);
  }

  /** The entries as (hi, lo, value) triples, split into byte strings of at most `maxEntries` entries. */
  pack(maxEntries = 100_000): Uint8Array[] {
    const out: Uint8Array[] = [];
    let left = this.size;
    let buf = new Uint32Array(Math.min(left, maxEntries) * 3);
    let n = 0;
    for (let i = 0; i < this.#hi.length && left > 0; i++) {
      if (this.#hi[i] === 0 && this.#lo[i] === 0) continue;
      buf[n++] = this.#hi[i];
      buf[n++] = this.#lo[i];
      buf[n++] = this.#val[i];
      left--;
      if (n === buf.length) {
        out.push(new Uint8Array(buf.buffer));
        buf = new Uint32Array(Math.min(left, maxEntries) * 3);
        n = 0;
      }
    }
    return out;
  }

  /** Applies packed entries (later values win, as they were written later). */
  unpack(bytes: ArrayBuffer | Uint8Array): void {
    const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    // Copy to an aligned buffer: a stored blob need not start on a 4-byte boundary.
    const words = new Uint32Array(u8.slice().buffer, 0, Math.floor(u8.length / 4));
    for (let i = 0; i + 2 < words.length; i += 3) this.set({ hi: words[i], lo: words[i + 1] }, words[i + 2]);
  }
}
