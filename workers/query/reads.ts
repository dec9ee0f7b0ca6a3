/** Real-time and billing reads for advertisers (their own campaigns) and the admin (all). */
import { Hono } from "hono";
import { ApiError } from "../../domain/errors";
import { fromMicros } from "../../domain/event";
import { segments } from "../../domain/metrics";
import { aggregatedCountQuery, billingQuery, parseOr400 } from "../../domain/schemas";
import { DAY, isoMinute, parseTime, utcDate } from "../../domain/time";
import { adFor, campaignFor, shardStubs } from "./access";
import { authenticate, requireReader } from "./auth";
import type { Principal } from "../../domain/registry";

type Env = { Bindings: QueryEnv; Variables: { principal: Principal } };

export const reads = new Hono<Env>();

reads.use("*", async (c, next) => {
  const p = await authenticate(c.req.raw, c.env);
  requireReader(p);
  c.set("principal", p);
  await next();
});

const query = (url: string) => Object.fromEntries(new URL(url).searchParams);

function checkRange(from: number, to: number): void {
  if (to <= from) throw new ApiError(400, "invalid_range", "`to` must be after `from`.");
}

reads.get("/ads/:ad_id/aggregated_count", async (c) => {
  const q = parseOr400(aggregatedCountQuery, query(c.req.url));
  checkRange(q.from, q.to);
  const ad = await adFor(c.env, c.get("principal"), c.req.param("ad_id"));
  const questions = segments(q.from, q.to).map((s) => ({ ...s, ad_ids: [ad.ad_id], filter: q.filter }));
  const answers = await Promise.all(shardStubs(c.env, ad).map((stub) => stub.cellsMany(questions)));
  let count = 0;
  for (const perShard of answers) for (const parts of perShard) for (const p of parts) count += p.clicks;
  return c.json({
    ad_id: ad.ad_id,
    from: isoMinute(q.from),
    to: isoMinute(q.to),
    filter: q.filter ? `${q.filter.dim}:${q.filter.value}` : null,
    count,
  });
});

function dateBound(input: string, name: string): number {
  const t = parseTime(input);
  if (t === null) throw new ApiError(400, "invalid_request", `${name}: must be a date YYYY-MM-DD, an ISO-8601 time or epoch milliseconds`);
  return t;
}

reads.get("/billing", async (c) => {
  const q = parseOr400(billingQuery, query(c.req.url));
  const from = dateBound(q.from, "from");
  const to = dateBound(q.to, "to");
  checkRange(from, to);
  if (to - from > 400 * DAY) throw new ApiError(400, "range_too_large", "Ask for at most 400 days at a time.");
  const campaign = await campaignFor(c.env, c.get("principal"), q.campaign_id);
  // Dates whose day overlaps [from, to).
  const { results } = await c.env.DB.prepare(
    `SELECT date, country, device_type, clicks, unique_users, cost_micros, invalid_clicks, suspicious_clicks, duplicates,
            late_events, status
     FROM billing_daily WHERE campaign_id = ? AND date >= ? AND date <= ? ORDER BY date, country, device_type`,
  )
    .bind(campaign.campaign_id, utcDate(from), utcDate(to - 1))
    .all<Record<string, number | string>>();
  return c.json({
    campaign_id: campaign.campaign_id,
    from: q.from,
    to: q.to,
    rows: results.map((r) => ({
      date: r.date,
      country: r.country,
      device_type: r.device_type,
      clicks: r.clicks,
      unique_users: r.unique_users,
      cost: fromMicros(Number(r.cost_micros)),
      invalid_clicks: r.invalid_clicks,
      status: r.status,
      suspicious_clicks: r.suspicious_clicks,
      duplicates: r.duplicates,
      late_events: r.late_events,
    })),
  });
});
