/**
 * PublisherGate: one per publisher key, holding its two token buckets (requests a minute, events a
 * second). Nothing is stored: a gate that restarts starts with full buckets, which errs towards letting a
 * publisher's traffic in — a limit protects the system, and losing its state costs nothing billed.
 * The limits come with each call (from the registry the edge caches), so the gate needs no database.
 */
import { DurableObject } from "cloudflare:workers";
import { eventCapacity, take, type Bucket, type PublisherLimits } from "../domain/limits";

export type GateAnswer = { ok: true } | { ok: false; limit: "requests_per_minute" | "events_per_second"; retry_after_s: number };

export class PublisherGate extends DurableObject<IngestEnv> {
  #requests: Bucket | null = null;
  #events: Bucket | null = null;

  /** One request, asked before its body is read. */
  admit(limits: PublisherLimits, now = Date.now()): GateAnswer {
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
   * `n` events of an admitted request, before they are recorded. A batch that does not fit is refused whole
   * (nothing of it recorded) with the wait until it would.
   */
  charge(limits: PublisherLimits, n: number, now = Date.now()): GateAnswer {
    const capacity = eventCapacity(limits);
    const e = take(this.#events ?? { tokens: capacity, at: now }, n, limits.events_per_second, capacity, now);
    this.#events = e.bucket;
    return e.wait_ms > 0 ? { ok: false, limit: "events_per_second", retry_after_s: Math.ceil(e.wait_ms / 1000) } : { ok: true };
  }
}
