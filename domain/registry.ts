/**
 * The registry in D1: advertisers, publishers, campaigns, ads and hashed API keys. Reads on hot paths
 * go through a small in-isolate cache with bounded staleness, so a click never waits for D1 unless its
 * ad was not looked up within REGISTRY_TTL_MS.
 */
import type { Jurisdiction } from "./jurisdiction";
import {
  type AdvertiserLimits,
  DEFAULT_ADVERTISER_LIMITS,
  DEFAULT_PUBLISHER_LIMITS,
  LAST_USED_WRITE_MS,
  PRINCIPAL_TTL_MS,
  REGISTRY_TTL_MS,
  type PublisherLimits,
} from "./limits";
import { newApiKey, newId, sha256Hex } from "./crypto";
import { fromMicros, toMicros } from "./event";
import { parsePlan, singlePlan, withShards, type ShardPlan } from "./sharding";
import { MAX_BOUND_PARAMETERS, chunks, placeholders } from "./sql";

/** What the edge needs to know about an ad to take a click. */
export interface AdRecord {
  ad_id: string;
  campaign_id: string;
  advertiser_id: string;
  landing_url: string;
  ad_format: string | null;
  cost_per_click: number;
  /** Which Durable Object shards count the campaign, over time (domain/sharding.ts). */
  shard_plan: ShardPlan;
  /** Where the campaign's objects and archive live (domain/jurisdiction.ts). */
  jurisdiction: Jurisdiction | null;
  /** The query parameter that carries the click id to the landing page; null: none is added. */
  click_id_param: string | null;
  /** A/B variants (null: the one landing_url); a click picks one by weight (domain/variants.ts). */
  variants: Variant[] | null;
  ad_group_id: string | null;
  /** Conversions are attributed to clicks at most this many days old (the campaign's setting). */
  attribution_window_days: number;
  /** The campaign's budget per UTC day, in currency units (null: none); clicks carry it to the budget rule. */
  daily_budget: number | null;
}

/** One arm of an ad's A/B experiment. */
export interface Variant {
  name: string;
  landing_url: string;
  weight: number;
}

/** The attribution window of a campaign that does not set one. */
export const DEFAULT_ATTRIBUTION_WINDOW_DAYS = 30;

export interface CampaignRecord {
  campaign_id: string;
  advertiser_id: string;
  name: string;
  cost_per_click: number;
  shard_plan: ShardPlan;
  jurisdiction: Jurisdiction | null;
  daily_budget: number | null;
}

export type Principal =
  | { role: "admin" }
  | { role: "advertiser"; advertiser_id: string; limits: AdvertiserLimits; key_id: string }
  | { role: "publisher"; publisher_id: string; limits: PublisherLimits; key_id: string };

const NEGATIVE_TTL_MS = 5_000;

const CACHE_MAX = 20_000;

/** A tiny TTL cache, bounded by dropping the oldest entries. Per isolate; nothing in it is authoritative. */
class TtlCache<V> {
  readonly #map = new Map<string, { value: V; expires: number }>();
  constructor(readonly max = CACHE_MAX) {}

