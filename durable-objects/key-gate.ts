/**
 * KeyGate: one per API key's account (a publisher posting events, an advertiser posting conversions), holding
 * its two token buckets (requests a minute, items a second). Nothing is stored: a gate that restarts starts
 * with full buckets, which errs towards letting an account's traffic in — a limit protects the system, and
 * losing its state costs nothing billed. The limits come with each call (from the registry the edge caches),
 * so the gate needs no database.
 */
import { DurableObject } from "cloudflare:workers";
import { itemCapacity, take, type Bucket, type KeyLimits } from "../domain/limits";

export type GateAnswer = { ok: true } | { ok: false; limit: "requests_per_minute" | "items_per_second"; retry_after_s: number };

export class KeyGate extends DurableObject<IngestEnv> {
  #requests: Bucket | null = null;
  #items: Bucket | null = null;

  /** One request, asked before its body is read. */
  admit(limits: KeyLimits, now = Date.now()): GateAnswer {
    const r = take(
      this.#requests ?? { tokens: limits.requests_per_minute, at: now },
      1,
      limits.requests_per_minute / 60,
      limits.requests_per_minute,
      now,
    );
    if (r.wait_ms > 0) return { ok: false, limit: "requests_per_minute", retry_after_s: Math.ceil(r.wait_ms / 1000) };
    this.#requests = r.bucket;
    return { ok: true };
  }

  /**
   * `n` items of an admitted request, before they are recorded. A batch that does not fit is refused whole
   * (nothing of it recorded) with the wait until it would.
   */
  charge(limits: KeyLimits, n: number, now = Date.now()): GateAnswer {
    const capacity = itemCapacity(limits);
    const e = take(this.#items ?? { tokens: capacity, at: now }, n, limits.items_per_second, capacity, now);
    this.#items = e.bucket;
    return e.wait_ms > 0 ? { ok: false, limit: "items_per_second", retry_after_s: Math.ceil(e.wait_ms / 1000) } : { ok: true };
  }
}
