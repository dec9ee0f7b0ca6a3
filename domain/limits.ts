/** Limits of the public API, shared by the Workers that enforce them and the OpenAPI document. */

/** CONTRACT: at most 1,000 events and 1 MiB per `POST /v1/events`. */
export const MAX_EVENTS = 1000;
export const MAX_BODY_BYTES = 1 << 20;

/** An edge isolate keeps a registry entry (ad, campaign, shard plan) this long: a change is seen by every click within it. */
export const REGISTRY_TTL_MS = 30_000;

/** The period of the edge rate limits, in seconds (wrangler.toml `[[ratelimits]] simple.period`). */
export const LIMIT_PERIOD_S = 60;
