-- Rebuilds edgeclick's billing rows (GET /v1/billing) from the raw Parquet archive with DuckDB.
-- Point the glob at a copy of the bucket's raw/ prefix (or at R2 through DuckDB's httpfs/S3 support).
-- Each event is archived once per receipt (uid); the DISTINCT ON guards against a copied file.
SELECT
  campaign_id,
  strftime(timestamp, '%Y-%m-%d')                                              AS date,
  coalesce(country, 'XX')                                                       AS country,
  coalesce(device_type, 'unknown')                                              AS device_type,
  count(*) FILTER (WHERE verdict IN ('clean', 'suspicious'))                    AS clicks,
  count(DISTINCT user_id) FILTER (WHERE verdict IN ('clean', 'suspicious'))     AS unique_users,
  round(sum(round(cost_per_click * 1e6)) FILTER (WHERE verdict IN ('clean', 'suspicious')) / 1e6, 6) AS cost,
  count(*) FILTER (WHERE verdict = 'invalid')                                   AS invalid_clicks,
  count(*) FILTER (WHERE verdict = 'suspicious')                                AS suspicious_clicks,
  count(*) FILTER (WHERE verdict = 'duplicate')                                 AS duplicates,
  count(*) FILTER (WHERE late)                                                  AS late_events
FROM (SELECT DISTINCT ON (uid) * FROM read_parquet('ARCHIVE/raw/**/*.parquet', hive_partitioning = false))
GROUP BY ALL
ORDER BY campaign_id, date, country, device_type;
