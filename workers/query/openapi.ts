/**
 * `GET /openapi.json`: the OpenAPI 3.1 description of every endpoint in CONTRACT.md.
 *
 * Request schemas (bodies and query parameters) are generated from the zod schemas that validate them
 * (domain/schemas.ts), on their input side, so the document cannot drift from validation. Refinements
 * zod cannot express in JSON Schema (real calendar dates, IP syntax, http(s) URLs) are added as
 * descriptions only. Responses have no zod schemas; they are written here, and where a TypeScript type
 * exists its property names are checked against it at compile time.
 */
import { z } from "zod";
import { INVALID_REASONS } from "../../domain/event";
import type { MetricBucket } from "../../domain/metrics";
import * as S from "../../domain/schemas";
import type { PopularAd } from "../../durable-objects/leaderboard";
import type { RollupResult } from "../../domain/billing";
import { LIMIT_PERIOD_S, MAX_BODY_BYTES, MAX_EVENTS } from "../../domain/limits";
import { configuredIngestBase } from "./admin";

type Schema = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------
// Schemas from zod

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of what a zod schema accepts. */
function fromZod(schema: z.ZodType): Schema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12", unrepresentable: "any" });
  return json;
}

/**
 * A zod object's JSON Schema with descriptions added to some properties. The keys are typed against
 * the zod schema's input, so describing a field that no longer exists fails to compile.
 */
function described<T extends z.ZodType>(schema: T, notes: Partial<Record<keyof z.input<T> & string, string>>): Schema {
  const json = fromZod(schema);
  const props = (json.properties ?? {}) as Record<string, Schema>;
  for (const [k, description] of Object.entries(notes)) {
    if (!props[k]) throw new Error(`openapi: ${k} is not a field of the schema`);
    props[k] = { ...props[k], description };
  }
  return json;
}

const TIME = "ISO-8601 time (UTC when no offset) or epoch milliseconds.";
const FILTER = "`dimension:value`, dimension one of country, device_type, os, publisher_id, ad_format; e.g. `country:US`.";

const requestSchemas = () => ({
  CreateNamed: described(S.createNamed, {}),
  CreateAdvertiser: described(S.createAdvertiser, {
    jurisdiction: "Where the advertiser's data must live: \"eu\" creates its campaign objects and the edge buffers holding its events in Cloudflare's EU jurisdiction and archives its events in the EU R2 bucket. Set once; default: anywhere.",
  }),
  CreateCampaign: described(S.createCampaign, {
    cost_per_click: "Amount per billed click, 0 to 1000, at most 6 decimals.",
    shards: "Durable Object shards for a hot campaign (default 1).",
  }),
  UpdateCampaign: described(S.updateCampaign, {
    shards: "New shard count; takes effect at a minute boundary a few minutes ahead, never mid-minute.",
  }),
  CreateAd: described(S.createAd, {
    landing_url: "Absolute http(s) URL without credentials. Clicks redirect only here.",
  }),
  CreateClickUrl: described(S.createClickUrl, {}),
  BlocklistBody: {
    ...described(S.blocklistBody, { ips: "IPv4 or IPv6 addresses (stored hashed).", user_agents: "Exact User-Agent strings." }),
    description: "Give at least one of `ips` or `user_agents`.",
  },
  RollupBody: described(S.rollupBody, { date: "UTC date YYYY-MM-DD; default: today and yesterday (and dates with late events)." }),
  PostedEvent: described(S.postedEvent, {
    event_id: "Publisher's unique id of the event; a repeat is counted as a duplicate.",
    timestamp: `${TIME} Must lie within [now − 7 days, now + 5 minutes].`,
    ad_id: "An ad of the registry; campaign and advertiser come from it.",
    ip_address: "IPv4 or IPv6 address of the clicker; default: the connecting IP.",
    device_type: "desktop, mobile, tablet, bot or unknown (any case); default: from user_agent.",
    country: "ISO 3166-1 alpha-2 (any case), XX for unknown; default: the edge's country.",
    cost_per_click: "Overrides the campaign's cost per click for this event.",
  }),
});

