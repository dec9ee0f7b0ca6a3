/** Real-time and billing reads for advertisers (their own campaigns) and the admin (all). */
import { ApiError } from "../../domain/errors";
import { BILLING_COUNTS, BILLING_KEY, reconcile } from "../../domain/billing";
import { fromMicros } from "../../domain/event";
import { bucketStarts, emptyMerged, mergePartials, pacing, segments, toMetricBucket } from "../../domain/metrics";
import { sketchEstimate } from "../../domain/hll";
import { advertiserTimeZone, advertiserZones, listAdGroups, listAds, listCampaigns } from "../../domain/registry";
import * as api from "../../domain/api/routes";
import * as R from "../../domain/api/responses";
import { jsonOrCsv } from "./csv";
import { parseInstant } from "../../domain/schemas";
import { shardsAt } from "../../domain/sharding";
import {
  DAY,
  GRANULARITY_MS,
  HOUR,
  MINUTE,
  canonicalZone,
  dateStart,
  floorTo,
  isoMinute,
  utcDate,
  zoneBucketStarts,
  zoneDate,
  zoneDay,
  zoneOffset,
  type Granularity,
} from "../../domain/time";
import type { CellQuery } from "../../domain/cells";
import { GLOBAL_LEADERBOARD, advertiserLeaderboard, type Leaderboard } from "../../durable-objects/leaderboard";
import { adFor, campaignFor, objectsOf, shardStubs } from "./access";
import { tenantOf } from "./auth";
import { mount, type QueryApp } from "./mount";

function checkRange(from: number, to: number): void {
  if (to <= from) throw new ApiError(400, "invalid_range", "`to` must be after `from`.");
}

