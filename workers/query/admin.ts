/** `/v1/admin/*`: the registry, the blocklist and the billing rollup. Admin token only. */
import { hashIp } from "../../domain/crypto";
import { BLOCKLIST_STALENESS_MS, ipItem, uaItem } from "../../domain/blocklist";
import { ApiError, notFound } from "../../domain/errors";
import * as registry from "../../domain/registry";
import { canonicalZone } from "../../domain/time";
import * as api from "../../domain/api/routes";
import { parseSigningKeys, signClick } from "../../domain/signing";
import type { BatchRpc } from "../../domain/billing";
import type { Blocklist } from "../../durable-objects/blocklist";
import type { EdgeBuffer } from "../../durable-objects/buffer";
import { bufferSlots } from "../../domain/buffer";
import { GLOBAL_LEADERBOARD, advertiserLeaderboard, type Leaderboard } from "../../durable-objects/leaderboard";
import { objectsOf, shardStubs } from "./access";
import { mount, type QueryApp } from "./mount";

/** The ingest Worker's base URL, as configured (null when it is not: a link to localhost would be worse). */
export function configuredIngestBase(env: QueryEnv): string | null {
  const base = String(env.INGEST_BASE_URL ?? "").replace(/\/+$/, "");
  return base === "" ? null : base;
}

/** The base of click links; refuses to make links when it is not configured. */
export function ingestBase(env: QueryEnv): string {
  const base = configuredIngestBase(env);
  if (!base) {
    throw new ApiError(
      503,
      "not_configured",
      "INGEST_BASE_URL is not set for the query Worker, so no click link can be made (see README, Deploy).",
    );
  }
  return base;
}

/** A blocklist request's entries as the Blocklist object names them (IPs only as keyed hashes). */
async function blocklistItems(env: QueryEnv, body: { ips?: string[]; user_agents?: string[] }) {
  const ips = body.ips ?? [];
  const uas = body.user_agents ?? [];
  const items = [...(await Promise.all(ips.map(async (ip) => ipItem(await hashIp(env.IP_HASH_KEY, ip))))), ...uas.map(uaItem)];
  return { ips, uas, items };
}

/**
 * Campaign objects re-read the list at most BLOCKLIST_STALENESS_MS after a change: once we answer, every
 * click received afterwards is judged with it.
 */
const blocklistSeen = () => new Promise((r) => setTimeout(r, BLOCKLIST_STALENESS_MS + 100));

