/**
 * Billing at scale and audit (issue 11): restatements of published figures (advertiser key: own campaigns) and
 * compaction on demand (admin).
 */
import * as api from "../../domain/api/routes";
import type { BatchRpc } from "../../domain/billing";
import { fromMicros } from "../../domain/event";
import { campaignFor } from "./access";
import { tenantOf } from "./auth";
import { mount, type QueryApp } from "./mount";

/** At most this many restatements per answer (oldest first); narrow the dates for more. */
const MAX_RESTATEMENTS = 1000;

/** A stored JSON of billed counts as the API shows them (money in currency units). */
function billedValues(json: string | null) {
  if (!json) return null;
  const { cost_micros, ...rest } = JSON.parse(json) as Record<string, number>;
  return { ...rest, cost: fromMicros(cost_micros) };
}

const restatements = (app: QueryApp) =>
  mount(app, api.restatements, async (c, { query: q }) => {
    const p = c.get("principal");
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.campaign_id) {
      where.push("r.campaign_id = ?");
      params.push((await campaignFor(c.env, p, q.campaign_id)).campaign_id);
    }
    const tenant = tenantOf(p);
    if (tenant !== null) {
      where.push("r.campaign_id IN (SELECT campaign_id FROM campaigns WHERE advertiser_id = ?)");
      params.push(tenant);
    }
    if (q.from) {
      where.push("r.date >= ?");
      params.push(q.from);
    }
    if (q.to) {
      where.push("r.date <= ?");
      params.push(q.to);
    }
    const { results } = await c.env.DB.prepare(
      `SELECT restatement_id, run_id, campaign_id, date, country, device_type, old_values, new_values, cause, recorded_at
       FROM billing_restatements r ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY restatement_id LIMIT ${MAX_RESTATEMENTS}`,
    )
      .bind(...params)
      .all<{
        restatement_id: number;
        run_id: string;
        campaign_id: string;
        date: string;
        country: string;
        device_type: string;
        old_values: string | null;
        new_values: string | null;
        cause: "late_events" | "recalculation" | "fraud_review";
        recorded_at: number;
      }>();
    return c.json(
      {
        restatements: results.map((r) => ({
          restatement_id: r.restatement_id,
          campaign_id: r.campaign_id,
          date: r.date,
          country: r.country,
          device_type: r.device_type,
          old: billedValues(r.old_values),
          new: billedValues(r.new_values),
          cause: r.cause,
          run_id: r.run_id,
          recorded_at: new Date(r.recorded_at).toISOString(),
        })),
      },
      200,
    );
  });

const compact = (app: QueryApp) =>
  mount(app, api.compact, async (c) => {
    return c.json(await (c.env.BATCH as Fetcher & BatchRpc).compact(), 200);
  });

export function auditRoutes(app: QueryApp): void {
  restatements(app);
  compact(app);
}