  get(key: string, now = Date.now()): V | undefined {
    const hit = this.#map.get(key);
    if (!hit) return undefined;
    if (hit.expires <= now) {
      this.#map.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: V, ttlMs: number, now = Date.now()): void {
    this.#map.delete(key);
    this.#map.set(key, { value, expires: now + ttlMs });
    while (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as string);
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}

const adCache = new TtlCache<AdRecord | null>();
const principalCache = new TtlCache<Principal | null>();
/** When this isolate last wrote each key's last_used_at. */
const lastUsedWritten = new TtlCache<number>();

interface AdRow {
  ad_id: string;
  campaign_id: string;
  advertiser_id: string;
  landing_url: string;
  ad_format: string | null;
  cost_per_click_micros: number;
  shards: number;
  shard_plan: string | null;
  jurisdiction: Jurisdiction | null;
  click_id_param: string | null;
  variants: string | null;
  ad_group_id: string | null;
  attribution_window_days: number | null;
  daily_budget_micros: number | null;
}

const budgetOf = (micros: number | null): number | null => (micros === null ? null : fromMicros(micros));

const AD_SELECT = `SELECT a.ad_id, a.campaign_id, a.advertiser_id, a.landing_url, a.ad_format, a.click_id_param, a.variants, a.ad_group_id,
  c.cost_per_click_micros, c.shards, c.shard_plan, c.jurisdiction, c.attribution_window_days, c.daily_budget_micros
  FROM ads a JOIN campaigns c ON c.campaign_id = a.campaign_id`;

const toAd = (r: AdRow): AdRecord => ({
  ad_id: r.ad_id,
  campaign_id: r.campaign_id,
  advertiser_id: r.advertiser_id,
  landing_url: r.landing_url,
  ad_format: r.ad_format,
  cost_per_click: fromMicros(r.cost_per_click_micros),
  shard_plan: parsePlan(r.shard_plan, r.shards),
  jurisdiction: r.jurisdiction ?? null,
  click_id_param: r.click_id_param ?? null,
  variants: r.variants ? (JSON.parse(r.variants) as Variant[]) : null,
  ad_group_id: r.ad_group_id ?? null,
  attribution_window_days: r.attribution_window_days ?? DEFAULT_ATTRIBUTION_WINDOW_DAYS,
  daily_budget: budgetOf(r.daily_budget_micros ?? null),
});

export async function getAd(db: D1Database, adId: string): Promise<AdRecord | null> {
  const row = await db.prepare(`${AD_SELECT} WHERE a.ad_id = ?`).bind(adId).first<AdRow>();
  return row ? toAd(row) : null;
}

/** getAd through the isolate cache (REGISTRY_TTL_MS; unknown ads NEGATIVE_TTL_MS). */
export async function getAdCached(db: D1Database, adId: string): Promise<AdRecord | null> {
  const hit = adCache.get(adId);
  if (hit !== undefined) return hit;
  const ad = await getAd(db, adId);
  adCache.set(adId, ad, ad ? REGISTRY_TTL_MS : NEGATIVE_TTL_MS);
  return ad;
}

/** Ads of several ids in one query (for posted batches); fills the cache. */
export async function getAdsCached(db: D1Database, adIds: Iterable<string>): Promise<Map<string, AdRecord>> {
  const out = new Map<string, AdRecord>();
  const missing: string[] = [];
  for (const id of new Set(adIds)) {
    const hit = adCache.get(id);
    if (hit) out.set(id, hit);
    else if (hit === undefined) missing.push(id);
  }
  for (const ids of chunks(missing, MAX_BOUND_PARAMETERS)) {
    const { results } = await db
      .prepare(`${AD_SELECT} WHERE a.ad_id IN (${placeholders(ids.length)})`)
      .bind(...ids)
      .all<AdRow>();
    const found = new Set<string>();
    for (const row of results) {
      const ad = toAd(row);
      out.set(ad.ad_id, ad);
      found.add(ad.ad_id);
      adCache.set(ad.ad_id, ad, REGISTRY_TTL_MS);
    }
    for (const id of ids) if (!found.has(id)) adCache.set(id, null, NEGATIVE_TTL_MS);
  }
  return out;
}

interface CampaignRow {
  campaign_id: string;
  advertiser_id: string;
  name: string;
  cost_per_click_micros: number;
  shards: number;
  shard_plan: string | null;
  jurisdiction: Jurisdiction | null;
  daily_budget_micros: number | null;
}

const CAMPAIGN_COLUMNS = "campaign_id, advertiser_id, name, cost_per_click_micros, shards, shard_plan, jurisdiction, daily_budget_micros";

const toCampaign = (r: CampaignRow): CampaignRecord => ({
  campaign_id: r.campaign_id,
  advertiser_id: r.advertiser_id,
  name: r.name,
  cost_per_click: fromMicros(r.cost_per_click_micros),
  shard_plan: parsePlan(r.shard_plan, r.shards),
  jurisdiction: r.jurisdiction ?? null,
  daily_budget: budgetOf(r.daily_budget_micros ?? null),
});

export async function getCampaign(db: D1Database, campaignId: string): Promise<CampaignRecord | null> {
  const row = await db.prepare(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE campaign_id = ?`).bind(campaignId).first<CampaignRow>();
  return row ? toCampaign(row) : null;
}

export async function listCampaigns(db: D1Database, advertiserId: string | null): Promise<CampaignRecord[]> {
  const stmt = advertiserId
    ? db.prepare(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE advertiser_id = ? ORDER BY created_at`).bind(advertiserId)
    : db.prepare(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns ORDER BY created_at`);
  const { results } = await stmt.all<CampaignRow>();
  return results.map(toCampaign);
}

/**
 * Sets (or with null removes) a campaign's daily budget. Edges carry it on clicks from their registry cache,
 * so it applies to every click received REGISTRY_TTL_MS after this returns (at once in this isolate).
 */
export async function setDailyBudget(db: D1Database, campaignId: string, dailyBudget: number | null): Promise<void> {
  await db
    .prepare("UPDATE campaigns SET daily_budget_micros = ? WHERE campaign_id = ?")
    .bind(dailyBudget === null ? null : toMicros(dailyBudget), campaignId)
    .run();
  // This isolate sees the new budget at once; others within their cache's staleness.
  adCache.clear();
}

/** Changes a campaign's shard count from the first safe minute on (domain/sharding.ts). */
export async function setShards(db: D1Database, campaign: CampaignRecord, shards: number, now = Date.now()): Promise<ShardPlan> {
  const plan = withShards(campaign.shard_plan, shards, now);
  await db.prepare("UPDATE campaigns SET shard_plan = ? WHERE campaign_id = ?").bind(JSON.stringify(plan), campaign.campaign_id).run();
  return plan;
}

/** A campaign's ads as the API lists them: landing page or variants, ad group, and the click id parameter. */
export interface AdListing {
  ad_id: string;
  landing_url: string;
  ad_format: string | null;
  ad_group_id: string | null;
  click_id_param: string | null;
  variants: Variant[] | null;
}

export async function listAds(db: D1Database, campaignId: string): Promise<AdListing[]> {
  const { results } = await db
    .prepare(
      `SELECT ad_id, landing_url, ad_format, ad_group_id, click_id_param, variants FROM ads WHERE campaign_id = ? ORDER BY created_at`,
    )
    .bind(campaignId)
    .all<Omit<AdListing, "variants"> & { variants: string | null }>();
  return results.map((r) => ({ ...r, variants: r.variants ? (JSON.parse(r.variants) as Variant[]) : null }));
}

/** A campaign's ad groups, oldest first. */
export async function listAdGroups(db: D1Database, campaignId: string): Promise<{ ad_group_id: string; name: string }[]> {
  const { results } = await db
    .prepare("SELECT ad_group_id, name FROM ad_groups WHERE campaign_id = ? ORDER BY created_at")
    .bind(campaignId)
    .all<{ ad_group_id: string; name: string }>();
  return results;
}

/** Each advertiser's time zone (IANA), for the ids asked. */
export async function advertiserZones(db: D1Database, ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const chunk of chunks(ids, MAX_BOUND_PARAMETERS)) {
    const { results } = await db
      .prepare(`SELECT advertiser_id, time_zone FROM advertisers WHERE advertiser_id IN (${placeholders(chunk.length)})`)
      .bind(...chunk)
      .all<{ advertiser_id: string; time_zone: string }>();
    for (const r of results) out.set(r.advertiser_id, r.time_zone);
  }
  return out;
}

export async function createAdvertiser(db: D1Database, name: string, jurisdiction: Jurisdiction | null = null, time_zone = "UTC") {
  const advertiser_id = newId("adv");
  const api_key = newApiKey("adv");
  const hash = await sha256Hex(api_key);
  const now = Date.now();
  await db.batch([
    // api_key_hash keeps the first key for the previous release's Workers during a deploy; api_keys is what counts.
    db
      .prepare(`INSERT INTO advertisers (advertiser_id, name, api_key_hash, created_at, jurisdiction, time_zone) VALUES (?, ?, ?, ?, ?, ?)`)
      .bind(advertiser_id, name, hash, now, jurisdiction, time_zone),
    insertKey(db, { kind: "advertiser", id: advertiser_id }, hash, now),
  ]);
  return { advertiser_id, api_key, jurisdiction, time_zone };
}

/** An advertiser's settings a PATCH may change; a limit set to null restores its default. */
export type AdvertiserSettings = {
  time_zone?: string;
  requests_per_minute?: number | null;
  conversions_per_second?: number | null;
};

type AdvertiserLimitRow = { requests_per_minute: number | null; conversions_per_second: number | null };

function advertiserLimitsOf(row: AdvertiserLimitRow): AdvertiserLimits {
  return {
    requests_per_minute: row.requests_per_minute ?? DEFAULT_ADVERTISER_LIMITS.requests_per_minute,
    conversions_per_second: row.conversions_per_second ?? DEFAULT_ADVERTISER_LIMITS.conversions_per_second,
  };
}

/** Changes the given settings; answers those that now apply, or null for an unknown advertiser. */
export async function updateAdvertiser(db: D1Database, id: string, patch: AdvertiserSettings) {
  const row = await db
    .prepare(
      `UPDATE advertisers SET
         time_zone = COALESCE(?2, time_zone),
         requests_per_minute = CASE WHEN ?3 THEN ?4 ELSE requests_per_minute END,
         conversions_per_second = CASE WHEN ?5 THEN ?6 ELSE conversions_per_second END
       WHERE advertiser_id = ?1 RETURNING time_zone, requests_per_minute, conversions_per_second`,
    )
    .bind(
      id,
      patch.time_zone ?? null,
      "requests_per_minute" in patch ? 1 : 0,
      patch.requests_per_minute ?? null,
      "conversions_per_second" in patch ? 1 : 0,
      patch.conversions_per_second ?? null,
    )
    .first<AdvertiserLimitRow & { time_zone: string }>();
  return row ? { advertiser_id: id, time_zone: row.time_zone, limits: advertiserLimitsOf(row) } : null;
}

/** An advertiser's time zone (UTC when unknown). */
export async function advertiserTimeZone(db: D1Database, id: string): Promise<string> {
  const r = await db.prepare("SELECT time_zone FROM advertisers WHERE advertiser_id = ?").bind(id).first<{ time_zone: string }>();
  return r?.time_zone ?? "UTC";
}

/** The time zones of campaigns' advertisers (billing dates are local dates in them); campaigns not found are left out. */
export async function campaignTimeZones(db: D1Database, campaignIds: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < campaignIds.length; i += 90) {
    const ids = campaignIds.slice(i, i + 90);
    const { results } = await db
      .prepare(
        `SELECT c.campaign_id, a.time_zone FROM campaigns c JOIN advertisers a ON a.advertiser_id = c.advertiser_id
         WHERE c.campaign_id IN (${ids.map(() => "?").join(", ")})`,
      )
      .bind(...ids)
      .all<{ campaign_id: string; time_zone: string }>();
    for (const r of results) out.set(r.campaign_id, r.time_zone);
  }
  return out;
}

/** A publisher's limits as set (null: the default), and as they apply. */
export type LimitSettings = { [K in keyof PublisherLimits]?: number | null };

function limitsOf(row: { requests_per_minute: number | null; events_per_second: number | null }): PublisherLimits {
  return {
    requests_per_minute: row.requests_per_minute ?? DEFAULT_PUBLISHER_LIMITS.requests_per_minute,
    events_per_second: row.events_per_second ?? DEFAULT_PUBLISHER_LIMITS.events_per_second,
  };
}

export async function createPublisher(db: D1Database, name: string, limits: LimitSettings = {}) {
  const publisher_id = newId("pub");
  const api_key = newApiKey("pub");
  const hash = await sha256Hex(api_key);
  const now = Date.now();
  const row = { requests_per_minute: limits.requests_per_minute ?? null, events_per_second: limits.events_per_second ?? null };
  await db.batch([
    db
      .prepare(
        `INSERT INTO publishers (publisher_id, name, api_key_hash, created_at, requests_per_minute, events_per_second) VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .bind(publisher_id, name, hash, now, row.requests_per_minute, row.events_per_second),
    insertKey(db, { kind: "publisher", id: publisher_id }, hash, now),
  ]);
  return { publisher_id, api_key, limits: limitsOf(row) };
}

/** Changes the given limits (null restores the default); answers the limits that now apply, or null for an unknown publisher. */
export async function setPublisherLimits(db: D1Database, id: string, patch: LimitSettings): Promise<PublisherLimits | null> {
  const row = await db
    .prepare(
      `UPDATE publishers SET
         requests_per_minute = CASE WHEN ?2 THEN ?3 ELSE requests_per_minute END,
         events_per_second = CASE WHEN ?4 THEN ?5 ELSE events_per_second END
       WHERE publisher_id = ?1 RETURNING requests_per_minute, events_per_second`,
    )
    .bind(
      id,
      "requests_per_minute" in patch ? 1 : 0,
      patch.requests_per_minute ?? null,
      "events_per_second" in patch ? 1 : 0,
      patch.events_per_second ?? null,
    )
    .first<{ requests_per_minute: number | null; events_per_second: number | null }>();
  return row ? limitsOf(row) : null;
}

export async function advertiserExists(db: D1Database, id: string): Promise<boolean> {
  return (await db.prepare(`SELECT 1 AS x FROM advertisers WHERE advertiser_id = ?`).bind(id).first()) !== null;
}

export async function publisherExists(db: D1Database, id: string): Promise<boolean> {
  return (await db.prepare(`SELECT 1 AS x FROM publishers WHERE publisher_id = ?`).bind(id).first()) !== null;
}

export async function createCampaign(
  db: D1Database,
  c: {
    advertiser_id: string;
    name: string;
    cost_per_click: number;
    shards?: number;
    attribution_window_days?: number;
    daily_budget?: number | null;
  },
) {
  const campaign_id = newId("cmp");
  await db
    .prepare(
      `INSERT INTO campaigns (campaign_id, advertiser_id, name, cost_per_click_micros, shards, shard_plan, created_at, attribution_window_days,
         daily_budget_micros, jurisdiction)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, jurisdiction FROM advertisers WHERE advertiser_id = ?`,
    )
    .bind(
      campaign_id,
      c.advertiser_id,
      c.name,
      toMicros(c.cost_per_click),
      c.shards ?? 1,
      JSON.stringify(singlePlan(c.shards)),
      Date.now(),
      c.attribution_window_days ?? null,
      c.daily_budget === undefined || c.daily_budget === null ? null : toMicros(c.daily_budget),
      c.advertiser_id,
    )
    .run();
  return { campaign_id };
}

export const DEFAULT_CLICK_ID_PARAM = "ec_click_id";

export async function createAd(
  db: D1Database,
  a: {
    campaign_id: string;
    advertiser_id: string;
    landing_url: string;
    ad_format?: string;
    click_id_param?: string | null;
    variants?: Variant[];
    ad_group_id?: string;
  },
) {
  const ad_id = newId("ad");
  await db
    .prepare(
      `INSERT INTO ads (ad_id, campaign_id, advertiser_id, landing_url, ad_format, created_at, click_id_param, variants, ad_group_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      ad_id,
      a.campaign_id,
      a.advertiser_id,
      a.landing_url,
      a.ad_format ?? null,
      Date.now(),
      a.click_id_param === undefined ? DEFAULT_CLICK_ID_PARAM : a.click_id_param,
      a.variants ? JSON.stringify(a.variants) : null,
      a.ad_group_id ?? null,
    )
    .run();
  return { ad_id };
}

export async function createAdGroup(db: D1Database, g: { campaign_id: string; advertiser_id: string; name: string }) {
  const ad_group_id = newId("adg");
  await db
    .prepare(`INSERT INTO ad_groups (ad_group_id, campaign_id, advertiser_id, name, created_at) VALUES (?, ?, ?, ?, ?)`)
    .bind(ad_group_id, g.campaign_id, g.advertiser_id, g.name, Date.now())
    .run();
  return { ad_group_id };
}

/** The campaign an ad group belongs to, or null for an unknown group. */
export async function adGroupCampaign(db: D1Database, adGroupId: string): Promise<string | null> {
  const row = await db.prepare(`SELECT campaign_id FROM ad_groups WHERE ad_group_id = ?`).bind(adGroupId).first<{ campaign_id: string }>();
  return row?.campaign_id ?? null;
}

/** Who holds this key: advertisers and publishers by key hash (cached PRINCIPAL_TTL_MS). The admin token is checked by the caller. */
export async function principalForKey(db: D1Database, key: string): Promise<Principal | null> {
  const hash = await sha256Hex(key);
  const hit = principalCache.get(hash);
  if (hit !== undefined) return hit;
  const row = await db
    .prepare(
      `SELECT k.key_id, k.advertiser_id, k.publisher_id, p.requests_per_minute, p.events_per_second,
         a.requests_per_minute AS advertiser_requests_per_minute, a.conversions_per_second
       FROM api_keys k LEFT JOIN publishers p ON p.publisher_id = k.publisher_id
         LEFT JOIN advertisers a ON a.advertiser_id = k.advertiser_id WHERE k.key_hash = ?`,
    )
    .bind(hash)
    .first<{
      key_id: string;
      advertiser_id: string | null;
      publisher_id: string | null;
      requests_per_minute: number | null;
      events_per_second: number | null;
      advertiser_requests_per_minute: number | null;
      conversions_per_second: number | null;
    }>();
  const p: Principal | null = !row
    ? null
    : row.advertiser_id
      ? {
          role: "advertiser",
          advertiser_id: row.advertiser_id,
          limits: advertiserLimitsOf({
            requests_per_minute: row.advertiser_requests_per_minute,
            conversions_per_second: row.conversions_per_second,
          }),
          key_id: row.key_id,
        }
      : { role: "publisher", publisher_id: row.publisher_id!, limits: limitsOf(row), key_id: row.key_id };
  principalCache.set(hash, p, p ? PRINCIPAL_TTL_MS : NEGATIVE_TTL_MS);
  return p;
}

/**
 * Records that a key was used, at most once per key per LAST_USED_WRITE_MS in this isolate (null when it is
 * not due): "last used" is accurate to that, and a request costs no D1 write. Hand the promise to waitUntil.
 */
export function noteKeyUse(db: D1Database, p: Principal, now = Date.now()): Promise<unknown> | null {
  if (p.role === "admin" || lastUsedWritten.get(p.key_id, now) !== undefined) return null;
  lastUsedWritten.set(p.key_id, now, LAST_USED_WRITE_MS, now);
  return db.prepare("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?").bind(now, p.key_id).run();
}

/** An advertiser or a publisher: the account a key belongs to. */
export interface KeyOwner {
  kind: "advertiser" | "publisher";
  id: string;
}

const ownerColumn = (o: KeyOwner) => (o.kind === "advertiser" ? "advertiser_id" : "publisher_id");

function insertKey(db: D1Database, owner: KeyOwner, hash: string, now: number, keyId = newId("key")): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO api_keys (key_id, key_hash, ${ownerColumn(owner)}, created_at) VALUES (?, ?, ?, ?)`)
    .bind(keyId, hash, owner.id, now);
}

export interface KeyInfo {
  key_id: string;
  created_at: number;
  last_used_at: number | null;
}

/** A new key for an existing account (null if there is no such account); the key is shown once. */
export async function issueKey(db: D1Database, owner: KeyOwner): Promise<{ key_id: string; api_key: string } | null> {
  const exists = owner.kind === "advertiser" ? advertiserExists(db, owner.id) : publisherExists(db, owner.id);
  if (!(await exists)) return null;
  const api_key = newApiKey(owner.kind === "advertiser" ? "adv" : "pub");
  const key_id = newId("key");
  await insertKey(db, owner, await sha256Hex(api_key), Date.now(), key_id).run();
  return { key_id, api_key };
}

export async function listKeys(db: D1Database, owner: KeyOwner): Promise<KeyInfo[]> {
  const { results } = await db
    .prepare(`SELECT key_id, created_at, last_used_at FROM api_keys WHERE ${ownerColumn(owner)} = ? ORDER BY created_at, key_id`)
    .bind(owner.id)
    .all<KeyInfo>();
  return results;
}

/**
 * Revokes one of the owner's keys, never its last one: the check and the delete are one statement, so two
 * concurrent revocations cannot leave an account without a key. Forgets the key in this isolate at once.
 */
export async function revokeKey(db: D1Database, owner: KeyOwner, keyId: string): Promise<"revoked" | "last" | "missing"> {
  const col = ownerColumn(owner);
  const gone = await db
    .prepare(
      `DELETE FROM api_keys WHERE key_id = ?1 AND ${col} = ?2 AND (SELECT COUNT(*) FROM api_keys WHERE ${col} = ?2) > 1 RETURNING key_hash`,
    )
    .bind(keyId, owner.id)
    .first<{ key_hash: string }>();
  if (gone) {
    principalCache.delete(gone.key_hash);
    return "revoked";
  }
  const exists = await db.prepare(`SELECT 1 AS x FROM api_keys WHERE key_id = ? AND ${col} = ?`).bind(keyId, owner.id).first();
  return exists ? "last" : "missing";
}
