/**
 * `GET /v1/ops` (admin): is edgeclick working? Every figure is read from the system itself — the campaign
 * objects (load, log backlog, archive lag, real-time counts), D1 (rollup runs, billing) — and the alerts
 * are derived from those figures, never from a side channel.
 */
import * as api from "../../domain/api/routes";
import { reconcile, type BatchRpc } from "../../domain/billing";
import { eventsOf, invalidByReason } from "../../domain/counters";
import { mergePartials } from "../../domain/metrics";
import { listCampaigns } from "../../domain/registry";
import { DAY, MINUTE, floorTo, utcDate } from "../../domain/time";
import { shardStubs } from "./access";
import { mount, type QueryApp } from "./mount";

/** Seed 000 §10.1: an invalid-click rate outside 5–30 % of all judged clicks is worth a look. */
export const FRAUD_BAND = [0.05, 0.3] as const;
/** Real time and billing should agree within 5 % (seed 000 §10). */
export const DRIFT_LIMIT = 0.05;
/** Events still unarchived after this long mean the archive path is stuck. */
export const ARCHIVE_LAG_LIMIT_S = 300;
/** At most this many campaigns are inspected per call (the busiest first is not known before asking). */
const MAX_CAMPAIGNS = 200;
/** Below this many events in the window, rates are not judged. */
const MIN_VOLUME = 100;

/** Spooled events (dead letters and edge fallbacks) older than this have missed a sweep: worth a look. */
export const SPOOL_AGE_LIMIT_S = 1800;

