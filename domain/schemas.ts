/**
 * Every input edgeclick accepts, as zod schemas: admin bodies, posted events, click and query parameters.
 * Admin bodies are strict (an unknown field is a 400, so a misspelt `costPerClick` is not silently
 * dropped); posted events ignore fields they do not know, so networks can send richer records. Anything
 * that does not fit is a 400 with the field named.
 */
import { JURISDICTIONS } from "./jurisdiction";
import { z } from "zod";
import { ApiError } from "./errors";
import { CITY_MAX, CLICK_ID_MAX, MAX_ATTRIBUTION_WINDOW_DAYS, MAX_POPULAR_ADS, MAX_POPULAR_WINDOW_MINUTES, REFERER_MAX } from "./limits";
import { GRANULARITIES, canonicalZone, parseTime } from "./time";

// ISO 3166-1 alpha-2, plus XX for "unknown" (what the edge reports when it cannot tell).
const ISO_COUNTRIES = new Set(
  (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
    "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
    "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO " +
    "JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR " +
    "MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO " +
    "RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV " +
    "TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XX"
  ).split(" "),
);

export function isCountryCode(s: string): boolean {
  return ISO_COUNTRIES.has(s);
}

export const countryCode = z
  .string()
  .trim()
  .transform((s) => s.toUpperCase())
  .refine(isCountryCode, "must be an ISO 3166-1 alpha-2 country code such as US");

/** Identifiers we issue and publishers' own ids: printable, no spaces, bounded. */
const token = (max: number) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces");

export const idParam = token(64);
/**
 * Text as people write it (names, user ids, user agents): any script, emoji and right-to-left text, but
 * no control characters (NUL, newlines, escapes) and no lone UTF-16 surrogates, which JSON can carry
 * but which are not text and would be silently replaced when stored.
 */
export function isCleanText(s: string): boolean {
  return s.isWellFormed() && !/\p{Cc}/u.test(s);
}
const CLEAN_TEXT = "must be text without control characters or unpaired surrogates";
const text = (max: number) => z.string().max(max, `must be at most ${max} characters`).refine(isCleanText, CLEAN_TEXT);

const name = z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters").refine(isCleanText, CLEAN_TEXT);
const label = z
  .string()
  .trim()
  .min(1)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, "may contain letters, digits, _ . -");

/** Money per click in currency units: a finite amount from 0 to 1,000, at most 6 decimals. */
export const costPerClick = z
  .number()
  .finite()
  .min(0, "must not be negative")
  .max(1000, "must be at most 1000")
  .refine((n) => Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, "must have at most 6 decimals");

/** A campaign's daily budget: money like cost_per_click (not negative, at most 6 decimals), up to a billion. */
export const dailyBudget = z
  .number()
  .finite()
  .min(0, "must not be negative")
  .max(1_000_000_000, "must be at most 1000000000")
  .refine((n) => Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, "must have at most 6 decimals")
  .nullable()
  .describe(
    "Billed cost allowed per UTC day, in currency units; null: no budget. Once the day's billed cost reaches it, " +
      "further clicks are redirected but counted over_budget (not billed, not fraud).",
  );

/**
 * A landing page: absolute http(s) URL, no credentials, at most 2,048 characters. Anything else
 * (javascript:, data:, relative, user:pass@) is refused, so a click can only ever go to a page like this.
 * Whitespace and control characters inside are refused rather than "repaired" (the URL parser drops tabs
 * and newlines, so `java\tscript:` or a split host would otherwise pass), and the URL is stored in its
 * serialised form: plain ASCII, exactly what the Location header will carry.
 */
export const landingUrl = z
  .string()
  .trim()
  .max(2048, "must be at most 2048 characters")
  .transform((s, ctx) => {
    const fail = (message: string) => {
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    };
    if (!s.isWellFormed() || /[\s\p{Cc}]/u.test(s)) return fail("must not contain spaces or control characters");
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return fail("must be an absolute http(s) URL");
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") return fail("must use http or https");
    if (u.username || u.password) return fail("must not contain credentials");
    if (!u.hostname) return fail("must name a host");
    // Backslashes are path separators to the URL parser but not to every reader of the stored value.
    if (s.includes("\\")) return fail("must not contain backslashes");
    if (u.href.length > 2048) return fail("must be at most 2048 characters once encoded");
    return u.href;
  });

