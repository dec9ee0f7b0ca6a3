/** `/v1/alerts`: an advertiser's webhook and alerts, and the cron that evaluates every advertiser's alerts each minute. */
import { SIGNATURE_HEADER } from "../../domain/alerts";
import * as api from "../../domain/api/routes";
import { newApiKey } from "../../domain/crypto";
import { ApiError, notFound } from "../../domain/errors";
import { logLine } from "../../domain/log";
import { advertiserExists, listCampaigns, type CampaignRecord, type Principal } from "../../domain/registry";
import type { AlertBox } from "../../durable-objects/alerts";
import { objectsOf } from "./access";
import { mount, type QueryApp } from "./mount";

const boxOf = (env: QueryEnv, advertiserId: string) => objectsOf<AlertBox>(env.ALERTS).getByName(advertiserId);

/** The advertiser a request is about: the admin names one; an advertiser key means itself. */
async function advertiserOf(env: QueryEnv, p: Principal, named: string | undefined): Promise<string> {
  if (p.role === "advertiser") {
    if (named && named !== p.advertiser_id) throw new ApiError(403, "forbidden", "An advertiser key sees only its own alerts.");
    return p.advertiser_id;
  }
  if (!named) throw new ApiError(400, "invalid_request", "advertiser_id: is required with the admin token");
  if (!(await advertiserExists(env.DB, named))) throw notFound(`Advertiser ${named}`);
  return named;
}

export function alertRoutes(app: QueryApp): void {
  mount(app, api.setWebhook, async (c, { query, body }) => {
    const advertiserId = await advertiserOf(c.env, c.get("principal"), query.advertiser_id);
    // 256 random bits, like an API key, under its own prefix.
    const generated = body.secret ? null : newApiKey("adv").replace(/^ek_adv_/, "whsec_");
    await boxOf(c.env, advertiserId).setWebhook({ url: body.url, secret: body.secret ?? generated! });
    return c.json({ url: body.url, secret: generated, signature_header: SIGNATURE_HEADER });
  });

  mount(app, api.listAlerts, async (c, { query }) => {
    const box = boxOf(c.env, await advertiserOf(c.env, c.get("principal"), query.advertiser_id));
    const [webhook, alerts] = await Promise.all([box.webhook(), box.list(query.limit)]);
    return c.json({ webhook, alerts: alerts.map((a) => ({ ...a, at: new Date(a.at).toISOString() })) });
  });
}

/** Advertisers evaluated at once: each is one call to its alert object, which reads its campaigns' objects. */
const CONCURRENCY = 16;

/** The cron: every advertiser with campaigns, evaluated at `now` (the trigger's scheduled time). */
export async function evaluateAlerts(env: QueryEnv, now: number): Promise<number> {
  const byAdvertiser = new Map<string, CampaignRecord[]>();
  for (const c of await listCampaigns(env.DB, null)) byAdvertiser.set(c.advertiser_id, [...(byAdvertiser.get(c.advertiser_id) ?? []), c]);
  const entries = [...byAdvertiser];
  let raised = 0;
  for (let i = 0; i < entries.length; i += CONCURRENCY) {
    const results = await Promise.allSettled(
      entries.slice(i, i + CONCURRENCY).map(([id, campaigns]) => boxOf(env, id).evaluate(id, campaigns, now)),
    );
    for (const [k, r] of results.entries()) {
      if (r.status === "fulfilled") raised += r.value.length;
      else logLine("error", "alert evaluation failed", { advertiser_id: entries[i + k][0], error: String(r.reason) });
    }
  }
  return raised;
}
