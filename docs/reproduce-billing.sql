-- Rebuilds edgeclick's billing rows (GET /v1/billing) from the raw Parquet archive with DuckDB.
-- Point the glob at a copy of the bucket's raw/ prefix (or at R2 through DuckDB's httpfs/S3 support).
-- Each event is archived once per receipt (uid); the DISTINCT ON guards against a copied file.
-- Billing trusts the recorded verdicts, and also dedups event_id over the campaign's day: of events
-- sharing an event_id that real time did not call duplicates (its dedup is per minute), only the first
-- received (then smallest uid) keeps its verdict; the rest are duplicates (event_id_repeats).
-- Clicks the campaign object counted after the day's budget was spent are archived with verdict over_budget:
-- not billed, counted in over_budget_clicks (the recorded verdict is taken as it is, never decided again).
-- Applied recalculations and fraud reviews (README, "Recalculation") leave overlay files under raw/overlays/: the events
-- whose verdict they changed (uid, verdict, reason). The newest overlay naming a uid (by file name: ids sort by time)
-- gives its verdict; every other event keeps the one recorded. The archived events themselves never change.
-- Billing dates are local dates in the advertiser's time zone (README, "Billing in time zones"): list each campaign whose
-- advertiser is not in UTC in campaign_zones (a statement says its time_zone); every other campaign's dates are UTC dates.
WITH campaign_zones(campaign_id, time_zone) AS (VALUES ('', 'UTC')),  -- e.g. VALUES ('cmp_…', 'Europe/Amsterdam'), …
files AS (
  SELECT * FROM read_parquet('ARCHIVE/raw/**/*.parquet', hive_partitioning = false, union_by_name = true, filename = true)
),
overlay AS (
  SELECT uid, arg_max(verdict, filename) AS verdict FROM files WHERE filename LIKE '%/overlays/%' GROUP BY uid
),
events AS (
  SELECT DISTINCT ON (f.uid) f.* REPLACE (coalesce(o.verdict, f.verdict) AS verdict),
    -- timestamp holds UTC (read as TIMESTAMP or TIMESTAMPTZ by DuckDB version): epoch_ms makes it an instant either way.
    strftime(to_timestamp(epoch_ms(f.timestamp) / 1000) AT TIME ZONE coalesce(z.time_zone, 'UTC'), '%Y-%m-%d') AS date
  FROM files f LEFT JOIN overlay o ON o.uid = f.uid LEFT JOIN campaign_zones z ON z.campaign_id = f.campaign_id
  WHERE f.filename NOT LIKE '%/overlays/%'
),
judged AS (
  SELECT *,
    verdict <> 'duplicate' AND row_number() OVER (
      PARTITION BY campaign_id, date, event_id, verdict = 'duplicate'
      ORDER BY received_at, uid) > 1                                           AS is_repeat,
    CASE WHEN is_repeat THEN 'duplicate' ELSE verdict END                          AS billed
  FROM events
)
SELECT
  campaign_id,
  date,
  coalesce(country, 'XX')                                                       AS country,
  coalesce(device_type, 'unknown')                                              AS device_type,
  nullif(ad_group_id, '')                                                       AS ad_group_id,   -- null: an ad without a group
  count(*) FILTER (WHERE billed IN ('clean', 'suspicious'))                     AS clicks,
  count(DISTINCT user_id) FILTER (WHERE billed IN ('clean', 'suspicious'))      AS unique_users,
  round(sum(round(cost_per_click * 1e6)) FILTER (WHERE billed IN ('clean', 'suspicious')) / 1e6, 6) AS cost,
  count(*) FILTER (WHERE billed = 'invalid')                                    AS invalid_clicks,
  count(*) FILTER (WHERE billed = 'suspicious')                                 AS suspicious_clicks,
  count(*) FILTER (WHERE billed = 'duplicate')                                  AS duplicates,
  count(*) FILTER (WHERE billed = 'over_budget')                                AS over_budget_clicks,
  count(*) FILTER (WHERE late)                                                  AS late_events,
  count(*) FILTER (WHERE is_repeat)                                              AS event_id_repeats
FROM judged
GROUP BY ALL
HAVING clicks > 0 OR invalid_clicks > 0 OR over_budget_clicks > 0 OR late_events > 0   -- a group of duplicates only makes no row
ORDER BY campaign_id, date, country, device_type, ad_group_id NULLS FIRST;
