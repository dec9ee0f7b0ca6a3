/** Limits of the public API, shared by the Workers that enforce them and the OpenAPI document. */

/** CONTRACT: at most 1,000 events and 1 MiB per `POST /v1/events`. */
export const MAX_EVENTS = 1000;
export const MAX_BODY_BYTES = 1 << 20;

/** The period of the edge rate limits, in seconds (wrangler.toml `[[ratelimits]] simple.period`). */
export const LIMIT_PERIOD_S = 60;
