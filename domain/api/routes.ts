/**
 * Every endpoint of edgeclick, defined once (see define.ts). The ingest Worker routes the `ingest` ones;
 * the query Worker routes the others and publishes all of them as its OpenAPI document.
 */
import { z } from "zod";
import {
  EPISODE_QUIET_MS,
  INVALID_BAND,
  INVALID_MIN_EVENTS,
  RETRY_DELAYS_S,
  SIGNATURE_HEADER,
  SPIKE_FACTOR,
  SPIKE_MIN_PER_MINUTE,
} from "../alerts";
import { LAST_USED_WRITE_MS, MAX_BODY_BYTES, MAX_EVENTS, PRINCIPAL_TTL_MS, REGISTRY_TTL_MS } from "../limits";
import * as S from "../schemas";
import { documentedQuery, endpoint, inputSchema, jsonAnswer, jsonOrCsvAnswer } from "./define";
import * as R from "./responses";

const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------------
// Ingest (on the ingest base URL)

export const click = endpoint({
  method: "get",
  path: "/click",
  id: "click",
  tag: "ingest",
  summary: "Follow an ad link: record the click, then redirect to the ad's landing page",
  description:
    "Event time is the receive time. Client IP from `CF-Connecting-IP`; country from the edge, else `CF-IPCountry`, else XX; " +
    "device type and OS from the User-Agent. Only a missing or malformed `ad_id` is refused (400); a malformed optional " +
    "field is dropped and the click still goes through. A signed link whose `sig` does not match its ad and publisher is " +
    "recorded as `bad_signature` and answered 403 without a redirect. Over the per-IP edge limit the person is still " +
    "redirected and the click is recorded as invalid (`rate_limited`). HEAD answers the same without recording a click.",
  auth: "none",
  // Read leniently by the handler (a bad optional field is dropped, not refused), so documented only.
  parameters: () => documentedQuery(S.clickParams),
  responses: {
    302: {
      description: "Recorded durably; redirect to the registered landing_url (never to a URL from the request).",
      headers: {
        Location: {
          schema: { type: "string" },
          description:
            "The ad's landing_url (or its A/B variant's) with the click id added as one query parameter (the ad's " +
            "click_id_param, default ec_click_id; none when it is null); its query string and fragment are otherwise unchanged.",
        },
        "Cache-Control": { schema: { type: "string", const: "no-store" } },
      },
    },
  },
  errors: [400, 403, 404],
});

export const postEvents = endpoint({
  method: "post",
  path: "/v1/events",
  id: "postEvents",
  tag: "ingest",
  summary: "Post a batch of click events (publisher)",
  description: `At most ${MAX_EVENTS} events and ${MAX_BODY_BYTES / MiB} MiB a request. Each event is accepted or rejected on its own.`,
  auth: "publisher",
  // JSON or NDJSON, read by the handler so that one broken event rejects only itself.
  content: {
    required: true,
    content: {
      "application/json": {
        schema: { type: "array", maxItems: MAX_EVENTS, items: { $ref: "#/components/schemas/PostedEvent" } },
        example: [{ event_id: "e-1", timestamp: "2026-01-01T12:00:00Z", ad_id: "ad_7Hq2mK9x", user_id: "u1", country: "DE" }],
      },
      "application/x-ndjson": {
        schema: { type: "string", description: "One PostedEvent JSON object per line; a broken line rejects only that event." },
      },
    },
  },
  responses: jsonAnswer(202, "Every accepted event is durably recorded; rejected ones are listed with their index.", R.eventsResult),
  errors: [400, 401, 403, 413, 429],
});

/** Schemas the document names that no route's own schema reaches. */
export const namedSchemas = () => ({ PostedEvent: inputSchema(S.postedEvent), PostedConversion: inputSchema(S.postedConversion) });

// ---------------------------------------------------------------------------------------------------
// Admin (admin token)

const ADMIN_WRITE = [400, 401, 403, 413] as const;

export const createAdvertiser = endpoint({
  method: "post",
  path: "/v1/admin/advertisers",
  id: "createAdvertiser",
  tag: "admin",
  summary: "Create an advertiser and its API key",
  auth: "admin",
  body: { schema: S.createAdvertiser, example: { name: "Acme" } },
  responses: jsonAnswer(201, "The advertiser and its key", R.advertiserCreated),
  errors: [...ADMIN_WRITE],
});

