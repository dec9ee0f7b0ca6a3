-- An advertiser key's limits on POST /v1/conversions (workers/ingest/limits.ts, durable-objects/key-gate.ts), as the
-- publishers' are on POST /v1/events; null: the default (domain/limits.ts DEFAULT_ADVERTISER_LIMITS).
ALTER TABLE advertisers ADD COLUMN requests_per_minute INTEGER;
ALTER TABLE advertisers ADD COLUMN conversions_per_second INTEGER;
