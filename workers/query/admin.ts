/** `/v1/admin/*`: the registry, the blocklist and the billing rollup. Admin token only. */
import { Hono } from "hono";
import { hashIp } from "../../domain/crypto";
import { BLOCKLIST_STALENESS_MS, ipItem, uaItem } from "../../domain/blocklist";
import { ApiError, notFound } from "../../domain/errors";
import * as registry from "../../domain/registry";
import { blocklistBody, buffersQuery, createAd, createAdvertiser, createCampaign, createClickUrl, createNamed, parseOr400, rollupBody, updateCampaign } from "../../domain/schemas";
import { parseSigningKeys, signClick } from "../../domain/signing";
import type { BatchRpc } from "../../domain/billing";
import type { Blocklist } from "../../durable-objects/blocklist";
import type { EdgeBuffer } from "../../durable-objects/buffer";
import { bufferSlots } from "../../domain/buffer";
import { GLOBAL_LEADERBOARD, advertiserLeaderboard, type Leaderboard } from "../../durable-objects/leaderboard";
import { objectsOf, shardStubs } from "./access";
import { methodNotAllowed, readJson } from "../http";
import { authenticate, requireAdmin } from "./auth";

type Env = { Bindings: QueryEnv };

/** The ingest Worker's base URL, as configured (null when it is not: a link to localhost would be worse). */
export function configuredIngestBase(env: QueryEnv): string | null {
  const base = String(env.INGEST_BASE_URL ?? "").replace(/\/+$/, "");
  return base === "" ? null : base;
}

/** The base of click links; refuses to make links when it is not configured. */
export function ingestBase(env: QueryEnv): string {
  const base = configuredIngestBase(env);
  if (!base) {
    throw new ApiError(503, "not_configured", "INGEST_BASE_URL is not set for the query Worker, so no click link can be made (see README, Deploy).");
  }
  return base;
}

export const admin = new Hono<Env>();

admin.use("*", async (c, next) => {
  requireAdmin(await authenticate(c.req.raw, c.env));
  await next();
});

admin.post("/advertisers", async (c) => {
  const body = parseOr400(createAdvertiser, await readJson(c.req.raw));
  return c.json(await registry.createAdvertiser(c.env.DB, body.name, body.jurisdiction ?? null), 201);
});

admin.post("/publishers", async (c) => {
  const body = parseOr400(createNamed, await readJson(c.req.raw));
  return c.json(await registry.createPublisher(c.env.DB, body.name), 201);
});

admin.post("/campaigns", async (c) => {
  const body = parseOr400(createCampaign, await readJson(c.req.raw));
  if (!(await registry.advertiserExists(c.env.DB, body.advertiser_id))) throw notFound(`Advertiser ${body.advertiser_id}`);
  return c.json(await registry.createCampaign(c.env.DB, body), 201);
});

admin.patch("/campaigns/:id", async (c) => {
  const body = parseOr400(updateCampaign, await readJson(c.req.raw));
  const campaign = await registry.getCampaign(c.env.DB, c.req.param("id"));
  if (!campaign) throw notFound(`Campaign ${c.req.param("id")}`);
  const shard_plan = await registry.setShards(c.env.DB, campaign, body.shards);
  return c.json({ campaign_id: campaign.campaign_id, shard_plan }, 200);
});

admin.get("/campaigns/:id/objects", async (c) => {
  const campaign = await registry.getCampaign(c.env.DB, c.req.param("id"));
  if (!campaign) throw notFound(`Campaign ${c.req.param("id")}`);
  const shards = await Promise.all(
    shardStubs(c.env, campaign).map(async (stub, shard) => ({ shard, backlog: await stub.backlog(), memory: await stub.memory(), storage: await stub.storage() })),
  );
  const boards = objectsOf<Leaderboard>(c.env.LEADERBOARD);
  const [global, advertiser] = await Promise.all([GLOBAL_LEADERBOARD, advertiserLeaderboard(campaign.advertiser_id)].map((n) => boards.getByName(n).storage()));
  return c.json({ campaign_id: campaign.campaign_id, shards, leaderboards: { global, advertiser } });
});

admin.get("/buffers", async (c) => {
  const colo = parseOr400(buffersQuery, Object.fromEntries(new URL(c.req.url).searchParams)).colo ?? "local";
  const ns = objectsOf<EdgeBuffer>(c.env.BUFFER);
  const buffers = await Promise.all(
    Array.from({ length: bufferSlots(c.env) }, async (_, slot) => {
      const name = `${colo}:${slot}`;
      return { name, ...(await ns.getByName(name).stats()) };
    }),
  );
  return c.json({ colo, buffers });
});

admin.post("/ads", async (c) => {
  const body = parseOr400(createAd, await readJson(c.req.raw));
  const campaign = await registry.getCampaign(c.env.DB, body.campaign_id);
  if (!campaign) throw notFound(`Campaign ${body.campaign_id}`);
  const { ad_id } = await registry.createAd(c.env.DB, { ...body, advertiser_id: campaign.advertiser_id });
  const click_url = `${ingestBase(c.env)}/click?ad_id=${encodeURIComponent(ad_id)}`;
  return c.json({ ad_id, click_url }, 201);
});

admin.post("/click-urls", async (c) => {
  const body = parseOr400(createClickUrl, await readJson(c.req.raw));
  if (!(await registry.getAd(c.env.DB, body.ad_id))) throw notFound(`Ad ${body.ad_id}`);
  if (!(await registry.publisherExists(c.env.DB, body.publisher_id))) throw notFound(`Publisher ${body.publisher_id}`);
  const sig = await signClick(parseSigningKeys(c.env.CLICK_SIGNING_KEYS), body.ad_id, body.publisher_id);
  const q = new URLSearchParams({ ad_id: body.ad_id, pub: body.publisher_id, sig });
  return c.json({ click_url: `${ingestBase(c.env)}/click?${q}` }, 201);
});

admin.post("/blocklist", async (c) => {
  const body = parseOr400(blocklistBody, await readJson(c.req.raw, 2 * 1024 * 1024));
  const ips = body.ips ?? [];
  const uas = body.user_agents ?? [];
  const items = [
    ...(await Promise.all(ips.map(async (ip) => ipItem(await hashIp(c.env.IP_HASH_KEY, ip))))),
    ...uas.map(uaItem),
  ];
  const { version, added } = await objectsOf<Blocklist>(c.env.BLOCKLIST).getByName("global").add(items);
  // Campaign objects re-read the list at most this long after a change: once we answer, every click
  // received afterwards is judged with it.
  await new Promise((r) => setTimeout(r, BLOCKLIST_STALENESS_MS + 100));
  return c.json({ ips: ips.length, user_agents: uas.length, added, version }, 200);
});

admin.post("/rollup", async (c) => {
  const body = parseOr400(rollupBody, await readJson(c.req.raw, 64 * 1024, { allowEmpty: true }));
  const batch = c.env.BATCH as Fetcher & BatchRpc;
  const result = await batch.rollup(body.date);
  return c.json(result, 200);
});

// A known path with another method is a 405 (with Allow), not a "no such endpoint".
for (const path of ["/advertisers", "/publishers", "/campaigns", "/ads", "/click-urls", "/blocklist", "/rollup"]) {
  admin.all(path, methodNotAllowed("POST"));
}
admin.all("/campaigns/:id", methodNotAllowed("PATCH"));
admin.all("/campaigns/:id/objects", methodNotAllowed("GET, HEAD"));
admin.all("/buffers", methodNotAllowed("GET, HEAD"));

admin.all("*", () => {
  throw new ApiError(404, "not_found", "No such admin endpoint.");
});