export const opsRoutes = (app: QueryApp) =>
  mount(app, api.opsView, async (c, { query: q }) => {
    const now = Date.now();
    const from = floorTo(now - q.minutes * MINUTE, MINUTE);
    const to = floorTo(now, MINUTE) + MINUTE;
    const today = utcDate(now);
    const yesterday = utcDate(now - DAY);
    const campaigns = (await listCampaigns(c.env.DB, null)).slice(0, MAX_CAMPAIGNS);

    const { results: billed } = await c.env.DB.prepare(
      "SELECT campaign_id, date, SUM(clicks) AS clicks, SUM(event_id_repeats) AS repeats FROM billing_daily WHERE date IN (?, ?) GROUP BY campaign_id, date",
    )
      .bind(yesterday, today)
      .all<{ campaign_id: string; date: string; clicks: number; repeats: number }>();
    const billedOf = new Map(billed.map((b) => [`${b.campaign_id}|${b.date}`, b]));

    const totals = {
      events: 0,
      clicks: 0,
      invalid: 0,
      duplicates: 0,
      suspicious: 0,
      late_events: 0,
      invalid_by_reason: {} as Record<string, number>,
    };
    const perCampaign = [];
    const drift = [];
    for (const k of campaigns) {
      const stubs = shardStubs(c.env, k);
      const [backlogs, window, days] = await Promise.all([
        Promise.all(stubs.map((s) => s.backlog())),
        Promise.all(stubs.map((s) => s.cells({ granularity: "minute", from, to }))).then((p) => p.flat()),
        Promise.all(stubs.map((s) => s.cells({ granularity: "day", from: floorTo(now, DAY) - DAY, to: floorTo(now, DAY) + DAY }))).then(
          (p) => p.flat(),
        ),
      ]);
      for (const m of mergePartials(window, () => from).values()) {
        totals.clicks += m.clicks;
        totals.invalid += m.invalid;
        totals.duplicates += m.duplicates;
        totals.suspicious += m.suspicious;
        totals.late_events += m.late_events;
        totals.events += eventsOf(m) + m.late_events;
        for (const [r, n] of Object.entries(invalidByReason(m.reasons)))
          totals.invalid_by_reason[r] = (totals.invalid_by_reason[r] ?? 0) + n;
      }
      for (const d of days) {
        const date = utcDate(d.ts);
        const b = billedOf.get(`${k.campaign_id}|${date}`);
        if (!b) continue;
        const { drift: share } = reconcile({ realtime: d.clicks, late: d.late_clicks, billed: b.clicks, repeats: b.repeats ?? 0 });
        drift.push({
          campaign_id: k.campaign_id,
          date,
          realtime_clicks: d.clicks,
          late_clicks: d.late_clicks,
          billed_clicks: b.clicks,
          drift: share,
        });
      }
      const oldest = backlogs.map((b) => b.oldest_unarchived_at).filter((t): t is number => t !== null);
      perCampaign.push({
        campaign_id: k.campaign_id,
        shard_plan: k.shard_plan,
        events_per_second: backlogs.reduce((n, b) => n + b.events_per_second, 0),
        log_rows: backlogs.reduce((n, b) => n + b.log_rows, 0),
        open_messages: backlogs.reduce((n, b) => n + b.open_messages, 0),
        unsent_messages: backlogs.reduce((n, b) => n + b.unsent_messages, 0),
        archive_lag_s: oldest.length ? Math.round((now - Math.min(...oldest)) / 1000) : 0,
      });
    }

    // The ops view matters most when something is broken: a batch Worker that does not answer is an alert, not a 500.
    const spool = await (c.env.BATCH as Fetcher & BatchRpc).spool().catch(() => null);
    const spoolAge = spool?.oldest_spooled_at ? Math.round((now - spool.oldest_spooled_at) / 1000) : 0;
    const { results: runs } = await c.env.DB.prepare(
      "SELECT date, files, events, rows, computed_at FROM rollup_runs ORDER BY computed_at DESC LIMIT 7",
    ).all<{
      date: string;
      files: number;
      events: number;
      rows: number;
      computed_at: number;
    }>();
    const judged = totals.clicks + totals.invalid;
    const fraudRate = judged ? totals.invalid / judged : 0;
    const lag = Math.max(0, ...perCampaign.map((p) => p.archive_lag_s));

    const alerts: { code: string; message: string }[] = [];
    if (judged >= MIN_VOLUME && (fraudRate < FRAUD_BAND[0] || fraudRate > FRAUD_BAND[1])) {
      alerts.push({
        code: "fraud_rate_out_of_band",
        message: `Invalid clicks are ${(fraudRate * 100).toFixed(1)} % of judged clicks over ${q.minutes} min (band 5–30 %).`,
      });
    }
    if (lag > ARCHIVE_LAG_LIMIT_S)
      alerts.push({ code: "archive_lag", message: `The oldest event not yet confirmed in the archive arrived ${lag} s ago.` });
    for (const d of drift) {
      if (d.realtime_clicks + d.late_clicks >= MIN_VOLUME && Math.abs(d.drift) > DRIFT_LIMIT) {
        alerts.push({
          code: "reconciliation_drift",
          message: `${d.campaign_id} on ${d.date}: billing and real time differ by ${(d.drift * 100).toFixed(1)} %.`,
        });
      }
    }
    if (!spool) {
      alerts.push({ code: "batch_unreachable", message: "The batch Worker did not answer: the spool (dead letters) could not be read." });
    } else if (spoolAge > SPOOL_AGE_LIMIT_S) {
      const files = `${spool.files}${spool.more ? "+" : ""}`;
      alerts.push({
        code: "dead_letters",
        message: `${files} spooled event files wait for replay; the oldest was spooled ${spoolAge} s ago.`,
      });
    }
    if (totals.events > 0 && (!runs[0] || now - runs[0].computed_at > DAY))
      alerts.push({ code: "rollup_stale", message: "No billing rollup has run in the last 24 hours." });

    return c.json({
      as_of: new Date(now).toISOString(),
      window_minutes: q.minutes,
      ingest: { ...totals, events_per_second: Number((totals.events / ((to - from) / 1000)).toFixed(2)) },
      fraud: {
        rate: Number(fraudRate.toFixed(4)),
        band: FRAUD_BAND,
        within_band: judged < MIN_VOLUME || (fraudRate >= FRAUD_BAND[0] && fraudRate <= FRAUD_BAND[1]),
      },
      archive: {
        log_rows: perCampaign.reduce((n, p) => n + p.log_rows, 0),
        open_messages: perCampaign.reduce((n, p) => n + p.open_messages, 0),
        unsent_messages: perCampaign.reduce((n, p) => n + p.unsent_messages, 0),
        oldest_unarchived_age_s: lag,
      },
      queues: { spooled_files: spool?.files ?? null, spooled_files_more: spool?.more ?? false, oldest_spooled_age_s: spoolAge },
      rollups: { recent: runs, last_run_at: runs[0] ? new Date(runs[0].computed_at).toISOString() : null },
      reconciliation: drift,
      campaigns: perCampaign,
      campaigns_inspected: perCampaign.length,
      alerts,
    });
  });