/** Query parameters of a zod object schema, in the order it declares them. */
function queryParams<T extends z.ZodType>(schema: T, notes: Partial<Record<keyof z.input<T> & string, string>> = {}): Schema[] {
  const json = described(schema, notes);
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries((json.properties ?? {}) as Record<string, Schema>).map(([name, { description, ...schema }]) => ({
    name,
    in: "query",
    required: required.has(name),
    ...(description ? { description } : {}),
    schema,
  }));
}

function pathParam(name: string, description: string): Schema {
  return { name, in: "path", required: true, description, schema: fromZod(S.idParam) };
}

// ---------------------------------------------------------------------------------------------------
// Response schemas (hand-written)

const str = (description?: string): Schema => ({ type: "string", ...(description ? { description } : {}) });
const int = (description?: string): Schema => ({ type: "integer", minimum: 0, ...(description ? { description } : {}) });
const num = (description?: string): Schema => ({ type: "number", ...(description ? { description } : {}) });
const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: "null" }] });
const arrayOf = (items: Schema): Schema => ({ type: "array", items });
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** An object schema; every listed property is required unless named in `optional`. */
function object(props: Record<string, Schema>, optional: string[] = [], description?: string): Schema {
  return {
    type: "object",
    ...(description ? { description } : {}),
    properties: props,
    required: Object.keys(props).filter((k) => !optional.includes(k)),
  };
}

/** `object` for a response that has a TypeScript type: a missing or extra field fails to compile. */
const typed = <T>(props: { [K in keyof T]-?: Schema }, optional: (keyof T & string)[] = [], description?: string) =>
  object(props as Record<string, Schema>, optional, description);

/** Invalid (fraud, not billed) clicks per reason code; only reasons that occurred are present. */
const byReason = (): Schema => ({
  type: "object",
  description: "Invalid (fraud, not billed) clicks by reason code, in the order the rules check them; absent reasons are 0.",
  propertyNames: { enum: [...INVALID_REASONS] },
  additionalProperties: { type: "integer", minimum: 0 },
});


/** The counters a metrics bucket and the live view share. */
const counters = () => ({
  clicks: int("Clean + suspicious (billed)."),
  unique_users: int("HyperLogLog estimate."),
  cost: num(),
  invalid_clicks: int(),
  invalid_by_reason: byReason(),
  suspicious_clicks: int(),
  duplicates: int(),
});

