/**
 * The budget rule's state (domain/rules.ts, rule 5): the billed cost of this object's clicks per UTC day of
 * event time. A few numbers, in memory, checkpointed as one small blob; after a crash the log rows after the
 * checkpoint add their recorded clicks back (never judged again), so a restarted object decides the next
 * click exactly as it would have. No row is written per event.
 */
import type { Sql } from "../meter";
import type { BudgetStore } from "../../domain/rules";
import { readJsonBlob, writeJsonBlob } from "./blobs";

type Stored = [day: number, micros: number][];

export class BudgetState implements BudgetStore {
  readonly #days = new Map<number, number>();
  #chunks = 0;
  #changed = false;

  constructor(readonly sql: Sql) {
    const stored = readJsonBlob<Stored>(sql, "budget");
    if (stored) {
      this.#chunks = stored.chunks;
      for (const [day, micros] of stored.value) this.#days.set(day, micros);
    }
  }

  spent(day: number): number {
    return this.#days.get(day) ?? 0;
  }

  spend(day: number, micros: number): void {
    this.#days.set(day, this.spent(day) + micros);
    this.#changed = true;
  }

  get dirty(): boolean {
    return this.#changed;
  }

  checkpoint(): void {
    if (!this.#changed) return;
    this.#chunks = writeJsonBlob(this.sql, "budget", [...this.#days] satisfies Stored, this.#chunks);
    this.#changed = false;
  }

  /** Forgets days before `before` (no event dated then can still be accepted). */
  dropBefore(before: number): void {
    for (const day of this.#days.keys()) {
      if (day < before) {
        this.#days.delete(day);
        this.#changed = true;
      }
    }
  }
}