export const updateAdvertiser = endpoint({
  method: "patch",
  path: "/v1/admin/advertisers/{id}",
  id: "updateAdvertiser",
  tag: "admin",
  summary:
    "Change an advertiser's time zone (IANA name: where its local hours and days start in metrics and billing) or its key's limits on POST /v1/conversions",
  description:
    "Billing dates are local dates in the zone. Once any of the advertiser's campaigns has billing rows, the zone cannot change " +
    "(409 billing_exists): re-dated days would overlap or leave gaps in bills already published.",
  auth: "admin",
  params: S.advertiserPath,
  body: { schema: S.updateAdvertiser, example: { time_zone: "Europe/Amsterdam" } },
  responses: jsonAnswer(200, "The time zone and limits that now apply", R.advertiserUpdated),
  errors: [...ADMIN_WRITE, 404, 409],
});

export const createPublisher = endpoint({
  method: "post",
  path: "/v1/admin/publishers",
  id: "createPublisher",
  tag: "admin",
  summary: "Create a publisher and its API key",
  auth: "admin",
  body: { schema: S.createPublisher, example: { name: "News" } },
  responses: jsonAnswer(201, "The publisher, its key and its limits", R.publisherCreated),
  errors: [...ADMIN_WRITE],
});

export const updatePublisher = endpoint({
  method: "patch",
  path: "/v1/admin/publishers/{id}",
  id: "updatePublisher",
  tag: "admin",
  summary: "Change a publisher's limits on POST /v1/events (requests a minute, events a second)",
  description: `Edges apply the change within the key cache's staleness (${PRINCIPAL_TTL_MS / 1000} s).`,
  auth: "admin",
  params: S.publisherPath,
  body: { schema: S.updatePublisher, example: { requests_per_minute: 6000, events_per_second: 50000 } },
  responses: jsonAnswer(200, "The limits that now apply", R.publisherUpdated),
  errors: [...ADMIN_WRITE, 404],
});

export const createCampaign = endpoint({
  method: "post",
  path: "/v1/admin/campaigns",
  id: "createCampaign",
  tag: "admin",
  summary: "Create a campaign",
  auth: "admin",
  body: { schema: S.createCampaign, example: { advertiser_id: "adv_4Tz8wQ1c", name: "Spring sale", cost_per_click: 0.25 } },
  responses: jsonAnswer(201, "The campaign", R.campaignCreated),
  errors: [...ADMIN_WRITE, 404],
});

export const updateCampaign = endpoint({
  method: "patch",
  path: "/v1/admin/campaigns/{id}",
  id: "updateCampaign",
  tag: "admin",
  summary: "Change a campaign's number of shards or its daily budget",
  description: `A new daily_budget applies to clicks received within the edges' registry cache (${REGISTRY_TTL_MS / 1000} s).`,
  auth: "admin",
  params: S.campaignPath,
  body: { schema: S.updateCampaign, example: { shards: 4, daily_budget: 250 } },
  responses: jsonAnswer(200, "The shard plan and daily budget that now apply", R.campaignUpdated),
  errors: [...ADMIN_WRITE, 404],
});

export const campaignObjects = endpoint({
  method: "get",
  path: "/v1/admin/campaigns/{id}/objects",
  id: "campaignObjects",
  tag: "admin",
  summary: "A campaign's Durable Objects: log backlog, memory and SQLite rows written and read",
  auth: "admin",
  params: S.campaignPath,
  responses: jsonAnswer(200, "Per shard object", R.campaignObjects),
  errors: [400, 401, 403, 404],
});

export const edgeBuffers = endpoint({
  method: "get",
  path: "/v1/admin/buffers",
  id: "edgeBuffers",
  tag: "admin",
  summary: "The edge buffers of one location: rows waiting to be forwarded, events delivered, SQLite rows per statement",
  auth: "admin",
  query: S.buffersQuery,
  responses: jsonAnswer(200, "Per buffer slot", R.edgeBuffers),
  errors: [400, 401, 403],
});

export const createAd = endpoint({
  method: "post",
  path: "/v1/admin/ads",
  id: "createAd",
  tag: "admin",
  summary: "Create an ad; answers its click link",
  auth: "admin",
  body: { schema: S.createAd, example: { campaign_id: "cmp_9Rk3vB6n", landing_url: "https://example.com/spring" } },
  responses: jsonAnswer(201, "The ad and its link", R.adCreated),
  errors: [...ADMIN_WRITE, 404],
});