const responseSchemas = (): Record<string, Schema> => ({
  Error: object(
    { error: object({ code: str("snake_case, stable; branch on this."), message: str("A sentence for people.") }) },
    [],
    "Every error edgeclick answers (always a 4xx for bad input).",
  ),
  AdvertiserCreated: object({ advertiser_id: str(), api_key: str("Shown once; stored only hashed."), jurisdiction: { type: ["string", "null"], enum: ["eu", null] } }),
  PublisherCreated: object({ publisher_id: str(), api_key: str("Shown once; stored only hashed.") }),
  CampaignCreated: object({ campaign_id: str() }),
  ShardPlan: {
    type: "array",
    description: "Shard counts over time: [[from epoch ms, shards], …], oldest first.",
    items: { type: "array", prefixItems: [{ type: "integer" }, { type: "integer", minimum: 1 }], minItems: 2, maxItems: 2 },
  },
  CampaignUpdated: object({ campaign_id: str(), shard_plan: ref("ShardPlan") }),
  Ops: {
    type: "object",
    required: ["as_of", "window_minutes", "ingest", "fraud", "archive", "rollups", "reconciliation", "campaigns", "alerts"],
    properties: {
      as_of: str(),
      window_minutes: int(),
      ingest: { type: "object", description: "Events, clicks, invalid (by reason), duplicates, suspicious and late events in the window, and events per second." },
      fraud: { type: "object", description: "Invalid share of judged clicks, the band, and whether it is within it." },
      archive: { type: "object", description: "Log rows not yet archived, open and unsent archive messages, age of the oldest unarchived event." },
      rollups: { type: "object", description: "The latest billing rollup runs." },
      reconciliation: { type: "array", items: { type: "object" }, description: "Real time against billing per campaign for today and yesterday." },
      campaigns: { type: "array", items: { type: "object" }, description: "Per campaign: shard plan, events per second, log rows, messages, archive lag." },
      campaigns_inspected: int(),
      alerts: { type: "array", items: object({ code: str(), message: str() }) },
    },
  },
  EdgeBuffers: object({
    colo: str(),
    buffers: arrayOf(object({
      name: str("<colo>:<slot>"),
      waiting_rows: int("Batches not yet confirmed by their campaign objects."),
      delivered: int("Events forwarded since the object started."),
      failures: int("Forward attempts failed in a row."),
      statements: { type: "object", description: "SQLite rows written and read per kind of statement since the object started." },
    })),
  }),
  CampaignObjects: object({
    campaign_id: str(),
    shards: arrayOf(object({
      shard: int(),
      backlog: { type: "object", description: "Log rows, checkpoint position, archive messages open and unsent, admitted rows not yet forwarded." },
      memory: { type: "object", description: "Rule minutes, entries and bytes; cell partitions and cells held in memory." },
      storage: { type: "object", description: "SQLite rows written and read per kind of statement since the object started, rows stored per table, database bytes." },
    })),
    leaderboards: { type: "object", description: "The same storage figures for the global and the advertiser's leaderboard." },
  }),
  AdCreated: object({ ad_id: str(), click_url: str("Ready link on the ingest base URL; append `&user_id=…`.") }),
  ClickUrl: object({ click_url: str("Link signed for this ad and publisher.") }),
  BlocklistResult: object({
    ips: int("IPs in the request."),
    user_agents: int("User-Agents in the request."),
    added: int("Entries that were new."),
    version: int("Blocklist version after the change."),
  }),
  RollupResult: object({
    rows: int("Billing rows written."),
    dates: arrayOf(typed<RollupResult>({ date: str(), files: int("Parquet files read."), events: int(), rows: int(), rows_written: int("D1 rows written, deletes of the old rows included.") })),
  }),
  EventsResult: object({
    accepted: int("Events durably recorded."),
    rejected: arrayOf(object({ index: int("Position in the request."), code: str(), message: str() })),
  }),
  AggregatedCount: object({
    ad_id: str(),
    from: str(),
    to: str(),
    filter: nullable(str()),
    count: int("Clicks (clean + suspicious) in [from, to)."),
  }),
  PopularAds: object({
    window: int("Minutes."),
    top_n: int(),
    ads: arrayOf(typed<PopularAd>({ ad_id: str(), campaign_id: str(), count: int("Clicks in the window.") })),
  }),
  MetricBucket: typed<MetricBucket>(
    {
      timestamp: str("Bucket start, UTC."),
      ...counters(),
      late_events: int("Late events dated in this bucket (kept out of the counts above, billed)."),
      group: nullable(str("Value of the group_by dimension; for the pair country,device_type both, e.g. \"US,mobile\".")),
    },
    ["group"],
  ),
  Metrics: object(
    {
      ad_id: str(),
      campaign_id: str(),
      start: str(),
      end: str(),
      granularity: { type: "string", enum: ["minute", "hour", "day"] },
      group_by: nullable(str()),
      filter: nullable(str()),
      metrics: arrayOf(ref("MetricBucket")),
    },
    ["ad_id"],
    "Empty buckets are included as zeros; with group_by, one entry per bucket and group.",
  ),
  Live: object({
    campaign_id: str(),
    minutes: int(),
    ...counters(),
    late_events: int("Late events that arrived in the window (they belong to older buckets and are billed)."),
    from: str("Start of the window (a minute boundary)."),
    as_of: str("When the counters were read."),
  }),
  Campaigns: object({
    campaigns: arrayOf(
      object({
        campaign_id: str(),
        advertiser_id: str(),
        name: str(),
        cost_per_click: num(),
        shards: int("Shards now."),
        shard_plan: ref("ShardPlan"),
        ads: arrayOf(object({ ad_id: str(), landing_url: str(), ad_format: nullable(str()) })),
      }),
    ),
  }),
  Billing: object({
    campaign_id: str(),
    from: str(),
    to: str(),
    rows: arrayOf(
      object({
        date: str(),
        country: str(),
        device_type: str(),
        clicks: int(),
        unique_users: int("Exact."),
        cost: num(),
        invalid_clicks: int(),
        status: { type: "string", enum: ["final", "provisional"], description: "provisional until 7 days after the date ends." },
        suspicious_clicks: int(),
        duplicates: int(),
        late_events: int(),
        event_id_repeats: int("Events billed as duplicates because their event_id came earlier that day in another minute (real time dedups event_id per minute)."),
      }),
    ),
  }),
  Reconciliation: object({
    date: str(),
    campaigns: arrayOf(
      object({
        campaign_id: str(),
        realtime_clicks: int(),
        billed_clicks: int(),
        difference: { type: "integer", description: "billed_clicks − realtime_clicks." },
        late_clicks: int("Clicks billed but kept out of real-time buckets as late."),
        event_id_repeats: int("Clicks in real time that billing counts as duplicates: their event_id came earlier that day in another minute."),
        unexplained: { type: "integer", description: "difference − late_clicks + event_id_repeats; 0 when the two agree." },
        billing_status: { type: "string", enum: ["final", "provisional", "not_rolled_up"] },
      }),
    ),
  }),
});