export const createNamed = z.strictObject({ name });
const limitSettings = {
  requests_per_minute: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .nullable()
    .optional()
    .describe("Requests a minute this publisher key may make to POST /v1/events (default 600; null: the default)."),
  events_per_second: z
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .nullable()
    .optional()
    .describe("Events a second it may post, averaged over 10 s bursts (default 5,000; null: the default)."),
};
/** `POST /v1/admin/publishers`: a name, and limits when the defaults do not fit. */
export const createPublisher = z.strictObject({ name, ...limitSettings });
/** `PATCH /v1/admin/publishers/{id}`: change a publisher's limits. */
export const updatePublisher = z
  .strictObject(limitSettings)
  .refine((b) => Object.keys(b).length > 0, "give requests_per_minute or events_per_second")
  .describe("Give requests_per_minute, events_per_second or both; null restores the default.");
export const publisherPath = z.object({ id: z.string().describe("Publisher id.") });
/** An IANA time zone name that the runtime's Intl knows (stored in its canonical spelling). */
export const timeZone = z
  .string()
  .refine((s) => canonicalZone(s) !== null, "must be an IANA time zone name, e.g. Europe/Amsterdam or UTC")
  .describe("IANA time zone name, e.g. Europe/Amsterdam.");
/** `POST /v1/admin/advertisers`: a name, and where the advertiser's data must live (default: anywhere). */
export const createAdvertiser = z.strictObject({
  name,
  time_zone: timeZone
    .optional()
    .describe("The advertiser's time zone (IANA name, default UTC): where its local hours and days start in metrics (tz=)."),
  jurisdiction: z
    .enum(JURISDICTIONS)
    .nullish()
    .describe(
      "Where the advertiser's data must live: \"eu\" creates its campaign objects and the edge buffers holding its events in Cloudflare's " +
        "EU jurisdiction and archives its events in the EU R2 bucket. Set once; default: anywhere.",
    ),
});
/** `PATCH /v1/admin/advertisers/{id}`: its time zone, its key's limits on POST /v1/conversions, or both. */
export const updateAdvertiser = z
  .strictObject({
    time_zone: timeZone.optional(),
    requests_per_minute: limitSettings.requests_per_minute.describe(
      "Requests a minute this advertiser key may make to POST /v1/conversions (default 600; null: the default).",
    ),
    conversions_per_second: limitSettings.events_per_second.describe(
      "Conversions a second it may post, averaged over 10 s bursts (default 5,000; null: the default).",
    ),
  })
  .refine((b) => Object.keys(b).length > 0, "give time_zone, requests_per_minute or conversions_per_second")
  .describe("Give time_zone, requests_per_minute, conversions_per_second or any of them; a limit set to null restores its default.");
export const advertiserPath = z.object({ id: z.string().describe("Advertiser id.") });
export const createCampaign = z.strictObject({
  advertiser_id: idParam,
  name,
  cost_per_click: costPerClick.describe("Amount per billed click, 0 to 1000, at most 6 decimals."),
  shards: z.number().int().min(1).max(16).optional().describe("Durable Object shards for a hot campaign (default 1)."),
  attribution_window_days: z
    .number()
    .int()
    .min(1)
    .max(MAX_ATTRIBUTION_WINDOW_DAYS)
    .optional()
    .describe(`Conversions are attributed to clicks at most this many days old, 1–${MAX_ATTRIBUTION_WINDOW_DAYS} (default 30).`),
  daily_budget: dailyBudget.optional(),
});
export const updateCampaign = z
  .strictObject({
    shards: z
      .number()
      .int()
      .min(1)
      .max(16)
      .optional()
      .describe("New shard count; takes effect at a minute boundary a few minutes ahead, never mid-minute."),
    daily_budget: dailyBudget.optional(),
  })
  .refine((b) => b.shards !== undefined || b.daily_budget !== undefined, "give shards, daily_budget or both")
  .describe("Give shards, daily_budget or both.");