export function adminRoutes(app: QueryApp): void {
  mount(app, api.createAdvertiser, async (c, { body }) => {
    const zone = canonicalZone(body.time_zone ?? "UTC")!;
    return c.json(await registry.createAdvertiser(c.env.DB, body.name, body.jurisdiction ?? null, zone), 201);
  });

  mount(app, api.updateAdvertiser, async (c, { params, body }) => {
    const { time_zone: asked, ...limits } = body;
    const time_zone = asked === undefined ? undefined : canonicalZone(asked)!;
    if (time_zone !== undefined) {
      // Billed days are local dates: re-dating them would overlap or leave gaps in bills already published.
      const billed = await c.env.DB.prepare(
        `SELECT 1 FROM billing_daily b JOIN campaigns c ON c.campaign_id = b.campaign_id
         WHERE c.advertiser_id = ? AND b.time_zone <> ? LIMIT 1`,
      )
        .bind(params.id, time_zone)
        .first();
      if (billed) {
        throw new ApiError(
          409,
          "billing_exists",
          "This advertiser's campaigns have billing rows in another time zone; its zone cannot change.",
        );
      }
    }
    const updated = await registry.updateAdvertiser(c.env.DB, params.id, { ...limits, ...(time_zone === undefined ? {} : { time_zone }) });
    if (!updated) throw notFound(`Advertiser ${params.id}`);
    return c.json(updated, 200);
  });

  mount(app, api.createPublisher, async (c, { body: { name, ...limits } }) =>
    c.json(await registry.createPublisher(c.env.DB, name, limits), 201),
  );

  mount(app, api.updatePublisher, async (c, { params, body }) => {
    const limits = await registry.setPublisherLimits(c.env.DB, params.id, body);
    if (!limits) throw notFound(`Publisher ${params.id}`);
    return c.json({ publisher_id: params.id, limits }, 200);
  });

  mount(app, api.createCampaign, async (c, { body }) => {
    if (!(await registry.advertiserExists(c.env.DB, body.advertiser_id))) throw notFound(`Advertiser ${body.advertiser_id}`);
    return c.json(await registry.createCampaign(c.env.DB, body), 201);
  });

  mount(app, api.updateCampaign, async (c, { params, body }) => {
    const campaign = await registry.getCampaign(c.env.DB, params.id);
    if (!campaign) throw notFound(`Campaign ${params.id}`);
    const shard_plan = body.shards === undefined ? campaign.shard_plan : await registry.setShards(c.env.DB, campaign, body.shards);
    const daily_budget = body.daily_budget === undefined ? campaign.daily_budget : body.daily_budget;
    if (body.daily_budget !== undefined) await registry.setDailyBudget(c.env.DB, campaign.campaign_id, body.daily_budget);
    return c.json({ campaign_id: campaign.campaign_id, shard_plan, daily_budget }, 200);
  });

  mount(app, api.campaignObjects, async (c, { params }) => {
    const campaign = await registry.getCampaign(c.env.DB, params.id);
    if (!campaign) throw notFound(`Campaign ${params.id}`);
    const shards = await Promise.all(
      shardStubs(c.env, campaign).map(async (stub, shard) => ({
        shard,
        backlog: await stub.backlog(),
        memory: await stub.memory(),
        storage: await stub.storage(),
      })),
    );
    const boards = objectsOf<Leaderboard>(c.env.LEADERBOARD);
    const names = [GLOBAL_LEADERBOARD, advertiserLeaderboard(campaign.advertiser_id)];
    const [global, advertiser] = await Promise.all(names.map((n) => boards.getByName(n).storage()));
    return c.json({ campaign_id: campaign.campaign_id, shards, leaderboards: { global, advertiser } });
  });

  mount(app, api.edgeBuffers, async (c, { query }) => {
    const colo = query.colo ?? "local";
    const ns = objectsOf<EdgeBuffer>(c.env.BUFFER);
    const buffers = await Promise.all(
      Array.from({ length: bufferSlots(c.env) }, async (_, slot) => {
        const name = `${colo}:${slot}`;
        return { name, ...(await ns.getByName(name).stats()) };
      }),
    );
    return c.json({ colo, buffers });
  });

  mount(app, api.createAd, async (c, { body }) => {
    const campaign = await registry.getCampaign(c.env.DB, body.campaign_id);
    if (!campaign) throw notFound(`Campaign ${body.campaign_id}`);
    if (body.ad_group_id !== undefined) {
      const group = await registry.adGroupCampaign(c.env.DB, body.ad_group_id);
      if (!group) throw notFound(`Ad group ${body.ad_group_id}`);
      if (group !== campaign.campaign_id)
        throw new ApiError(400, "invalid_request", "ad_group_id: must be an ad group of the ad's campaign");
    }
    // An experiment's ad keeps its first variant's page as its own (the column every reader knows).
    const landing_url = body.landing_url ?? body.variants![0].landing_url;
    const { ad_id } = await registry.createAd(c.env.DB, { ...body, landing_url, advertiser_id: campaign.advertiser_id });
    const click_url = `${ingestBase(c.env)}/click?ad_id=${encodeURIComponent(ad_id)}`;
    return c.json({ ad_id, click_url }, 201);
  });

  mount(app, api.createClickUrl, async (c, { body }) => {
    if (!(await registry.getAd(c.env.DB, body.ad_id))) throw notFound(`Ad ${body.ad_id}`);
    if (!(await registry.publisherExists(c.env.DB, body.publisher_id))) throw notFound(`Publisher ${body.publisher_id}`);
    const sig = await signClick(parseSigningKeys(c.env.CLICK_SIGNING_KEYS), body.ad_id, body.publisher_id);
    const q = new URLSearchParams({ ad_id: body.ad_id, pub: body.publisher_id, sig });
    return c.json({ click_url: `${ingestBase(c.env)}/click?${q}` }, 201);
  });

  mount(app, api.addToBlocklist, async (c, { body }) => {
    const { ips, uas, items } = await blocklistItems(c.env, body);
    const { version, added } = await objectsOf<Blocklist>(c.env.BLOCKLIST).getByName("global").add(items);
    await blocklistSeen();
    return c.json({ ips: ips.length, user_agents: uas.length, added, version }, 200);
  });

  mount(app, api.removeFromBlocklist, async (c, { body }) => {
    const { ips, uas, items } = await blocklistItems(c.env, body);
    const { version, removed } = await objectsOf<Blocklist>(c.env.BLOCKLIST).getByName("global").remove(items);
    await blocklistSeen();
    return c.json({ ips: ips.length, user_agents: uas.length, removed, version }, 200);
  });

  mount(app, api.rollup, async (c, { body }) => {
    const batch = c.env.BATCH as Fetcher & BatchRpc;
    return c.json(await batch.rollup(body.date), 200);
  });

  mount(app, api.replay, async (c) => c.json(await (c.env.BATCH as Fetcher & BatchRpc).sweep(), 200));
}