// ---------------------------------------------------------------------------------------------------
// Operations

type ErrorStatus = 400 | 401 | 403 | 404 | 413 | 429;

const ERRORS: Record<ErrorStatus, [name: string, description: string]> = {
  400: ["BadRequest", "Bad input (invalid_request, invalid_json, empty_body, invalid_range, range_too_large, …); the message names the field."],
  401: ["Unauthorized", "No key, or a key that is not valid (unauthorized)."],
  403: ["Forbidden", "The key is valid but may not do this (forbidden)."],
  404: ["NotFound", "Unknown, or not yours: another advertiser's campaign or ad answers the same as a missing one."],
  413: ["PayloadTooLarge", "The body is too large (payload_too_large, too_many_events)."],
  429: ["TooManyRequests", `Over the rate limit (rate_limited); nothing was recorded. Retry after \`Retry-After\` seconds (${LIMIT_PERIOD_S}).`],
};

/** Headers an error answer carries besides the body. */
const ERROR_HEADERS: Partial<Record<ErrorStatus, Schema>> = {
  429: { "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "integer", minimum: 1 } } },
};

const json = (schema: Schema, example?: unknown) => ({ "application/json": { schema, ...(example === undefined ? {} : { example }) } });

function op(o: {
  id: string;
  tag: string;
  summary: string;
  description?: string;
  security: "admin" | "reader" | "publisher" | "none";
  parameters?: Schema[];
  body?: Schema;
  bodyRequired?: boolean;
  ok: Record<number, Schema>;
  errors: ErrorStatus[];
}): Schema {
  const security = {
    admin: [{ adminToken: [] }],
    reader: [{ advertiserKey: [] }, { adminToken: [] }],
    publisher: [{ publisherKey: [] }],
    none: [],
  }[o.security];
  const responses: Record<string, Schema> = {};
  for (const [status, r] of Object.entries(o.ok)) responses[status] = r;
  for (const status of o.errors) responses[status] = { $ref: `#/components/responses/${ERRORS[status][0]}` };
  return {
    operationId: o.id,
    tags: [o.tag],
    summary: o.summary,
    ...(o.description ? { description: o.description } : {}),
    security,
    ...(o.parameters ? { parameters: o.parameters } : {}),
    ...(o.body ? { requestBody: { required: o.bodyRequired ?? true, content: o.body } } : {}),
    responses,
  };
}

const ok = (description: string, schema: string) => ({ description, content: json(ref(schema)) });

/** Ingest paths live on the ingest Worker's host, not on this one. */
function ingestPaths(ingestUrl: string): Record<string, Schema> {
  const servers = [{ url: ingestUrl, description: "Ingest base URL" }];
  return {
    "/click": {
      servers,
      get: op({
        id: "click",
        tag: "ingest",
        summary: "Follow an ad link: record the click, then redirect to the ad's landing page",
        description:
          "Event time is the receive time. Client IP from `CF-Connecting-IP`; country from the edge, else `CF-IPCountry`, else XX; " +
          "device type and OS from the User-Agent. Only a missing or malformed `ad_id` is refused (400); a malformed optional " +
          "field is dropped and the click still goes through. A signed link whose `sig` does not match its ad and publisher is " +
          "recorded as `bad_signature` and answered 403 without a redirect. Over the per-IP edge limit the person is still " +
          "redirected and the click is recorded as invalid (`rate_limited`). HEAD answers the same without recording a click.",
        security: "none",
        parameters: queryParams(S.clickParams, {
          user_id: "The clicker; without it a first-party cookie identifies the browser.",
          pub: "Publisher id of a signed link.",
          sig: "Signature of a link made by POST /v1/admin/click-urls.",
        }),
        ok: {
          302: {
            description: "Recorded durably; redirect to the registered landing_url (never to a URL from the request).",
            headers: {
              Location: { schema: { type: "string" }, description: "The ad's landing_url." },
              "Cache-Control": { schema: { type: "string", const: "no-store" } },
            },
          },
        },
        errors: [400, 403, 404],
      }),
    },
    "/v1/events": {
      servers,
      post: op({
        id: "postEvents",
        tag: "ingest",
        summary: "Post a batch of click events (publisher)",
        description: `At most ${MAX_EVENTS} events and ${MAX_BODY_BYTES / 1024 / 1024} MiB a request. Each event is accepted or rejected on its own.`,
        security: "publisher",
        body: {
          "application/json": {
            schema: { type: "array", maxItems: MAX_EVENTS, items: ref("PostedEvent") },
            example: [{ event_id: "e-1", timestamp: "2026-01-01T12:00:00Z", ad_id: "ad_7Hq2mK9x", user_id: "u1", country: "DE" }],
          },
          "application/x-ndjson": {
            schema: { type: "string", description: "One PostedEvent JSON object per line; a broken line rejects only that event." },
          },
        },
        ok: { 202: ok("Every accepted event is durably recorded; rejected ones are listed with their index.", "EventsResult") },
        errors: [400, 401, 403, 413, 429],
      }),
    },
  };
}

function adminPaths(): Record<string, Schema> {
  const adminOp = (id: string, summary: string, bodySchema: string, status: number, result: string, errors: ErrorStatus[], example?: unknown) =>
    op({
      id,
      tag: "admin",
      summary,
      security: "admin",
      body: json(ref(bodySchema), example),
      bodyRequired: bodySchema !== "RollupBody",
      ok: { [status]: ok(summary, result) },
      errors,
    });
  return {
    "/v1/admin/advertisers": {
      post: adminOp("createAdvertiser", "Create an advertiser and its API key", "CreateAdvertiser", 201, "AdvertiserCreated", [400, 401, 403, 413], { name: "Acme" }),
    },
    "/v1/admin/publishers": {
      post: adminOp("createPublisher", "Create a publisher and its API key", "CreateNamed", 201, "PublisherCreated", [400, 401, 403, 413], { name: "News" }),
    },
    "/v1/admin/campaigns": {
      post: adminOp("createCampaign", "Create a campaign", "CreateCampaign", 201, "CampaignCreated", [400, 401, 403, 404, 413], {
        advertiser_id: "adv_4Tz8wQ1c",
        name: "Spring sale",
        cost_per_click: 0.25,
      }),
    },
    "/v1/admin/campaigns/{id}/objects": {
      get: op({
        id: "campaignObjects",
        tag: "admin",
        summary: "A campaign's Durable Objects: log backlog, memory and SQLite rows written and read",
        security: "admin",
        parameters: [pathParam("id", "Campaign id.")],
        ok: { 200: ok("Per shard object", "CampaignObjects") },
        errors: [400, 401, 403, 404],
      }),
    },
    "/v1/ops": {
      get: op({
        id: "ops",
        tag: "admin",
        summary: "Is edgeclick working: ingest rate, fraud rate against the 5–30 % band, object load, archive lag, rollups, reconciliation drift, alerts",
        description: "Every figure is read from the campaign objects and D1. Alerts: fraud_rate_out_of_band, archive_lag (> 300 s), reconciliation_drift (> 5 %), rollup_stale (none in 24 h).",
        security: "admin",
        parameters: queryParams(S.opsQuery, { minutes: "Window of the ingest figures, 1–1440 minutes (default 60)." }),
        ok: { 200: ok("The ops view", "Ops") },
        errors: [400, 401, 403],
      }),
    },
    "/v1/admin/buffers": {
      get: op({
        id: "edgeBuffers",
        tag: "admin",
        summary: "The edge buffers of one location: rows waiting to be forwarded, events delivered, SQLite rows per statement",
        security: "admin",
        parameters: queryParams(S.buffersQuery, { colo: "IATA code of the Cloudflare location (default: local)." }),
        ok: { 200: ok("Per buffer slot", "EdgeBuffers") },
        errors: [400, 401, 403],
      }),
    },
    "/v1/admin/campaigns/{id}": {
      patch: {
        ...adminOp("updateCampaign", "Change a campaign's number of shards", "UpdateCampaign", 200, "CampaignUpdated", [400, 401, 403, 404, 413], { shards: 4 }),
        parameters: [pathParam("id", "Campaign id.")],
      },
    },
    "/v1/admin/ads": {
      post: adminOp("createAd", "Create an ad; answers its click link", "CreateAd", 201, "AdCreated", [400, 401, 403, 404, 413], {
        campaign_id: "cmp_9Rk3vB6n",
        landing_url: "https://example.com/spring",
      }),
    },
    "/v1/admin/click-urls": {
      post: adminOp("createClickUrl", "Sign a click link for an ad and a publisher", "CreateClickUrl", 201, "ClickUrl", [400, 401, 403, 404, 413]),
    },
    "/v1/admin/blocklist": {
      post: adminOp("addToBlocklist", "Add known bad IPs and User-Agents", "BlocklistBody", 200, "BlocklistResult", [400, 401, 403, 413], {
        ips: ["198.51.100.9"],
      }),
    },
    "/v1/admin/rollup": {
      post: adminOp("rollup", "Run the billing rollup now (the cron's code)", "RollupBody", 200, "RollupResult", [400, 401, 403, 413]),
    },
  };
}

function readPaths(): Record<string, Schema> {
  const read = (o: { id: string; summary: string; description?: string; parameters: Schema[]; result: string; errors: ErrorStatus[] }) => ({
    get: op({ ...o, tag: "query", security: "reader", ok: { 200: ok(o.summary, o.result) } }),
  });
  return {
    "/v1/ads/{ad_id}/aggregated_count": read({
      id: "aggregatedCount",
      summary: "Clicks of one ad in a time range",
      parameters: [pathParam("ad_id", "Ad id."), ...queryParams(S.aggregatedCountQuery, { from: `Inclusive. ${TIME}`, to: `Exclusive. ${TIME}`, filter: FILTER })],
      result: "AggregatedCount",
      errors: [400, 401, 403, 404],
    }),
    "/v1/ads/popular": read({
      id: "popularAds",
      summary: "Top ads by clicks over the last minutes (the caller's ads; admin: all)",
      parameters: queryParams(S.popularQuery, { window: "Minutes back from now.", top_n: "How many ads." }),
      result: "PopularAds",
      errors: [400, 401, 403],
    }),
    "/v1/metrics": read({
      id: "metrics",
      summary: "Time series of an ad or a campaign",
      description: "Give exactly one of ad_id or campaign_id. Buckets are UTC.",
      parameters: queryParams(S.metricsQuery, {
        ad_id: "One ad; or give campaign_id.",
        campaign_id: "A whole campaign; or give ad_id.",
        start: `Inclusive. ${TIME}`,
        end: `Exclusive. ${TIME}`,
        filter: FILTER,
      }),
      result: "Metrics",
      errors: [400, 401, 403, 404],
    }),
    "/v1/campaigns": read({
      id: "listCampaigns",
      summary: "The caller's campaigns and their ads (admin: all)",
      parameters: [],
      result: "Campaigns",
      errors: [401, 403],
    }),
    "/v1/campaigns/{id}/live": read({
      id: "live",
      summary: "Real-time counters of a campaign over the last minutes (fresh within 1 s)",
      parameters: [pathParam("id", "Campaign id."), ...queryParams(S.liveQuery, { minutes: "Minutes back from now." })],
      result: "Live",
      errors: [400, 401, 403, 404],
    }),
    "/v1/billing": read({
      id: "billing",
      summary: "Billing rows (campaign × UTC date × country × device type) from the billing database",
      parameters: queryParams(S.billingQuery, {
        from: `Inclusive. Date YYYY-MM-DD or ${TIME}`,
        to: `Exclusive. Date YYYY-MM-DD or ${TIME} At most 400 days after from.`,
      }),
      result: "Billing",
      errors: [400, 401, 403, 404],
    }),
    "/v1/reconciliation": read({
      id: "reconciliation",
      summary: "Real-time against billed clicks for one UTC date, per campaign of the caller",
      parameters: queryParams(S.reconciliationQuery, { date: "UTC date YYYY-MM-DD." }),
      result: "Reconciliation",
      errors: [400, 401, 403],
    }),
  };
}

function docsPaths(): Record<string, Schema> {
  return {
    "/openapi.json": {
      get: op({
        id: "openapi",
        tag: "docs",
        summary: "This document",
        security: "none",
        ok: { 200: { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } } },
        errors: [],
      }),
    },
    "/dashboard": {
      get: op({
        id: "dashboard",
        tag: "docs",
        summary: "The advertiser dashboard (HTML; paste an API key)",
        security: "none",
        ok: { 200: { description: "HTML page", content: { "text/html": { schema: { type: "string" } } } } },
        errors: [],
      }),
    },
  };
}