export const createClickUrl = endpoint({
  method: "post",
  path: "/v1/admin/click-urls",
  id: "createClickUrl",
  tag: "admin",
  summary: "Sign a click link for an ad and a publisher",
  auth: "admin",
  body: { schema: S.createClickUrl },
  responses: jsonAnswer(201, "The signed link", R.clickUrl),
  errors: [...ADMIN_WRITE, 404],
});

export const addToBlocklist = endpoint({
  method: "post",
  path: "/v1/admin/blocklist",
  id: "addToBlocklist",
  tag: "admin",
  summary: "Add known bad IPs and User-Agents",
  auth: "admin",
  body: { schema: S.blocklistBody, maxBytes: 2 * MiB, example: { ips: ["198.51.100.9"] } },
  responses: jsonAnswer(200, "What was added", R.blocklistResult),
  errors: [...ADMIN_WRITE],
});

export const rollup = endpoint({
  method: "post",
  path: "/v1/admin/rollup",
  id: "rollup",
  tag: "admin",
  summary: "Run the billing rollup now (the cron's jobs), and answer when every job is done",
  description:
    "Plans a run (one job per campaign × date × user partition) and runs its jobs one after another in the batch " +
    "Worker; answers when all are done, so the billing rows are in place when it returns. The cron sends the same jobs " +
    "to the edgeclick-rollup queue instead, where they run in parallel.",
  auth: "admin",
  body: { schema: S.rollupBody, optional: true },
  responses: jsonAnswer(200, "Rows written per date", R.rollupResult),
  errors: [...ADMIN_WRITE],
});

export const replay = endpoint({
  method: "post",
  path: "/v1/admin/replay",
  id: "replay",
  tag: "admin",
  summary: "Replay the spool now: hand spooled events (dead letters, edge fallbacks) to their campaign objects",
  description: "The billing cron does this on every tick; receipts make a repeat count nothing twice.",
  auth: "admin",
  body: { schema: S.emptyBody, optional: true },
  responses: jsonAnswer(200, "What was replayed", R.replayResult),
  errors: [...ADMIN_WRITE],
});

export const opsView = endpoint({
  method: "get",
  path: "/v1/ops",
  id: "ops",
  tag: "admin",
  summary:
    "Is edgeclick working: ingest rate, fraud rate against the 5–30 % band, object load, archive lag, dead letters, rollups, drift, alerts",
  description:
    "Every figure is read from the campaign objects, R2 and D1. Alerts: fraud_rate_out_of_band, archive_lag (> 300 s), " +
    "dead_letters (spooled events waiting over 30 min), batch_unreachable, reconciliation_drift (> 5 %), rollup_stale (none in 24 h).",
  auth: "admin",
  query: S.opsQuery,
  responses: jsonAnswer(200, "The ops view", R.ops),
  errors: [400, 401, 403],
});

// ---------------------------------------------------------------------------------------------------
// Reads (advertiser key: its own campaigns; admin token: all)

export const aggregatedCount = endpoint({
  method: "get",
  path: "/v1/ads/{ad_id}/aggregated_count",
  id: "aggregatedCount",
  tag: "query",
  summary: "Clicks of one ad in a time range",
  auth: "reader",
  params: S.adPath,
  query: S.aggregatedCountQuery,
  responses: jsonAnswer(200, "The count", R.aggregatedCount),
  errors: [400, 401, 403, 404],
});

export const popularAds = endpoint({
  method: "get",
  path: "/v1/ads/popular",
  id: "popularAds",
  tag: "query",
  summary: "Top ads by clicks over the last minutes (the caller's ads; admin: all)",
  auth: "reader",
  query: S.popularQuery,
  responses: jsonAnswer(200, "The top ads", R.popularAds),
  errors: [400, 401, 403],
});

export const metrics = endpoint({
  method: "get",
  path: "/v1/metrics",
  id: "metrics",
  tag: "query",
  summary: "Time series of an ad or a campaign",
  description: "Give exactly one of ad_id or campaign_id. Buckets are UTC.",
  auth: "reader",
  query: S.metricsQuery,
  responses: jsonOrCsvAnswer(200, "The buckets", R.metrics, "metrics"),
  errors: [400, 401, 403, 404],
});

