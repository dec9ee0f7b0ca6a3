/**
 * Recalculation and batch fraud review (issue 11, items 5 and 6): the batch Worker does the work over RPC
 * (r2-batch/recalculate.ts, r2-batch/fraud.ts); the difference against published billing is read here from D1.
 */
import * as api from "../../domain/api/routes";
import { BILLING_COUNTS, BILLING_KEY, type BatchAnswer, type BatchRpc } from "../../domain/billing";
import { ApiError, notFound } from "../../domain/errors";
import { fromMicros } from "../../domain/event";
import { DAY, dateStart } from "../../domain/time";
import { mount, type QueryApp } from "./mount";

/** Days one recalculation or review may cover (r2-batch/recalculate.ts MAX_RECALCULATION_DAYS). */
const MAX_DAYS = 31;
/** Columns of a billing_daily row that are neither its group nor its counts. */

const batchOf = (env: QueryEnv) => env.BATCH as Fetcher & BatchRpc;

function checkRange(from: string, to: string): void {
  if (to < from) throw new ApiError(400, "invalid_range", "`to` must not be before `from`.");
  if (dateStart(to)! - dateStart(from)! >= MAX_DAYS * DAY) throw new ApiError(400, "range_too_large", `Ask for at most ${MAX_DAYS} days.`);
}

function unwrap<T>(a: BatchAnswer<T>): T {
  if ("error" in a) throw new ApiError(a.error.status, a.error.code, a.error.message);
  return a.ok;
}

type Row = Record<string, string | number | null>;

/** A row's group: billing's key columns (D1 stores "no ad group" as '', the accumulator as null: one group). */
function groupOf(row: Row): Record<string, string> {
  return Object.fromEntries(BILLING_KEY.map((k) => [k, String(row[k] ?? "")]));
}

function values(row: Row | undefined) {
  if (!row) return null;
  const counts = Object.fromEntries(BILLING_COUNTS.map((k) => [k, Number(row[k] ?? 0)])) as Record<string, number>;
  const { cost_micros, ...rest } = counts;
  return { ...rest, cost: fromMicros(cost_micros) };
}

/** Every row of the recalculation's campaign-dates that differs between published billing and its shadow rows. */
async function differences(db: D1Database, id: string) {
  const { results: parts } = await db
    .prepare("SELECT campaign_id, date, rows FROM recalculation_parts WHERE recalculation_id = ? ORDER BY campaign_id, date")
    .bind(id)
    .all<{ campaign_id: string; date: string; rows: string }>();
  const out = [];
  for (const p of parts) {
    const { results: published } = await db
      .prepare("SELECT * FROM billing_daily WHERE campaign_id = ? AND date = ?")
      .bind(p.campaign_id, p.date)
      .all<Row>();
    const shadow = JSON.parse(p.rows) as Row[];
    const keyed = (rows: Row[]) => new Map(rows.map((r) => [JSON.stringify(groupOf(r)), r]));
    const [old, fresh] = [keyed(published), keyed(shadow)];
    for (const key of [...new Set([...old.keys(), ...fresh.keys()])].sort()) {
      const [o, n] = [values(old.get(key)), values(fresh.get(key))];
      if (JSON.stringify(o) === JSON.stringify(n)) continue;
      out.push({ campaign_id: p.campaign_id, date: p.date, group: JSON.parse(key) as Record<string, string>, old: o, new: n });
    }
  }
  return out;
}

export function recalculationRoutes(app: QueryApp): void {
  mount(app, api.recalculate, async (c, { body }) => {
    checkRange(body.from, body.to);
    if (body.campaign_id) {
      const found = await c.env.DB.prepare("SELECT 1 FROM campaigns WHERE campaign_id = ?").bind(body.campaign_id).first();
      if (!found) throw notFound(`Campaign ${body.campaign_id}`);
    }
    return c.json(unwrap(await batchOf(c.env).recalculate(body)), 201);
  });

  mount(app, api.recalculationView, async (c, { params }) => {
    const rec = await c.env.DB.prepare("SELECT * FROM recalculations WHERE recalculation_id = ?").bind(params.id).first<Row>();
    if (!rec) throw notFound(`Recalculation ${params.id}`);
    const { n } = (await c.env.DB.prepare("SELECT count(*) AS n FROM recalculation_parts WHERE recalculation_id = ?")
      .bind(params.id)
      .first<{ n: number }>())!;
    return c.json(
      {
        recalculation_id: String(rec.recalculation_id),
        cause: rec.cause as "recalculation" | "fraud_review",
        from: String(rec.date_from),
        to: String(rec.date_to),
        campaign_id: rec.campaign_id === null ? null : String(rec.campaign_id),
        status: rec.status as "pending" | "applied",
        blocklist_version: Number(rec.blocklist_version),
        events: Number(rec.events),
        changed: Number(rec.changed),
        campaign_dates: n,
        differences: await differences(c.env.DB, params.id),
      },
      200,
    );
  });

  mount(app, api.applyRecalculation, async (c, { params }) => c.json(unwrap(await batchOf(c.env).applyRecalculation(params.id)), 200));

  mount(app, api.fraudReview, async (c, { body }) => {
    checkRange(body.from, body.to);
    // BatchRpc (domain/billing.ts) still types the older answer; the batch Worker gives the whole result.
    return c.json(await batchOf(c.env).fraudReview(body.from, body.to), 200);
  });

  mount(app, api.fraudFindings, async (c, { query }) => {
    const { results } = await c.env.DB.prepare(
      `SELECT * FROM fraud_findings ${query.status ? "WHERE status = ?" : ""} ORDER BY found_at DESC, window_start DESC LIMIT 1000`,
    )
      .bind(...(query.status ? [query.status] : []))
      .all<{
        finding_id: string;
        kind: "click_farm" | "publisher_spike";
        subject: string;
        window_start: number;
        window_end: number;
        status: "open" | "applied";
        recalculation_id: string | null;
        found_at: number;
        evidence: string;
      }>();
    const iso = (t: number) => new Date(t).toISOString();
    return c.json(
      {
        findings: results.map((f) => ({
          finding_id: f.finding_id,
          kind: f.kind,
          subject: f.subject,
          window_start: iso(f.window_start),
          window_end: iso(f.window_end),
          status: f.status,
          recalculation_id: f.recalculation_id,
          found_at: iso(f.found_at),
          evidence: JSON.parse(f.evidence),
        })),
      },
      200,
    );
  });

  mount(app, api.applyFinding, async (c, { params }) => c.json(unwrap(await batchOf(c.env).applyFinding(params.id)), 200));
}
