/** Attribution (issue 12): ad groups, A/B experiment summaries and click heatmaps. */
import { ApiError, notFound } from "../../domain/errors";
import { createAdGroup as createAdGroupRow, getCampaign } from "../../domain/registry";
import * as api from "../../domain/api/routes";
import { conversionRate, segments } from "../../domain/metrics";
import { HEAT_COLS, HEAT_ROWS } from "../../domain/heatmap";
import { DAY, HOUR, MINUTE, floorTo, isoMinute } from "../../domain/time";
import { twoProportionZTest } from "../../domain/variants";
import { adFor, shardStubs } from "./access";
import { mount, type QueryApp } from "./mount";

const ALPHA = 0.05;
const METHOD = "Pooled two-proportion z-test, two-sided, of the best variant's conversion rate against the runner-up's.";

const experiment = (app: QueryApp) =>
  mount(app, api.experiment, async (c, { query: q, params }) => {
    const now = Date.now();
    const to = q.to ?? floorTo(now, MINUTE) + MINUTE;
    const from = q.from ?? to - 30 * DAY;
    if (to <= from) throw new ApiError(400, "invalid_range", "`to` must be after `from`.");
    const ad = await adFor(c.env, c.get("principal"), params.ad_id);
    const questions = segments(from, to).map((s) => ({ ...s, ad_ids: [ad.ad_id], group_by: "variant" as const }));
    const answers = await Promise.all(shardStubs(c.env, ad).map((stub) => stub.cellsMany(questions)));
    const byName = new Map<string, { clicks: number; conversions: number }>();
    for (const v of ad.variants ?? []) byName.set(v.name, { clicks: 0, conversions: 0 });
    for (const perShard of answers) {
      for (const parts of perShard) {
        for (const p of parts) {
          if (!p.group) continue; // clicks that went to no variant (before the experiment, or an unlabelled link)
          const t = byName.get(p.group) ?? { clicks: 0, conversions: 0 };
          t.clicks += p.clicks;
          t.conversions += p.conversions;
          byName.set(p.group, t);
        }
      }
    }
    const weights = new Map((ad.variants ?? []).map((v) => [v.name, v.weight]));
    const variants = [...byName].map(([name, t]) => ({
      name,
      weight: weights.get(name) ?? null,
      clicks: t.clicks,
      conversions: t.conversions,
      conversion_rate: conversionRate(t.conversions, t.clicks),
    }));
    // Highest rate first; among equal rates the one with more evidence.
    const ranked = variants.filter((v) => v.clicks > 0).sort((a, b) => b.conversion_rate! - a.conversion_rate! || b.clicks - a.clicks);
    const [best, second] = ranked;
    const test = best && second ? twoProportionZTest(best.conversions, best.clicks, second.conversions, second.clicks) : null;
    return c.json({
      ad_id: ad.ad_id,
      from: isoMinute(from),
      to: isoMinute(to),
      variants,
      best: best?.name ?? null,
      runner_up: second?.name ?? null,
      method: METHOD,
      alpha: ALPHA,
      z: test ? Math.round(test.z * 1e6) / 1e6 : null,
      p_value: test ? Math.round(test.p_value * 1e9) / 1e9 : null,
      significant: test !== null && best.conversion_rate! > second.conversion_rate! && test.p_value < ALPHA,
    });
  });

const heatmap = (app: QueryApp) =>
  mount(app, api.heatmap, async (c, { query: q, params }) => {
    const from = floorTo(q.from, HOUR);
    if (q.to <= q.from) throw new ApiError(400, "invalid_range", "`to` must be after `from`.");
    if (q.to - from > 92 * DAY) throw new ApiError(400, "range_too_large", "Ask for at most 92 days at a time.");
    const ad = await adFor(c.env, c.get("principal"), params.ad_id);
    const grid = new Map<number, number>();
    for (const parts of await Promise.all(shardStubs(c.env, ad).map((stub) => stub.heatmap(ad.ad_id, from, q.to)))) {
      for (const [cell, n] of parts) grid.set(cell, (grid.get(cell) ?? 0) + n);
    }
    const cells = [...grid]
      .sort(([a], [b]) => a - b)
      .map(([cell, clicks]) => ({ col: cell % HEAT_COLS, row: Math.floor(cell / HEAT_COLS), clicks }));
    return c.json({ ad_id: ad.ad_id, from: isoMinute(from), to: isoMinute(q.to), cols: HEAT_COLS, rows: HEAT_ROWS, cells });
  });

const createAdGroup = (app: QueryApp) =>
  mount(app, api.createAdGroup, async (c, { body }) => {
    const campaign = await getCampaign(c.env.DB, body.campaign_id);
    if (!campaign) throw notFound(`Campaign ${body.campaign_id}`);
    return c.json(await createAdGroupRow(c.env.DB, { ...body, advertiser_id: campaign.advertiser_id }), 201);
  });

export function attributionRoutes(app: QueryApp): void {
  createAdGroup(app);
  experiment(app);
  heatmap(app);
}