export const listCampaigns = endpoint({
  method: "get",
  path: "/v1/campaigns",
  id: "listCampaigns",
  tag: "query",
  summary: "The caller's campaigns and their ads (admin: all)",
  auth: "reader",
  responses: jsonAnswer(200, "The campaigns", R.campaigns),
  errors: [401, 403],
});

export const live = endpoint({
  method: "get",
  path: "/v1/campaigns/{id}/live",
  id: "live",
  tag: "query",
  summary: "Real-time counters of a campaign over the last minutes (fresh within 1 s)",
  auth: "reader",
  params: S.campaignPath,
  query: S.liveQuery,
  responses: jsonAnswer(200, "The counters", R.live),
  errors: [400, 401, 403, 404],
});

export const billing = endpoint({
  method: "get",
  path: "/v1/billing",
  id: "billing",
  tag: "query",
  summary: "Billing rows (campaign × local date × country × device type × ad group) from the billing database",
  description:
    "Dates are local dates in the advertiser's time zone (each row says it in time_zone; UTC by default): `from` and `to` " +
    "given as dates are local dates (`to` excluded), given as instants they select the local dates of the days they overlap. " +
    "Every row carries its ad_group_id (null: ads without a group), so a campaign's billing is broken down by ad group; " +
    "counts and cost add up over rows to the same totals as before ad groups, unique_users is exact per row.",
  auth: "reader",
  query: S.billingQuery,
  responses: jsonOrCsvAnswer(200, "The rows", R.billing, "rows"),
  errors: [400, 401, 403, 404],
});

export const reconciliation = endpoint({
  method: "get",
  path: "/v1/reconciliation",
  id: "reconciliation",
  tag: "query",
  summary: "Real-time against billed clicks for one UTC date, per campaign of the caller",
  auth: "reader",
  query: S.reconciliationQuery,
  responses: jsonOrCsvAnswer(200, "Per campaign", R.reconciliation, "campaigns"),
  errors: [400, 401, 403],
});

// ---------------------------------------------------------------------------------------------------
// Public pages and this document

const page = (description: string) => ({ 200: { description, content: { "text/html": { schema: z.string() } } } });

export const openapi = endpoint({
  method: "get",
  path: "/openapi.json",
  id: "openapi",
  tag: "docs",
  summary: "This document",
  auth: "none",
  responses: { 200: { description: "OpenAPI 3.1", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } } },
  errors: [],
});

export const dashboard = endpoint({
  method: "get",
  path: "/dashboard",
  id: "dashboard",
  tag: "docs",
  summary: "The advertiser dashboard (HTML; paste an API key)",
  auth: "none",
  responses: page("HTML page"),
  errors: [],
});

export const opsPage = endpoint({
  method: "get",
  path: "/ops",
  id: "opsPage",
  tag: "docs",
  summary: "The ops page (HTML; paste the admin token)",
  auth: "none",
  responses: page("HTML page"),
  errors: [],
});

export const health = endpoint({
  method: "get",
  path: "/healthz",
  id: "health",
  tag: "docs",
  summary: "Readiness: both Workers answer it (the query Worker once its registry database answers and is migrated)",
  auth: "none",
  responses: {
    ...jsonAnswer(200, "Ready", R.health),
    503: { description: "Not ready yet", content: { "application/json": { schema: R.health } } },
  },
  errors: [],
});

// ---------------------------------------------------------------------------------------------------
// Attribution (issue 12): conversions, experiments, heatmaps, ad groups

export const postConversions = endpoint({
  method: "post",
  path: "/v1/conversions",
  id: "postConversions",
  tag: "ingest",
  summary: "Report conversions of your clicks (advertiser key)",
  description:
    `At most ${MAX_EVENTS} conversions and ${MAX_BODY_BYTES / MiB} MiB a request; each is accepted or rejected on its own. ` +
    "A conversion names the click id its click's landing page received and is counted in that click's ad, campaign, ad group, " +
    "publisher, variant and time bucket. A click id that is unknown, malformed, another advertiser's or older than the " +
    "campaign's attribution window (default 30 days) is rejected `unknown_click`. A conversion_id you already reported " +
    "(for any of your campaigns, within 91 days) is accepted again and counted once.",
  auth: "advertiser",
  content: {
    required: true,
    content: {
      "application/json": {
        schema: { type: "array", maxItems: MAX_EVENTS, items: { $ref: "#/components/schemas/PostedConversion" } },
        example: [{ conversion_id: "order-1001", click_id: "k1.WyJjbXBf….Qm9n", name: "purchase", value: 49.9, currency: "EUR" }],
      },
      "application/x-ndjson": {
        schema: { type: "string", description: "One PostedConversion JSON object per line; a broken line rejects only that one." },
      },
    },
  },
  responses: jsonAnswer(202, "Accepted conversions are durably recorded; rejected ones are listed with their index.", R.eventsResult),
  errors: [400, 401, 403, 413],
});