const aggregatedCount = (app: QueryApp) =>
  mount(app, api.aggregatedCount, async (c, { query: q, params }) => {
    checkRange(q.from, q.to);
    const ad = await adFor(c.env, c.get("principal"), params.ad_id);
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

const isDate = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s.trim());

function dateBound(input: string, name: string): number {
  const t = parseInstant(input);
  if (t === null) throw new ApiError(400, "invalid_request", `${name}: must be a date YYYY-MM-DD, an ISO-8601 time or epoch milliseconds`);
  return t;
}

const billing = (app: QueryApp) =>
  mount(app, api.billing, async (c, { query: q }) => {
    const from = dateBound(q.from, "from");
    const to = dateBound(q.to, "to");
    checkRange(from, to);
    if (to - from > 400 * DAY) throw new ApiError(400, "range_too_large", "Ask for at most 400 days at a time.");
    const campaign = await campaignFor(c.env, c.get("principal"), q.campaign_id);
    const tz = await advertiserTimeZone(c.env.DB, campaign.advertiser_id);
    // Local dates whose day overlaps [from, to): a date given is a local date (`to` excluded), an instant is placed in the zone.
    const first = isDate(q.from) ? utcDate(from) : zoneDate(from, tz);
    const last = isDate(q.to) ? utcDate(to - DAY) : zoneDate(to - 1, tz);
    const { results } = await c.env.DB.prepare(
      `SELECT date, ${BILLING_KEY.join(", ")}, ${BILLING_COUNTS.join(", ")}, status, archived_through, time_zone
     FROM billing_daily WHERE campaign_id = ? AND date >= ? AND date <= ? ORDER BY date, ${BILLING_KEY.join(", ")}`,
    )
      .bind(campaign.campaign_id, first, last)
      .all<Record<string, number | string | null>>();
    const body = {
      campaign_id: campaign.campaign_id,
      from: q.from,
      to: q.to,
      rows: results.map((r) => ({
        date: r.date,
        country: r.country,
        device_type: r.device_type,
        ad_group_id: r.ad_group_id || null,
        clicks: r.clicks,
        unique_users: r.unique_users,
        cost: fromMicros(Number(r.cost_micros)),
        invalid_clicks: r.invalid_clicks,
        status: r.status,
        archived_through: r.archived_through === null ? null : new Date(Number(r.archived_through)).toISOString(),
        suspicious_clicks: r.suspicious_clicks,
        duplicates: r.duplicates,
        late_events: r.late_events,
        over_budget_clicks: r.over_budget_clicks,
        event_id_repeats: r.event_id_repeats,
        time_zone: r.time_zone,
      })),
    };
    const filename = `billing-${campaign.campaign_id}-${q.from}-${q.to}`;
    return jsonOrCsv(c, q.format, body, { filename, row: R.billing.shape.rows.element, rows: (b) => b.rows });
  });

/** At most this many buckets (and bucket × group entries) per `/v1/metrics` answer. */
const MAX_BUCKETS = 10_000;
const MAX_ENTRIES = 100_000;

/** How long campaign objects keep minute cells (durable-objects/campaign.ts HORIZONS.minuteMs, less its hour of slack). */
const MINUTE_CELLS_KEPT_MS = 48 * HOUR;

/**
 * Hour or day buckets of a zone other than UTC, summed from finer cells: hour cells when every bucket starts on a UTC
 * hour (zones with whole-hour offsets, DST included), minute cells for 30/45-minute offsets — kept 48 hours, so older
 * ranges in such zones are refused. Null when the buckets are UTC's own (minute granularity, or the zone is UTC).
 */
function zonedBuckets(start: number, end: number, granularity: Granularity, tz: string) {
  if (tz === "UTC" || granularity === "minute") return null;
  const starts = zoneBucketStarts(start, end, GRANULARITY_MS[granularity], tz);
  const wholeHours = starts.every((t) => t % HOUR === 0) && zoneOffset(end, tz) % HOUR === 0;
  if (wholeHours && granularity === "hour") return null;
  if (!wholeHours && floorTo(starts[0], MINUTE) < Date.now() - MINUTE_CELLS_KEPT_MS) {
    throw new ApiError(
      400,
      "unsupported_time_zone",
      `${tz} is not a whole number of hours from UTC: its ${granularity} buckets are summed from minute cells, kept 48 hours; ` +
        "ask for a more recent range or a zone with whole-hour offsets.",
    );
  }
  const bucketOf = (ts: number) => {
    // The last bucket starting at or before ts (starts are sorted).
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= ts) lo = mid;
      else hi = mid - 1;
    }
    return starts[lo];
  };
  return { starts, bucketOf, cells: (wholeHours ? "hour" : "minute") as Granularity };
}

const metrics = (app: QueryApp) =>
  mount(app, api.metrics, async (c, { query: q }) => {
    if (!q.ad_id === !q.campaign_id) throw new ApiError(400, "invalid_request", "Give exactly one of ad_id or campaign_id.");
    checkRange(q.start, q.end);
    const granularity = q.granularity as Granularity;
    // Counted before the buckets are listed: a range of centuries in minutes must not be built to be refused.
    const step = GRANULARITY_MS[granularity];
    const buckets = Math.ceil((q.end - floorTo(q.start, step)) / step);
    if (buckets > MAX_BUCKETS) {
      throw new ApiError(
        400,
        "range_too_large",
        `That is ${buckets} ${granularity} buckets; ask for at most ${MAX_BUCKETS} (use a coarser granularity).`,
      );
    }
    const p = c.get("principal");
    const target = q.ad_id ? await adFor(c.env, p, q.ad_id) : await campaignFor(c.env, p, q.campaign_id!);
    const tz = canonicalZone(q.tz ?? (await advertiserTimeZone(c.env.DB, target.advertiser_id)))!;
    const zoned = zonedBuckets(q.start, q.end, granularity, tz);
    const starts = zoned?.starts ?? bucketStarts(q.start, q.end, granularity);
    const question: CellQuery = {
      granularity: zoned?.cells ?? granularity,
      from: starts[0],
      to: q.end,
      ad_ids: q.ad_id ? [q.ad_id] : undefined,
      filter: q.filter,
      group_by: q.group_by,
      sketches: true,
    };
    const parts = (await Promise.all(shardStubs(c.env, target).map((stub) => stub.cells(question)))).flat();
    const merged = mergePartials(parts, zoned?.bucketOf);
    const groups: (string | null)[] = q.group_by ? [...new Set([...merged.values()].map((m) => m.group ?? ""))].sort() : [null];
    if (starts.length * groups.length > MAX_ENTRIES) {
      throw new ApiError(400, "range_too_large", "Too many buckets × groups; narrow the range or use a coarser granularity.");
    }
    const metrics = starts.flatMap((ts) =>
      groups.map((g) => toMetricBucket(merged.get(`${ts}|${g ?? ""}`) ?? emptyMerged(ts, g), q.group_by !== undefined)),
    );
    const body = {
      ...(q.ad_id ? { ad_id: q.ad_id } : {}),
      campaign_id: target.campaign_id,
      start: isoMinute(q.start),
      end: isoMinute(q.end),
      granularity,
      tz,
      group_by: q.group_by ?? null,
      filter: q.filter ? `${q.filter.dim}:${q.filter.value}` : null,
      metrics,
    };
    return jsonOrCsv(c, q.format, body, {
      filename: `metrics-${q.ad_id ?? target.campaign_id}-${granularity}-${body.start}`,
      row: R.metricBucket,
      rows: (b) => b.metrics,
      omit: q.group_by ? [] : ["group"],
    });
  });

