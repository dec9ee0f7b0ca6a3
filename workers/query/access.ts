/** Reading a campaign or ad on behalf of a principal: anything not theirs is 404, like anything missing. */
import { notFound } from "../../domain/errors";
import { getAd, getCampaign, type AdRecord, type CampaignRecord } from "../../domain/registry";
import type { Principal } from "../../domain/registry";
import { campaignStub } from "../../durable-objects/client";
import type { CampaignCounter } from "../../durable-objects/campaign";
import { tenantOf } from "./auth";
import { maxShards, type ShardPlan } from "../../domain/sharding";

export async function campaignFor(env: QueryEnv, p: Principal, campaignId: string): Promise<CampaignRecord> {
  const c = await getCampaign(env.DB, campaignId);
  const tenant = tenantOf(p);
  if (!c || (tenant !== null && c.advertiser_id !== tenant)) throw notFound(`Campaign ${campaignId}`);
  return c;
}

export async function adFor(env: QueryEnv, p: Principal, adId: string): Promise<AdRecord> {
  const ad = await getAd(env.DB, adId);
  const tenant = tenantOf(p);
  if (!ad || (tenant !== null && ad.advertiser_id !== tenant)) throw notFound(`Ad ${adId}`);
  return ad;
}

/** Every shard object that ever counted the campaign. */
export function shardStubs(env: QueryEnv, c: { campaign_id: string; shard_plan: ShardPlan }): DurableObjectStub<CampaignCounter>[] {
  return Array.from({ length: maxShards(c.shard_plan) }, (_, s) => campaignStub(env.CAMPAIGN, c.campaign_id, s));
}