export const experiment = endpoint({
  method: "get",
  path: "/v1/ads/{ad_id}/experiment",
  id: "experiment",
  tag: "query",
  summary: "An ad's A/B experiment: clicks, conversions and conversion rate per variant, and whether the best one's lead is significant",
  description:
    "Real-time counts over [from, to). The best variant (highest conversion rate) is compared with the runner-up by a pooled " +
    "two-proportion z-test, two-sided, at alpha 0.05.",
  auth: "reader",
  params: S.adPath,
  query: S.experimentQuery,
  responses: jsonAnswer(200, "The summary", R.experiment),
  errors: [400, 401, 403, 404],
});

export const heatmap = endpoint({
  method: "get",
  path: "/v1/ads/{ad_id}/heatmap",
  id: "heatmap",
  tag: "query",
  summary: "Where on an ad's creative its clean clicks landed, as a grid of cells",
  description:
    "From the `x`, `y`, `w`, `h` of `/click` links (pixels on a creative of w × h); a click without them, or outside the " +
    "creative, is not in the heatmap. Counted per hour, so the range is read to the hour; at most 92 days.",
  auth: "reader",
  params: S.adPath,
  query: S.heatmapQuery,
  responses: jsonAnswer(200, "The grid", R.heatmap),
  errors: [400, 401, 403, 404],
});

export const createAdGroup = endpoint({
  method: "post",
  path: "/v1/admin/ad-groups",
  id: "createAdGroup",
  tag: "admin",
  summary: "Create an ad group of a campaign; ads join it with ad_group_id",
  description: "Metrics group and filter by ad_group_id; every click of a grouped ad carries its group (archive column ad_group_id).",
  auth: "admin",
  body: { schema: S.createAdGroup, example: { campaign_id: "cmp_9Rk3vB6n", name: "Video, EU" } },
  responses: jsonAnswer(201, "The ad group", R.adGroupCreated),
  errors: [...ADMIN_WRITE, 404],
});

// Billing at scale and audit (issue 11)

export const restatements = endpoint({
  method: "get",
  path: "/v1/billing/restatements",
  id: "restatements",
  tag: "query",
  summary: "Every change to a billed figure after it was first published: old and new values, and why",
  auth: "reader",
  query: S.restatementsQuery,
  responses: jsonAnswer(200, "Oldest first", R.restatements),
  errors: [400, 401, 403, 404],
});

export const statement = endpoint({
  method: "get",
  path: "/v1/statements",
  id: "statement",
  tag: "query",
  summary: "A campaign's billing statement for a month: per-day rows, totals, and the archive files they come from",
  description:
    "Every file is listed with its size and SHA-256, and `sha256` fingerprints the rows and the files together. " +
    "`node scripts/reproduce-statement.mjs statement.json DIR` checks the files in DIR and recomputes the rows with DuckDB " +
    "(docs/reproduce-billing.sql over exactly those files, in the statement's time_zone). " +
    "Days are local dates in the advertiser's time zone; the files are those of the UTC days the month's local days overlap.",
  auth: "reader",
  query: S.statementQuery,
  responses: jsonAnswer(200, "The statement", R.statement),
  errors: [400, 401, 403, 404],
});

export const compact = endpoint({
  method: "post",
  path: "/v1/admin/compact",
  id: "compact",
  tag: "admin",
  summary: "Compact the archive now: merge each closed hour's small files into one part per campaign (the cron's step)",
  description:
    "An hour is closed once it can no longer receive on-time events (its end + ALLOWED_LATENESS_MS + clock skew + 10 min). " +
    "Parts are written and verified, then a manifest commits them, then the merged files are removed.",
  auth: "admin",
  body: { schema: S.emptyBody, optional: true },
  responses: jsonAnswer(200, "What was compacted", R.compactionResult),
  errors: [...ADMIN_WRITE],
});

