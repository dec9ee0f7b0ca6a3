-- Per-publisher limits of POST /v1/events (NULL: the defaults in domain/limits.ts).
ALTER TABLE publishers ADD COLUMN requests_per_minute INTEGER;
ALTER TABLE publishers ADD COLUMN events_per_second INTEGER;
