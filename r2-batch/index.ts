/**
 * edgeclick-batch: the cron Worker that turns the R2 archive into billing rows in D1. The query
 * Worker's `POST /v1/admin/rollup` calls `rollup()` over a service binding: the same code as the cron.
 */
import { logLine } from "../domain/log";
import { WorkerEntrypoint } from "cloudflare:workers";
import { errorResponse } from "../domain/errors";
import type { BatchRpc, RollupResult, SpoolBacklog } from "../domain/billing";
import { datesToRoll, rollupDate } from "./rollup";
import { spoolBacklog, sweepSpool } from "./spool";

export default class Batch extends WorkerEntrypoint<BatchEnv> implements BatchRpc {
  /** Rolls up one date, or by default today, yesterday and any older date that received late events. */
  async rollup(date?: string): Promise<{ rows: number; dates: RollupResult[] }> {
    if (date) {
      const r = await rollupDate(this.env, date);
      return { rows: r.rows, dates: [r] };
    }
    const results: RollupResult[] = [];
    const [main, eu] = await Promise.all([datesToRoll(this.env.ARCHIVE), datesToRoll(this.env.ARCHIVE_EU)]);
    for (const d of [...new Set([...main.keys(), ...eu.keys()])].sort()) {
      results.push(await rollupDate(this.env, d));
      // Only the markers seen before rolling: a late event archived meanwhile leaves a new one.
      if (main.get(d)?.length) await this.env.ARCHIVE.delete(main.get(d)!);
      if (eu.get(d)?.length) await this.env.ARCHIVE_EU.delete(eu.get(d)!);
    }
    return { rows: results.reduce((n, r) => n + r.rows, 0), dates: results };
  }

  /** Counts events that were spooled to R2 while the campaign objects and the queue were both down. */
  async sweep(): Promise<{ swept: number; events: number; failed: number }> {
    return sweepSpool(this.env);
  }

  /** What waits in the spool, for the ops view. */
  async spool(): Promise<SpoolBacklog> {
    return spoolBacklog(this.env);
  }

  override async scheduled(_controller: ScheduledController): Promise<void> {
    const spool = await this.sweep();
    if (spool.swept || spool.failed) logLine("info", "spool sweep", spool);
    const { dates } = await this.rollup();
    logLine("info", "billing rollup", { dates });
  }

  override async fetch(): Promise<Response> {
    return errorResponse(404, "not_found", "edgeclick-batch has no HTTP routes; it runs on its cron and over RPC.");
  }
}
