/**
 * Group commit at the edge: concurrent clicks for one campaign in one isolate share a single call to
 * the campaign's objects, so a busy campaign costs one Durable Object request (and one storage commit)
 * per batch instead of per click. Nothing waits for a timer: the first click goes out at once, and
 * clicks that arrive while a call is in flight form the next batch.
 *
 * Each click's own request makes the calls it depends on: the leader of a batch sends it and hands the
 * lead to the first waiting click when done, so no request ever waits on I/O that belongs to a request
 * that has already finished. A click whose batch has not answered in `patienceMs` sends itself; the
 * objects recognise receipts they already recorded, so that never counts twice.
 */
import type { ClickEvent, Outcome } from "../domain/event";

type Settle = { outcome: Outcome } | { lead: true } | { error: unknown };

interface Waiter {
  event: ClickEvent;
  settled: boolean;
  resolve(s: Settle | "timeout"): void;
}

export type Send = (events: ClickEvent[]) => Promise<Outcome[]>;

export class Batcher {
  readonly #waiting: Waiter[] = [];
  #busy = false;

  constructor(
    readonly maxBatch = 200,
    readonly patienceMs = 3_000,
  ) {}

  #settle(w: Waiter, s: Settle): void {
    if (!w.settled) {
      w.settled = true;
      w.resolve(s);
    } else if ("lead" in s) this.#handOff();
  }

  #handOff(): void {
    const next = this.#waiting[0];
    if (next) this.#settle(next, { lead: true });
    else this.#busy = false;
  }

  async submit(event: ClickEvent, send: Send): Promise<Outcome> {
    let waiter!: Waiter;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settled = await new Promise<Settle | "timeout">((resolve) => {
      waiter = { event, settled: false, resolve };
      this.#waiting.push(waiter);
      if (!this.#busy) {
        this.#busy = true;
        this.#handOff();
      }
      timer = setTimeout(() => {
        if (waiter.settled) return;
        waiter.settled = true;
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        resolve("timeout");
      }, this.patienceMs);
    });
    clearTimeout(timer);
    if (settled === "timeout") return (await send([event]))[0];
    if ("outcome" in settled) return settled.outcome;
    if ("error" in settled) throw settled.error;

    // This click leads: it is first in line; take the batch, send it, hand the lead on.
    const batch = this.#waiting.splice(0, this.maxBatch);
    try {
      const outcomes = await send(batch.map((w) => w.event));
      batch.forEach((w, i) => w !== waiter && this.#settle(w, { outcome: outcomes[i] }));
      return outcomes[batch.indexOf(waiter)];
    } catch (error) {
      for (const w of batch) if (w !== waiter) this.#settle(w, { error });
      throw error;
    } finally {
      this.#handOff();
    }
  }
}

const batchers = new Map<string, Batcher>();

/** The batcher of one campaign in this isolate (bounded: idle ones are dropped). */
export function batcherFor(campaignId: string): Batcher {
  let b = batchers.get(campaignId);
  if (!b) {
    if (batchers.size > 10_000) batchers.clear();
    batchers.set(campaignId, (b = new Batcher()));
  }
  return b;
}
