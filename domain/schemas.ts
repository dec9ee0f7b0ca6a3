/**
 * Every input edgeclick accepts, as zod schemas: admin bodies, posted events, click and query parameters.
 * Unknown fields are ignored; anything else that does not fit is a 400 with the field named.
 */
import { z } from "zod";
import { ApiError } from "./errors";
import { GRANULARITIES, parseTime } from "./time";

// ISO 3166-1 alpha-2, plus XX for "unknown" (what the edge reports when it cannot tell).
const ISO_COUNTRIES = new Set(
  ("AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
    "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
    "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO " +
    "JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR " +
    "MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO " +
    "RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV " +
    "TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XX").split(" "),
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
  z.string().trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`)
    .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces");

export const idParam = token(64);
const name = z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters");
const label = z.string().trim().min(1).max(32).regex(/^[A-Za-z0-9_.-]+$/, "may contain letters, digits, _ . -");

/** Money per click in currency units: a finite amount from 0 to 1,000, at most 6 decimals. */
export const costPerClick = z.number().finite().min(0, "must not be negative").max(1000, "must be at most 1000")
  .refine((n) => Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, "must have at most 6 decimals");

/**
 * A landing page: absolute http(s) URL, no credentials, at most 2,048 characters. Anything else
 * (javascript:, data:, relative, user:pass@) is refused, so a click can only ever go to a page like this.
 */
export const landingUrl = z.string().trim().max(2048, "must be at most 2048 characters").superRefine((s, ctx) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    ctx.addIssue({ code: "custom", message: "must be an absolute http(s) URL" });
    return;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") ctx.addIssue({ code: "custom", message: "must use http or https" });
  else if (u.username || u.password) ctx.addIssue({ code: "custom", message: "must not contain credentials" });
  else if (!u.hostname) ctx.addIssue({ code: "custom", message: "must name a host" });
});

export const createNamed = z.object({ name });
export const createCampaign = z.object({
  advertiser_id: idParam,
  name,
  cost_per_click: costPerClick,
  shards: z.number().int().min(1).max(16).optional(),
});
export const updateCampaign = z.object({ shards: z.number().int().min(1).max(16) });
export const createAd = z.object({ campaign_id: idParam, landing_url: landingUrl, ad_format: label.optional() });
export const createClickUrl = z.object({ ad_id: idParam, publisher_id: idParam });

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
  .object({
    ips: z.array(ipAddress).max(10_000, "at most 10,000 per request").optional(),
    user_agents: z.array(z.string().trim().min(1).max(1024)).max(10_000, "at most 10,000 per request").optional(),
  })
  .refine((b) => (b.ips?.length ?? 0) + (b.user_agents?.length ?? 0) > 0, "give at least one of ips or user_agents");

export const dateString = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD")
  .refine((s) => parseTime(s) !== null, "must be a real calendar date");
export const rollupBody = z.object({ date: dateString.optional() });

/** ISO-8601 or epoch ms, as a number. */
export const instant = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const t = parseTime(v);
  if (t === null) {
    ctx.addIssue({ code: "custom", message: "must be an ISO-8601 time or epoch milliseconds" });
    return z.NEVER;
  }
  return t;
});

const optionalText = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`).nullish().transform((s) => (s ? s : null));

/** One event of `POST /v1/events`. Campaign and advertiser are never taken from here. */
export const postedEvent = z.object({
  event_id: token(128),
  timestamp: instant,
  ad_id: idParam,
  user_id: optionalText(128),
  ip_address: ipAddress.nullish(),
  user_agent: optionalText(1024),
  referer: optionalText(2048),
  device_type: z.string().trim().toLowerCase().pipe(z.enum(["desktop", "mobile", "tablet", "bot", "unknown"])).nullish(),
  os: optionalText(32),
  country: countryCode.nullish(),
  city: optionalText(128),
  cost_per_click: costPerClick.nullish(),
  ad_format: label.nullish(),
});
export type PostedEvent = z.infer<typeof postedEvent>;

/** `GET /click` parameters. */
export const clickParams = z.object({
  ad_id: idParam,
  user_id: optionalText(128),
  pub: idParam.optional(),
  sig: z.string().max(128).optional(),
  ad_format: label.optional(),
  variant: label.optional(),
  x: z.coerce.number().int().min(-100_000).max(100_000).optional(),
  y: z.coerce.number().int().min(-100_000).max(100_000).optional(),
});

export const DIMENSIONS = ["country", "device_type", "os", "publisher_id", "ad_format"] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** `filter=dim:value`, e.g. `country:US`. */
export const filterParam = z.string().max(200).transform((s, ctx) => {
  const i = s.indexOf(":");
  const dim = (i < 0 ? s : s.slice(0, i)) as Dimension;
  if (i < 0 || !DIMENSIONS.includes(dim) || i === s.length - 1) {
    ctx.addIssue({ code: "custom", message: `must be dimension:value with dimension one of ${DIMENSIONS.join(", ")}` });
    return z.NEVER;
  }
  let value = s.slice(i + 1);
  if (dim === "country") value = value.toUpperCase();
  return { dim, value };
});
export type Filter = z.infer<typeof filterParam>;

export const aggregatedCountQuery = z.object({ from: instant, to: instant, filter: filterParam.optional() });
export const popularQuery = z.object({
  window: z.coerce.number().int().min(1).max(1440).default(60),
  top_n: z.coerce.number().int().min(1).max(100).default(10),
});
export const metricsQuery = z.object({
  ad_id: idParam.optional(),
  campaign_id: idParam.optional(),
  start: instant,
  end: instant,
  granularity: z.enum(GRANULARITIES as [string, ...string[]]).default("minute"),
  group_by: z.enum(DIMENSIONS).optional(),
  filter: filterParam.optional(),
});
export const liveQuery = z.object({ minutes: z.coerce.number().int().min(1).max(1440).default(5) });
export const billingQuery = z.object({ campaign_id: idParam, from: z.string(), to: z.string() });
export const reconciliationQuery = z.object({ date: dateString });

/** Describes the first problem zod found, naming the field: "cost_per_click: must not be negative". */
export function describeIssues(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid input";
  const where = issue.path.length ? issue.path.join(".") : "";
  let message = issue.message;
  if (issue.code === "invalid_type") message = issue.input === undefined ? "is required" : `has the wrong type (${message})`;
  return where ? `${where}: ${message}` : message;
}

/** Parses or throws a 400 ApiError naming the field. */
export function parseOr400<T extends z.ZodType>(schema: T, input: unknown, code = "invalid_request"): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw new ApiError(400, code, describeIssues(r.error));
  return r.data;
}