/** The ingest Worker's endpoints (on the ingest base URL). */
export const INGEST = [click, postEvents, postConversions, health];

// ---------------------------------------------------------------------------------------------------
// Advertiser controls (issue 13): exports, keys, blocklist removal, alerts

export const removeFromBlocklist = endpoint({
  method: "delete",
  path: "/v1/admin/blocklist",
  id: "removeFromBlocklist",
  tag: "admin",
  summary: "Remove IPs and User-Agents from the blocklist",
  description:
    "The Bloom filter is rebuilt from the entries that remain. Clicks received after the answer are judged without the removed " +
    "entries; verdicts already recorded stay as they were (real time, archive and billing alike).",
  auth: "admin",
  body: { schema: S.blocklistBody, maxBytes: 2 * MiB, example: { ips: ["198.51.100.9"] } },
  responses: jsonAnswer(200, "What was removed", R.blocklistRemoved),
  errors: [...ADMIN_WRITE],
});

const STALENESS = `A revoked key is refused (401) by every Worker, query and ingest, at most ${PRINCIPAL_TTL_MS / 1000} s after the answer.`;

export const createKey = endpoint({
  method: "post",
  path: "/v1/keys",
  id: "createKey",
  tag: "account",
  summary: "Issue another API key for the caller's account (admin: for the advertiser or publisher named)",
  description:
    "Rotate without downtime: issue a second key, move your clients to it, then revoke the old one with DELETE /v1/keys/{key_id}. " +
    "The key is shown once and stored only hashed; it works at once.",
  auth: "account",
  body: { schema: S.createKeyBody, optional: true, example: {} },
  responses: jsonAnswer(201, "The new key", R.keyCreated),
  errors: [400, 401, 403, 404, 413],
});

export const listKeys = endpoint({
  method: "get",
  path: "/v1/keys",
  id: "listKeys",
  tag: "account",
  summary: "The account's keys: ids, when created, when last used (never the secrets)",
  description: `last_used_at is written at most once per key every ${LAST_USED_WRITE_MS / 60_000} minutes per Worker isolate, so it may trail by that much.`,
  auth: "account",
  query: S.keysQuery,
  responses: jsonAnswer(200, "The keys, oldest first", R.keys),
  errors: [400, 401, 403, 404],
});

export const revokeKey = endpoint({
  method: "delete",
  path: "/v1/keys/{key_id}",
  id: "revokeKey",
  tag: "account",
  summary: "Revoke one of the account's keys (never its last one)",
  description: `${STALENESS} Revoking the last key of an account is refused with 409 \`last_key\`: issue another first.`,
  auth: "account",
  params: S.keyPath,
  responses: jsonAnswer(200, "Revoked", R.keyRevoked),
  errors: [401, 403, 404, 409],
});

const ALERTS =
  "Evaluated every minute from the campaign objects' real-time counts. traffic_spike: a campaign's clicks (billed and invalid) " +
  `in the last complete minute above ${SPIKE_FACTOR}× its mean per minute in the same clock hour over the 7 days before, and at least ` +
  `${SPIKE_MIN_PER_MINUTE}; invalid_rate_high / invalid_rate_low: invalid clicks above ${INVALID_BAND[1] * 100} % or below ` +
  `${INVALID_BAND[0] * 100} % of the last hour's traffic, from ${INVALID_MIN_EVENTS} events on. Each fires once per episode: ` +
  `again only after the condition has not held for ${EPISODE_QUIET_MS / 60_000} minutes.`;

export const setWebhook = endpoint({
  method: "put",
  path: "/v1/alerts/webhook",
  id: "setWebhook",
  tag: "account",
  summary: "Where the advertiser's alerts are delivered, and the secret that signs them",
  description:
    `Each alert is POSTed as JSON to the URL once (retried with backoff ${RETRY_DELAYS_S.join(", ")} s, then given up; ` +
    "receivers dedupe by alert_id). " +
    `Signed: \`${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>\` where hex = HMAC-SHA256(secret, "<t>.<raw body>"). ` +
    "To verify, recompute it over the raw body, compare in constant time, and refuse a t more than 5 minutes old.",
  auth: "reader",
  query: S.webhookQuery,
  body: { schema: S.webhookBody, example: { url: "https://example.com/edgeclick-alerts" } },
  responses: jsonAnswer(200, "The webhook; a generated secret shown once", R.webhookSet),
  errors: [400, 401, 403, 404, 413],
});

