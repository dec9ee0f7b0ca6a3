/**
 * Group commit at the edge: concurrent clicks for one edge buffer in one isolate share a single call to
 * it, so a busy location costs one Durable Object request (and one storage row) per batch instead of per
 * click. Nothing waits for a timer to batch: the first click goes out at once,
 * and clicks that arrive while a call is in flight form the next batch.
 *
 * Workers forbid one request from waking another: a promise resolved from another request's context
 * never resumes the waiting request, and the runtime cancels it as hung. So no promise crosses requests
 * here. Shared state is plain data; each waiting click polls it from its own timers (1 ms, then up to
 * 8 ms apart), the leader of a batch makes the call in its own request and writes the outcomes into it,
 * and the lead passes to the next click by a flag. A leader that stalls (its client went away, its call
 * hangs) is replaced after `stallMs`; a click not answered within `patienceMs` sends itself. Receipts
 * make every repeat harmless: a campaign object answers a receipt it already recorded with its first outcome.
 */
type State = "waiting" | "lead" | "done" | "failed" | "gone";

interface Waiter<T, R> {
  item: T;
  state: State;
  answer?: R;
  error?: unknown;
}

/** Sends a batch; answers one value per item, in order. */
export type Send<T, R> = (items: T[]) => Promise<R[]>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Batcher<T, R> {
  /** Clicks waiting for a batch (never the leader). */
  #queue: Waiter<T, R>[] = [];
  #leader: { waiter: Waiter<T, R>; since: number } | null = null;

  constructor(
    readonly maxBatch = 200,
    readonly patienceMs = 3_000,
    readonly stallMs = 1_500,
  ) {}

  #promote(): void {
    const next = this.#queue.shift();
    if (next) {
      next.state = "lead";
      this.#leader = { waiter: next, since: Date.now() };
    } else this.#leader = null;
  }

  async submit(item: T, send: Send<T, R>): Promise<R> {
    const me: Waiter<T, R> = { item, state: "waiting" };
    this.#queue.push(me);
    if (!this.#leader) this.#promote();
    const deadline = Date.now() + this.patienceMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 8)) {
      if (me.state === "lead") return this.#lead(me, send);
      if (me.state === "done") return me.answer as R;
      if (me.state === "failed") throw me.error;
      if (this.#leader && Date.now() - this.#leader.since > this.stallMs) {
        // The leader's request is stuck or gone: another click takes over. (If the old leader wakes up,
        // it finishes its own batch; it no longer hands the lead on.)
        if (this.#leader.waiter.state === "lead") this.#leader.waiter.state = "gone";
        this.#promote();
        continue;
      }
      if (Date.now() > deadline) {
        me.state = "gone";
        this.#queue = this.#queue.filter((w) => w !== me);
        return (await send([item]))[0];
      }
      await sleep(delay);
    }
  }

  async #lead(me: Waiter<T, R>, send: Send<T, R>): Promise<R> {
    const batch = [me, ...this.#queue.splice(0, this.maxBatch - 1)];
    try {
      const answers = await send(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        if (w !== me && w.state === "waiting") Object.assign(w, { state: "done", answer: answers[i] });
      });
      return answers[0];
    } catch (error) {
      for (const w of batch) if (w !== me && w.state === "waiting") Object.assign(w, { state: "failed", error });
      throw error;
    } finally {
      if (this.#leader?.waiter === me) this.#promote();
    }
  }
}

const batchers = new Map<string, Batcher<unknown, unknown>>();

/** The batcher of one destination (a buffer object) in this isolate (bounded: idle ones are dropped). */
export function batcherFor<T, R>(key: string): Batcher<T, R> {
  let b = batchers.get(key);
  if (!b) {
    if (batchers.size > 10_000) batchers.clear();
    batchers.set(key, (b = new Batcher()));
  }
  return b as Batcher<T, R>;
}