/** `GET /v1/ops?minutes=M`: the window the ingest figures cover. */
export const opsQuery = z.strictObject({
  minutes: z.coerce.number().int().min(1).max(1440).default(60).describe("Window of the ingest figures, 1–1440 minutes (default 60)."),
});
/** `GET /v1/admin/buffers?colo=…`: a Cloudflare location's IATA code ("local" on a local stack). */
export const buffersQuery = z.strictObject({
  colo: z
    .string()
    .regex(/^(?:[A-Z]{3}|local)$/, "an IATA code like FRA, or local")
    .optional()
    .describe("IATA code of the Cloudflare location (default: local)."),
});
/** A query parameter name a landing page can receive the click id in. */
const clickIdParam = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1–64 letters, digits, _ . -")
  .nullable()
  .optional()
  .describe("Query parameter that carries the click id to the landing page (default ec_click_id); null: no click id is added.");

/** One arm of an A/B experiment: its name (recorded as the click's `variant`), its page and its share of clicks. */
const variant = z.strictObject({
  name: label.describe("Recorded as the click's variant; group_by=variant and the experiment summary name it."),
  landing_url: landingUrl.describe("Where this variant's clicks go."),
  weight: z.number().finite().gt(0, "must be greater than 0").max(1_000_000).describe("Relative share of clicks (any positive scale)."),
});

export const createAd = z
  .strictObject({
    campaign_id: idParam,
    landing_url: landingUrl
      .optional()
      .describe("Absolute http(s) URL without credentials. Clicks redirect only here (or to the variants')."),
    ad_format: label.optional(),
    click_id_param: clickIdParam,
    ad_group_id: idParam.optional().describe("An ad group of the same campaign (POST /v1/admin/ad-groups)."),
    variants: z
      .array(variant)
      .min(2, "must have at least 2 variants")
      .max(10, "must have at most 10 variants")
      .refine((vs) => new Set(vs.map((v) => v.name)).size === vs.length, "variant names must be unique")
      .optional()
      .describe("An A/B experiment: each click goes to one variant by weight, the same user always to the same one."),
  })
  .refine((b) => (b.landing_url === undefined) !== (b.variants === undefined), "give landing_url, or variants (not both)")
  .describe("Give landing_url, or variants for an A/B experiment.");
