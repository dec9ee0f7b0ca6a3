/** Limits of the public API, shared by the Workers that enforce them and the OpenAPI document. */

/** CONTRACT: at most 1,000 events and 1 MiB per `POST /v1/events`. */
export const MAX_EVENTS = 1000;
export const MAX_BODY_BYTES = 1 << 20;

/** An edge isolate keeps a registry entry (ad, campaign, shard plan) this long: a change is seen by every click within it. */
export const REGISTRY_TTL_MS = 30_000;

/** CONTRACT: `GET /v1/ads/popular` looks back 1 ≤ M ≤ 1440 minutes for the top 1 ≤ N ≤ 100 ads. */
export const MAX_POPULAR_WINDOW_MINUTES = 1440;
export const MAX_POPULAR_ADS = 100;

/** The longest city and Referer an event keeps, from the edge's headers or as posted. */
export const CITY_MAX = 128;
export const REFERER_MAX = 2048;

/** The period of the edge rate limits, in seconds (wrangler.toml `[[ratelimits]] simple.period`). */
export const LIMIT_PERIOD_S = 60;