const live = (app: QueryApp) =>
  mount(app, api.live, async (c, { query: q, params }) => {
    const campaign = await campaignFor(c.env, c.get("principal"), params.id);
    const now = Date.now();
    const from = floorTo(now - q.minutes * MINUTE, MINUTE);
    const to = floorTo(now, MINUTE) + MINUTE;
    const question: CellQuery = { granularity: "minute", from, to, sketches: true };
    const stubs = shardStubs(c.env, campaign);
    const today = floorTo(now, DAY);
    const [parts, late, spentMicros] = await Promise.all([
      Promise.all(stubs.map((stub) => stub.cells(question))).then((p) => p.flat()),
      // Late events belong to old buckets; here they count when they arrive.
      Promise.all(stubs.map((stub) => stub.lateArrivals(from, to))).then((l) => l.reduce((n, x) => n + x.events, 0)),
      // What the budget rule counted today on every shard (late clicks dated today included).
      Promise.all(stubs.map((stub) => stub.spent(today))).then((s) => s.reduce((n, x) => n + x, 0)),
    ]);
    const m = mergePartials(parts, () => from).get(`${from}|`) ?? emptyMerged(from, null);
    const bucket = toMetricBucket(m, false);
    return c.json({
      campaign_id: campaign.campaign_id,
      minutes: q.minutes,
      clicks: bucket.clicks,
      unique_users: Math.min(sketchEstimate(m.users), bucket.clicks),
      cost: bucket.cost,
      invalid_clicks: bucket.invalid_clicks,
      invalid_by_reason: bucket.invalid_by_reason,
      suspicious_clicks: bucket.suspicious_clicks,
      duplicates: bucket.duplicates,
      over_budget_clicks: bucket.over_budget_clicks,
      conversions: bucket.conversions,
      conversion_value: bucket.conversion_value,
      conversion_rate: bucket.conversion_rate,
      late_events: late,
      spend: fromMicros(spentMicros),
      daily_budget: campaign.daily_budget,
      pacing: pacing(spentMicros, campaign.daily_budget, now),
      from: isoMinute(from),
      as_of: new Date(now).toISOString(),
    });
  });

const popular = (app: QueryApp) =>
  mount(app, api.popularAds, async (c, { query: q }) => {
    const p = c.get("principal");
    const ns = objectsOf<Leaderboard>(c.env.LEADERBOARD);
    const name = p.role === "advertiser" ? advertiserLeaderboard(p.advertiser_id) : GLOBAL_LEADERBOARD;
    const ads = await ns.getByName(name).top(q.window, q.top_n);
    return c.json({ window: q.window, top_n: q.top_n, ads });
  });

