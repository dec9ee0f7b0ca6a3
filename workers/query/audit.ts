/**
 * Billing at scale and audit (issue 11): restatements of published figures (advertiser key: own campaigns) and
 * compaction on demand (admin).
 */
import { toHex } from "../../domain/crypto";
import * as api from "../../domain/api/routes";
import { BILLING_COUNTS, BILLING_KEY, type BatchRpc, dateClosesAt } from "../../domain/billing";
import { DAY, dateStart, utcDate, utcDatesOf, zoneDay } from "../../domain/time";
import { advertiserTimeZone } from "../../domain/registry";
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
      `SELECT restatement_id, run_id, campaign_id, date, country, device_type, ad_group_id, old_values, new_values, cause, recorded_at
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
        ad_group_id: string;
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
          ad_group_id: r.ad_group_id || null,
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

type Counted = Record<string, number | string | null>;
const SUMMED = [
  "clicks",
  "invalid_clicks",
  "suspicious_clicks",
  "duplicates",
  "late_events",
  "event_id_repeats",
  "over_budget_clicks",
] as const;

function sums(rows: readonly Counted[]) {
  const out: Record<string, number> = Object.fromEntries(SUMMED.map((k) => [k, 0]));
  let micros = 0;
  for (const r of rows) {
    for (const k of SUMMED) out[k] += Number(r[k]);
    micros += Number(r.cost_micros);
  }
  return { ...out, cost: fromMicros(micros) };
}

const statement = (app: QueryApp) =>
  mount(app, api.statement, async (c, { query: q }) => {
    const campaign = await campaignFor(c.env, c.get("principal"), q.campaign_id);
    const time_zone = await advertiserTimeZone(c.env.DB, campaign.advertiser_id);
    const first = dateStart(`${q.month}-01`)!;
    // The month's local dates that have begun.
    const dates: string[] = [];
    for (let t = first; utcDate(t).startsWith(q.month) && zoneDay(utcDate(t), time_zone)[0] <= Date.now(); t += DAY) dates.push(utcDate(t));
    const { results } = await c.env.DB.prepare(
      `SELECT date, ${BILLING_KEY.join(", ")}, ${BILLING_COUNTS.join(", ")}, status, archived_through
       FROM billing_daily WHERE campaign_id = ? AND date >= ? AND date <= ? ORDER BY date, ${BILLING_KEY.join(", ")}`,
    )
      .bind(campaign.campaign_id, `${q.month}-01`, `${q.month}-31`)
      .all<Counted>();
    const rows = results.map((r) => ({
      date: r.date as string,
      country: r.country as string,
      device_type: r.device_type as string,
      ad_group_id: (r.ad_group_id as string) || null,
      clicks: Number(r.clicks),
      cost: fromMicros(Number(r.cost_micros)),
      invalid_clicks: Number(r.invalid_clicks),
      suspicious_clicks: Number(r.suspicious_clicks),
      duplicates: Number(r.duplicates),
      late_events: Number(r.late_events),
      event_id_repeats: Number(r.event_id_repeats),
      over_budget_clicks: Number(r.over_budget_clicks),
      unique_users: Number(r.unique_users),
      status: r.status as "final" | "provisional",
      archived_through: r.archived_through === null ? null : new Date(Number(r.archived_through)).toISOString(),
    }));
    const days = dates
      .map((date) => {
        const mine = results.filter((r) => r.date === date);
        const status = mine.length && mine.every((r) => r.status === "final") ? "final" : "provisional";
        return { date, ...sums(mine), status } as const;
      })
      .filter((d) => results.some((r) => r.date === d.date));
    // A local day's events lie in the UTC day folders it overlaps.
    const utc = [...new Set(dates.flatMap((d) => utcDatesOf(d, time_zone)))];
    const files = await (c.env.BATCH as Fetcher & BatchRpc).statementFiles(campaign.campaign_id, utc);
    const fingerprint = JSON.stringify({ campaign_id: campaign.campaign_id, month: q.month, time_zone, rows, files });
    // The month's last day: no event for the month can arrive once it has closed.
    let last = first;
    while (utcDate(last + DAY).startsWith(q.month)) last += DAY;
    return c.json(
      {
        campaign_id: campaign.campaign_id,
        month: q.month,
        time_zone,
        rows,
        days,
        totals: sums(results),
        complete: Date.now() >= dateClosesAt(utcDate(last), time_zone) && rows.every((r) => r.status === "final"),
        files,
        sha256: toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(fingerprint))),
        generated_at: new Date().toISOString(),
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
  statement(app);
  compact(app);
}