export const createClickUrl = z.strictObject({ ad_id: idParam, publisher_id: idParam });

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export function isIp(s: string): boolean {
  if (IPV4.test(s)) return true;
  if (!/^[0-9a-fA-F:.]{2,45}$/.test(s) || !s.includes(":")) return false;
  try {
    return new URL(`http://[${s}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}
export const ipAddress = z.string().trim().max(45).refine(isIp, "must be an IPv4 or IPv6 address");

export const blocklistBody = z
  .strictObject({
    ips: z.array(ipAddress).max(10_000, "at most 10,000 per request").optional().describe("IPv4 or IPv6 addresses (stored hashed)."),
    user_agents: z
      .array(z.string().trim().min(1).max(1024).refine(isCleanText, CLEAN_TEXT))
      .max(10_000, "at most 10,000 per request")
      .optional()
      .describe("Exact User-Agent strings."),
  })
  .refine((b) => (b.ips?.length ?? 0) + (b.user_agents?.length ?? 0) > 0, "give at least one of ips or user_agents")
  .describe("Give at least one of `ips` or `user_agents`.");

/** The last instant every part of edgeclick can print (a Date holds more, but not as `YYYY-…`). */
export const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * ISO-8601 or epoch ms as a number, between 1970 and the year 9999: outside that, times cannot be printed
 * back (`toISOString` throws past year 275760), and JavaScript reads the years 0–99 as 1900–1999.
 */
export function parseInstant(input: string | number): number | null {
  if (typeof input === "string" && /^\s*\d{4}-/.test(input) && Number(input.trim().slice(0, 4)) < 1970) return null;
  const t = parseTime(input);
  return t !== null && t >= 0 && t <= MAX_INSTANT ? t : null;
}

export const dateString = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD")
  .refine((s) => parseInstant(s) !== null, "must be a real calendar date from 1970 on");
/** A body with nothing in it (an empty object, or no body). */
export const emptyBody = z.strictObject({});
export const rollupBody = z.strictObject({
  date: dateString.optional().describe("UTC date YYYY-MM-DD; default: today and yesterday (and dates with late events)."),
});

/** ISO-8601 or epoch ms, as a number. */
export const instant = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const t = parseInstant(v);
  if (t === null) {
    ctx.addIssue({ code: "custom", message: "must be an ISO-8601 time or epoch milliseconds from 1970 to 9999" });
    return z.NEVER;
  }
  return t;
});

const optionalText = (max: number) =>
  text(max)
    .nullish()
    .transform((s) => (s ? s : null));

/** One event of `POST /v1/events`. Campaign and advertiser are never taken from here. */
export const postedEvent = z.object({
  event_id: token(128).describe("Publisher's unique id of the event; a repeat is counted as a duplicate."),
  timestamp: instant.describe("ISO-8601 time (UTC when no offset) or epoch milliseconds. Must lie within [now − 7 days, now + 5 minutes]."),
  ad_id: idParam.describe("An ad of the registry; campaign and advertiser come from it."),
  user_id: optionalText(128),
  ip_address: ipAddress.nullish().describe("IPv4 or IPv6 address of the clicker; default: the connecting IP."),
  user_agent: optionalText(1024),
  referer: optionalText(REFERER_MAX),
  device_type: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(["desktop", "mobile", "tablet", "bot", "unknown"]))
    .nullish()
    .describe("desktop, mobile, tablet, bot or unknown (any case); default: from user_agent."),
  os: optionalText(32),
  country: countryCode.nullish().describe("ISO 3166-1 alpha-2 (any case), XX for unknown; default: the edge's country."),
  city: optionalText(CITY_MAX),
  cost_per_click: costPerClick.nullish().describe("Overrides the campaign's cost per click for this event."),
  ad_format: label.nullish(),
});
export type PostedEvent = z.infer<typeof postedEvent>;

/** One conversion of `POST /v1/conversions`. Campaign, ad and the rest come from the click id, never from here. */
export const postedConversion = z.object({
  conversion_id: token(128).describe("The advertiser's own id of the conversion; a repeat (any campaign of the advertiser) counts once."),
  click_id: z.string().max(CLICK_ID_MAX).describe("The click id /click added to the landing page (ec_click_id or the ad's own name)."),
  name: optionalText(64).describe("What happened: purchase, signup, …"),
  value: z
    .number()
    .finite()
    .min(0, "must not be negative")
    .max(1_000_000_000, "must be at most 1,000,000,000")
    .refine((n) => Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, "must have at most 6 decimals")
    .nullish()
    .describe("Worth of the conversion in the advertiser's currency units (summed as conversion_value)."),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, "must be an ISO 4217 code such as EUR")
    .transform((s) => s.toUpperCase())
    .nullish(),
  timestamp: instant.optional().describe("When it happened (default: when received); at most 5 minutes ahead."),
});
export type PostedConversion = z.infer<typeof postedConversion>;

/** `GET /click` parameters. */
export const clickParams = z.object({
  ad_id: idParam,
  user_id: optionalText(128).describe("The clicker; without it a first-party cookie identifies the browser."),
  pub: idParam.optional().describe("Publisher id of a signed link."),
  sig: z.string().max(128).optional().describe("Signature of a link made by POST /v1/admin/click-urls."),
  ad_format: label.optional(),
  variant: label.optional(),
  x: z.coerce
    .number()
    .int()
    .min(-100_000)
    .max(100_000)
    .optional()
    .describe("Where on the creative the click landed, in pixels from the left."),
  y: z.coerce.number().int().min(-100_000).max(100_000).optional().describe("… and from the top."),
  w: z.coerce.number().int().min(1).max(100_000).optional().describe("The creative's width in pixels (with h: the heatmap's frame)."),
  h: z.coerce.number().int().min(1).max(100_000).optional().describe("The creative's height in pixels."),
});
export type ClickParams = z.infer<typeof clickParams>;

/** What a click link carries once read: `pub`/`sig` raw, since a bad signature is judged, not refused. */
export interface ClickRequest extends Omit<ClickParams, "pub" | "sig"> {
  /** Whether the link claims a signature at all (`pub` or `sig` present, even empty or malformed). */
  signed: boolean;
  pub: string | undefined;
  sig: string | undefined;
}

/**
 * Reads `GET /click` parameters. Only `ad_id` can refuse a click (400): without it there is nowhere to
 * send the person. A malformed tracking field (an unexpanded `{x}` macro, an over-long user id) is
 * dropped and the click still goes through, so no one is stranded over a detail. `pub`/`sig` are kept as
 * sent and left to signature verification (a bad one is a 403 counted as `bad_signature`). A repeated
 * `ad_id`, `pub` or `sig` is refused: which one the signature was meant for would be a guess.
 */
export function parseClickParams(search: URLSearchParams): ClickRequest {
  for (const k of ["ad_id", "pub", "sig"]) {
    if (search.getAll(k).length > 1) throw new ApiError(400, "invalid_request", `${k}: must be given once`);
  }
  const ad = clickParams.shape.ad_id.safeParse(search.get("ad_id") ?? undefined);
  if (!ad.success) throw new ApiError(400, "invalid_request", describeIssues(ad.error, "ad_id"));
  const optional = <K extends "user_id" | "ad_format" | "variant" | "x" | "y" | "w" | "h">(k: K): ClickParams[K] | undefined => {
    const values = search.getAll(k);
    if (values.length !== 1 || values[0] === "") return undefined;
    const r = clickParams.shape[k].safeParse(values[0]);
    return r.success ? (r.data as ClickParams[K]) : undefined;
  };
  const pub = search.get("pub") ?? undefined;
  const sig = search.get("sig") ?? undefined;
  return {
    ad_id: ad.data,
    user_id: optional("user_id") ?? null,
    ad_format: optional("ad_format"),
    variant: optional("variant"),
    x: optional("x"),
    y: optional("y"),
    w: optional("w"),
    h: optional("h"),
    signed: pub !== undefined || sig !== undefined,
    pub,
    sig,
  };
}

export const DIMENSIONS = ["country", "device_type", "os", "publisher_id", "ad_format", "variant", "ad_id", "ad_group_id"] as const;
export type Dimension = (typeof DIMENSIONS)[number];
/** `group_by` values: one dimension, or the country × device_type pair that billing uses (group "US,mobile"). */
export const GROUPINGS = [...DIMENSIONS, "country,device_type"] as const;
export type Grouping = (typeof GROUPINGS)[number];

/** `filter=dim:value`, e.g. `country:US`. */
export const filterParam = z
  .string()
  .max(200)
  .transform((s, ctx) => {
    const i = s.indexOf(":");
    const dim = (i < 0 ? s : s.slice(0, i)) as Dimension;
    if (!isCleanText(s)) {
      ctx.addIssue({ code: "custom", message: CLEAN_TEXT });
      return z.NEVER;
    }
    if (i < 0 || !DIMENSIONS.includes(dim) || i === s.length - 1) {
      ctx.addIssue({ code: "custom", message: `must be dimension:value with dimension one of ${DIMENSIONS.join(", ")}` });
      return z.NEVER;
    }
    let value = s.slice(i + 1);
    if (dim === "country") value = value.toUpperCase();
    return { dim, value };
  });
export type Filter = z.infer<typeof filterParam>;

const TIME = "ISO-8601 time (UTC when no offset) or epoch milliseconds.";
const FILTER = `\`dimension:value\`, dimension one of ${DIMENSIONS.join(", ")}; e.g. \`country:US\`.`;
const minutes = (fallback: number, description: string) => z.coerce.number().int().min(1).max(1440).default(fallback).describe(description);

/** `format=csv` on the exports (issue 13); `Accept: text/csv` asks the same when `format` is left out. */
export const exportFormat = z
  .enum(["json", "csv"])
  .optional()
  .describe("json (default) or csv: the same rows as RFC 4180 CSV with a header row. Without it, `Accept: text/csv` chooses csv.");

export const aggregatedCountQuery = z.object({
  from: instant.describe(`Inclusive. ${TIME}`),
  to: instant.describe(`Exclusive. ${TIME}`),
  filter: filterParam.optional().describe(FILTER),
});
export const popularQuery = z.object({
  window: z.coerce.number().int().min(1).max(MAX_POPULAR_WINDOW_MINUTES).default(60).describe("Minutes back from now."),
  top_n: z.coerce.number().int().min(1).max(MAX_POPULAR_ADS).default(10).describe("How many ads."),
});
export const metricsQuery = z.object({
  ad_id: idParam.optional().describe("One ad; or give campaign_id."),
  campaign_id: idParam.optional().describe("A whole campaign; or give ad_id."),
  start: instant.describe(`Inclusive. ${TIME}`),
  end: instant.describe(`Exclusive. ${TIME}`),
  granularity: z.enum(GRANULARITIES as [string, ...string[]]).default("minute"),
  tz: timeZone
    .optional()
    .describe(
      "Time zone of hour and day buckets (default: the advertiser's, UTC unless set). Zones with 30/45-minute offsets are " +
        "summed from minute cells, so they reach back 48 hours only.",
    ),
  group_by: z.enum(GROUPINGS).optional(),
  filter: filterParam.optional().describe(FILTER),
  format: exportFormat,
});
export const liveQuery = z.object({ minutes: minutes(5, "Minutes back from now.") });
const dateOrInstant = z
  .string()
  .refine((s) => parseInstant(s) !== null, "must be a date YYYY-MM-DD, an ISO-8601 time or epoch milliseconds");
export const billingQuery = z.object({
  campaign_id: idParam,
  from: dateOrInstant.describe(`Inclusive. Date YYYY-MM-DD or ${TIME}`),
  to: dateOrInstant.describe(`Exclusive. Date YYYY-MM-DD or ${TIME} At most 400 days after from.`),
  format: exportFormat,
});
export const reconciliationQuery = z.object({ date: dateString.describe("UTC date YYYY-MM-DD."), format: exportFormat });
/** Path parameters: the id of a campaign or an ad. Any text: an id that is not ours is a 404, like a missing one. */
export const campaignPath = z.object({ id: z.string().describe("Campaign id.") });
export const adPath = z.object({ ad_id: z.string().describe("Ad id.") });

/** Describes the first problem zod found, naming the field: "cost_per_click: must not be negative". */
export function describeIssues(error: z.ZodError, field?: string, input?: unknown): string {
  const issue = error.issues[0];
  if (!issue) return "invalid input";
  const where = issue.path.length ? issue.path.join(".") : (field ?? "");
  let message = issue.message;
  // A field that is simply absent is "required", whatever kind of check it failed (a union says "Invalid input").
  const absent =
    issue.path.length > 0 &&
    input !== null &&
    typeof input === "object" &&
    issue.path.reduce<unknown>(
      (v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined),
      input,
    ) === undefined;
  if (absent) message = "is required";
  else if (issue.code === "invalid_type") message = issue.input === undefined ? "is required" : `has the wrong type (${message})`;
  return where ? `${where}: ${message}` : message;
}

/** Parses or throws a 400 ApiError naming the field. */
export function parseOr400<T extends z.ZodType>(schema: T, input: unknown, code = "invalid_request"): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw new ApiError(400, code, describeIssues(r.error, undefined, input));
  return r.data;
}

// ---------------------------------------------------------------------------------------------------
// Advertiser controls (issue 13): exports, keys, alerts

/** Whose keys: an admin names one account; an advertiser or publisher key means its own (and may name only that). */
const keyOwner = {
  advertiser_id: idParam.optional().describe("Admin: an advertiser's keys. Others: only their own account, or leave it out."),
  publisher_id: idParam.optional().describe("Admin: a publisher's keys. Others: only their own account, or leave it out."),
};
export const keysQuery = z.object(keyOwner);
export const createKeyBody = z.strictObject(keyOwner);
export const keyPath = z.object({ key_id: z.string().describe("Key id (key_…), from POST or GET /v1/keys.") });

const advertiserOf = idParam.optional().describe("Admin: whose alerts. An advertiser key: its own (leave it out).");
export const alertsQuery = z.object({
  advertiser_id: advertiserOf,
  limit: z.coerce.number().int().min(1).max(200).default(50).describe("How many, newest first."),
});
export const webhookQuery = z.object({ advertiser_id: advertiserOf });

/** Where alerts go: https (plain http only to this machine, for local development). */
const webhookUrl = z
  .string()
  .trim()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      const local = ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
      return (u.protocol === "https:" || (u.protocol === "http:" && local)) && !u.username && !u.password;
    } catch {
      return false;
    }
  }, "must be an https:// URL (http:// only to localhost), without credentials");