const campaigns = (app: QueryApp) =>
  mount(app, api.listCampaigns, async (c) => {
    const campaigns = await listCampaigns(c.env.DB, tenantOf(c.get("principal")));
    const now = Date.now();
    return c.json({
      campaigns: await Promise.all(
        campaigns.map(async (k) => ({
          campaign_id: k.campaign_id,
          advertiser_id: k.advertiser_id,
          name: k.name,
          cost_per_click: k.cost_per_click,
          daily_budget: k.daily_budget,
          shards: shardsAt(k.shard_plan, now),
          shard_plan: k.shard_plan,
          ad_groups: await listAdGroups(c.env.DB, k.campaign_id),
          ads: await listAds(c.env.DB, k.campaign_id),
        })),
      ),
    });
  });

const reconciliation = (app: QueryApp) =>
  mount(app, api.reconciliation, async (c, { query: { date, format } }) => {
    const start = dateStart(date)!;
    const campaigns = await listCampaigns(c.env.DB, tenantOf(c.get("principal")));
    const { results } = await c.env.DB.prepare(
      // MAX: "provisional" sorts after "final", so one provisional row makes the day provisional, never the reverse.
      "SELECT campaign_id, SUM(clicks) AS clicks, SUM(event_id_repeats) AS repeats, MAX(status) AS status FROM billing_daily WHERE date = ? GROUP BY campaign_id",
    )
      .bind(date)
      .all<{ campaign_id: string; clicks: number; repeats: number; status: string }>();
    const billed = new Map(results.map((r) => [r.campaign_id, r]));
    // Billing dates are local dates of each advertiser's zone; real time is summed over the same local day (from hour
    // cells: exact for whole-hour zones, to the hour for the few 30/45-minute ones).
    const zones = await advertiserZones(c.env.DB, [...new Set(campaigns.map((k) => k.advertiser_id))]);
    const questionFor = (zone: string): CellQuery => {
      if (zone === "UTC") return { granularity: "day", from: start, to: start + DAY };
      const [from, to] = zoneDay(date, zone);
      return { granularity: "hour", from: floorTo(from, HOUR), to: floorTo(to + HOUR - 1, HOUR) };
    };
    const rows = [];
    // A few campaigns at a time: each is a round trip to every one of its shards.
    for (let i = 0; i < campaigns.length; i += 16) {
      rows.push(
        ...(await Promise.all(
          campaigns.slice(i, i + 16).map(async (k) => {
            const question = questionFor(zones.get(k.advertiser_id) ?? "UTC");
            const parts = (await Promise.all(shardStubs(c.env, k).map((stub) => stub.cells(question)))).flat();
            const realtime = parts.reduce((n, p) => n + p.clicks, 0);
            const late = parts.reduce((n, p) => n + p.late_clicks, 0);
            const b = billed.get(k.campaign_id);
            const billedClicks = b?.clicks ?? 0;
            // Repeats of an event_id from another minute: clicks in real time, duplicates in billing.
            const repeats = b?.repeats ?? 0;
            const { difference, unexplained } = reconcile({ realtime, late, billed: billedClicks, repeats });
            return {
              campaign_id: k.campaign_id,
              realtime_clicks: realtime,
              billed_clicks: billedClicks,
              difference,
              late_clicks: late,
              event_id_repeats: repeats,
              unexplained,
              billing_status: b?.status ?? "not_rolled_up",
            };
          }),
        )),
      );
    }
    const body = { date, campaigns: rows };
    return jsonOrCsv(c, format, body, {
      filename: `reconciliation-${date}`,
      row: R.reconciliation.shape.campaigns.element,
      rows: (b) => b.campaigns,
    });
  });

/** Real-time and billing reads, in the order their paths must be matched (`/ads/popular` before `/ads/{ad_id}/…`). */
export function readRoutes(app: QueryApp): void {
  for (const add of [popular, aggregatedCount, metrics, campaigns, live, billing, reconciliation]) add(app);
}