export const listAlerts = endpoint({
  method: "get",
  path: "/v1/alerts",
  id: "listAlerts",
  tag: "account",
  summary: "The advertiser's recent alerts and their delivery",
  description: ALERTS,
  auth: "reader",
  query: S.alertsQuery,
  responses: jsonAnswer(200, "Newest first", R.alerts),
  errors: [400, 401, 403, 404],
});

// ---------------------------------------------------------------------------------------------------
// Recalculation and batch fraud review (issue 11, items 5 and 6)

const RANGE_NOTE = "`from` ≤ `to`, at most 31 days (400 invalid_range / range_too_large).";

export const recalculate = endpoint({
  method: "post",
  path: "/v1/admin/recalculate",
  id: "recalculate",
  tag: "admin",
  summary: "Re-judge archived events with the current rules and blocklist into shadow rows (nothing billed changes)",
  description:
    "Reads the archive (never changing an event), re-runs the counting rules in arrival order (receive time, then uid) " +
    "with the current blocklist, and keeps the verdicts that change and the billing rows they give. GET shows the " +
    `difference; POST …/apply swaps them in. ${RANGE_NOTE}`,
  auth: "admin",
  body: { schema: S.recalculateBody, example: { from: "2026-11-20", to: "2026-11-21" } },
  responses: jsonAnswer(201, "The computed recalculation (pending)", R.recalculation),
  errors: [...ADMIN_WRITE, 404],
});

export const recalculationView = endpoint({
  method: "get",
  path: "/v1/admin/recalculations/{id}",
  id: "recalculation",
  tag: "admin",
  summary: "A recalculation and its difference against the published billing rows (per date × group: old and new)",
  auth: "admin",
  params: S.recalculationPath,
  responses: jsonAnswer(200, "The recalculation", R.recalculationDetail),
  errors: [400, 401, 403, 404],
});

export const applyRecalculation = endpoint({
  method: "post",
  path: "/v1/admin/recalculations/{id}/apply",
  id: "applyRecalculation",
  tag: "admin",
  summary: "Swap a recalculation in: its verdicts become billing's, with restatements (cause recalculation)",
  description:
    "Its overlay files go under raw/overlays/ (every later rollup and docs/reproduce-billing.sql read them), and each " +
    "campaign-date is rolled up again in one transaction. 409 when already applied, or when another recalculation of " +
    "the same days was applied since it was computed (recalculate again).",
  auth: "admin",
  params: S.recalculationPath,
  body: { schema: S.emptyBody, optional: true },
  responses: jsonAnswer(200, "The applied recalculation", R.appliedRecalculation),
  errors: [...ADMIN_WRITE, 404, 409],
});

export const fraudReview = endpoint({
  method: "post",
  path: "/v1/admin/fraud-review",
  id: "fraudReview",
  tag: "admin",
  summary: "Run batch fraud review (click farms, publisher spikes) over archived days and store its findings",
  description: `Nothing billed changes: a finding is credited only when applied. ${RANGE_NOTE}`,
  auth: "admin",
  body: { schema: S.fraudReviewBody, example: { from: "2026-11-20", to: "2026-11-20" } },
  responses: jsonAnswer(200, "How many findings", R.fraudReviewResult),
  errors: [...ADMIN_WRITE],
});

export const fraudFindings = endpoint({
  method: "get",
  path: "/v1/admin/fraud-review",
  id: "fraudFindings",
  tag: "admin",
  summary: "Batch fraud review's findings, newest first, with their evidence",
  auth: "admin",
  query: S.fraudReviewQuery,
  responses: jsonAnswer(200, "The findings", R.fraudFindings),
  errors: [400, 401, 403],
});

export const applyFinding = endpoint({
  method: "post",
  path: "/v1/admin/fraud-review/{id}/apply",
  id: "applyFinding",
  tag: "admin",
  summary: "Credit a finding: a recalculation marking its events invalid (batch_click_farm, batch_publisher_spike), applied",
  description: "Restatements carry cause fraud_review. 409 when already applied.",
  auth: "admin",
  params: S.findingPath,
  body: { schema: S.emptyBody, optional: true },
  responses: jsonAnswer(200, "The applied recalculation", R.appliedRecalculation),
  errors: [...ADMIN_WRITE, 404, 409],
});