export const webhookBody = z.strictObject({
  url: webhookUrl,
  secret: z
    .string()
    .min(16, "at least 16 characters")
    .max(256)
    .refine(isCleanText, CLEAN_TEXT)
    .optional()
    .describe("Signs deliveries (HMAC-SHA256). Leave it out to have one generated; it is shown once."),
});

// Attribution (issue 12)

/** `GET /v1/ads/{ad_id}/experiment`: the range the summary covers (default: the last 30 days). */
export const experimentQuery = z.object({
  from: instant.optional().describe(`Inclusive; default 30 days ago. ${TIME}`),
  to: instant.optional().describe(`Exclusive; default now. ${TIME}`),
});

/** `GET /v1/ads/{ad_id}/heatmap`: hourly counts, so the range is read to the hour. */
export const heatmapQuery = z.object({
  from: instant.describe(`Inclusive, from the start of its hour. ${TIME}`),
  to: instant.describe(`Exclusive: hours that start before it. ${TIME}`),
});

/** `POST /v1/admin/ad-groups`: a named group of a campaign's ads. */
export const createAdGroup = z.strictObject({ campaign_id: idParam, name });

// Billing at scale and audit (issue 11).

export const restatementsQuery = z.object({
  campaign_id: idParam.optional().describe("One campaign (default: every campaign of the caller)."),
  from: dateString.optional().describe("First billing date, YYYY-MM-DD."),
  to: dateString.optional().describe("Last billing date, YYYY-MM-DD (inclusive)."),
});

export const statementQuery = z.object({
  campaign_id: idParam,
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "must be a month YYYY-MM")
    .describe("UTC month YYYY-MM."),
});

// Recalculation and batch fraud review (issue 11, items 5 and 6); the handler checks from ≤ to and the span.
export const recalculateBody = z.strictObject({
  from: dateString.describe("First UTC date to re-judge, YYYY-MM-DD."),
  to: dateString.describe("Last UTC date to re-judge, YYYY-MM-DD (inclusive; at most 31 days from `from`)."),
  campaign_id: idParam.optional().describe("One campaign (default: every campaign with events on those dates)."),
});

export const fraudReviewBody = z.strictObject({
  from: dateString.describe("First UTC date to review, YYYY-MM-DD."),
  to: dateString.describe("Last UTC date to review, YYYY-MM-DD (inclusive; at most 31 days from `from`)."),
});

export const fraudReviewQuery = z.object({
  status: z.enum(["open", "applied"]).optional().describe("Only findings in this state (default: all)."),
});

export const recalculationPath = z.object({ id: z.string().max(64).describe("Recalculation id.") });
export const findingPath = z.object({ id: z.string().max(64).describe("Finding id.") });
