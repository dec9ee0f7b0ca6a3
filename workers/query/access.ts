/** Reading a campaign or ad on behalf of a principal: anything not theirs is 404, like anything missing. */
import { notFound } from "../../domain/errors";
import { getAd, getCampaign, type AdRecord, type CampaignRecord } from "../../domain/registry";
import type { Principal } from "../../domain/registry";
import { campaignStub } from "../../durable-objects/client";
import type { CampaignCounter } from "../../durable-objects/campaign";
import { tenantOf } from "./auth";
import { maxShards, type ShardPlan } from "../../domain/sharding";
import { idParam } from "../../domain/schemas";
import type { Jurisdiction } from "../../domain/jurisdiction";

/** An id from a path is echoed in the 404, but never at length. */
const shown = (id: string) => (id.length > 64 ? `${id.slice(0, 64)}…` : id);

export async function campaignFor(env: QueryEnv, p: Principal, campaignId: string): Promise<CampaignRecord> {
  // An id that could never have been issued is as missing as one that was not: no query for it.
  const c = idParam.safeParse(campaignId).success ? await getCampaign(env.DB, campaignId) : null;
  const tenant = tenantOf(p);
  if (!c || (tenant !== null && c.advertiser_id !== tenant)) throw notFound(`Campaign ${shown(campaignId)}`);
  return c;
}

export async function adFor(env: QueryEnv, p: Principal, adId: string): Promise<AdRecord> {
  const ad = idParam.safeParse(adId).success ? await getAd(env.DB, adId) : null;
  const tenant = tenantOf(p);
  if (!ad || (tenant !== null && ad.advertiser_id !== tenant)) throw notFound(`Ad ${shown(adId)}`);
  return ad;
}

/**
 * A binding to one of our own Durable Object classes, typed. `wrangler types` types a binding to another
 * script's class as an untyped namespace; the class is ours, so it is typed here, in one place.
 */
export function objectsOf<T extends Rpc.DurableObjectBranded>(
  ns: DurableObjectNamespace<T> | DurableObjectNamespace,
): DurableObjectNamespace<T> {
  return ns as DurableObjectNamespace<T>;
}

/** Every shard object that ever counted the campaign. */
export function shardStubs(
  env: QueryEnv,
  c: { campaign_id: string; shard_plan: ShardPlan; jurisdiction: Jurisdiction | null },
): DurableObjectStub<CampaignCounter>[] {
  return Array.from({ length: maxShards(c.shard_plan) }, (_, s) => campaignStub(env.CAMPAIGN, c.campaign_id, s, c.jurisdiction));
}