/** The whole document, for a query Worker at `queryUrl` and an ingest Worker at `ingestUrl`. */
export function openApiDocument(queryUrl: string, ingestUrl: string): Schema {
  const bearer = (description: string) => ({ type: "http", scheme: "bearer", description });
  return {
    openapi: "3.1.0",
    info: {
      title: "edgeclick",
      version: "1.0.0",
      description:
        "Ad click aggregator on Cloudflare's edge. Every error is `{\"error\":{\"code\",\"message\"}}` with a 4xx status; " +
        "another method on a documented path is 405 `method_not_allowed` with an `Allow` header. " +
        "Times are ISO-8601 or epoch ms; `from`/`start` inclusive, `to`/`end` exclusive; buckets are UTC.",
    },
    servers: [{ url: queryUrl, description: "Query base URL (admin registry, query API, dashboard)" }],
    tags: [
      { name: "admin", description: "Registry, blocklist and billing rollup (admin token)." },
      { name: "ingest", description: "Clicks and posted events (ingest base URL)." },
      { name: "query", description: "Real-time and billed numbers (advertiser key or admin token)." },
      { name: "docs", description: "This document and the dashboard." },
    ],
    paths: { ...adminPaths(), ...ingestPaths(ingestUrl), ...readPaths(), ...docsPaths() },
    components: {
      securitySchemes: {
        adminToken: bearer("The admin token (locally `dev-admin-token`)."),
        advertiserKey: bearer("An advertiser's API key (ek_adv_…): reads only its own campaigns and ads."),
        publisherKey: bearer("A publisher's API key (ek_pub_…): may post events."),
      },
      schemas: { ...requestSchemas(), ...responseSchemas() },
      responses: Object.fromEntries(
        (Object.entries(ERRORS) as [string, [string, string]][]).map(([status, [name, description]]) => [
          name,
          { description, ...(ERROR_HEADERS[Number(status) as ErrorStatus] ? { headers: ERROR_HEADERS[Number(status) as ErrorStatus] } : {}), content: json(ref("Error")) },
        ]),
      ),
    },
  };
}

// Built once per isolate (for the last base URLs asked for): the zod conversion is not free and the
// answer only changes with a deploy.
let cached: { key: string; body: string } | null = null;

export function openApiResponse(req: Request, env: QueryEnv): Response {
  const queryUrl = new URL(req.url).origin;
  const ingestUrl = configuredIngestBase(env) ?? "https://ingest.invalid";
  const key = `${queryUrl} ${ingestUrl}`;
  if (cached?.key !== key) cached = { key, body: JSON.stringify(openApiDocument(queryUrl, ingestUrl)) };
  return new Response(cached.body, {
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "public, max-age=300",
      "Access-Control-Allow-Origin": "*",
    },
  });
}
