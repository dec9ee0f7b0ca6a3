-- Registry: who advertises, who publishes, what they run. API keys are stored only as SHA-256 hashes.
CREATE TABLE advertisers (
  advertiser_id TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  api_key_hash  TEXT NOT NULL UNIQUE,
  created_at    INTEGER NOT NULL
);

CREATE TABLE publishers (
  publisher_id  TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  api_key_hash  TEXT NOT NULL UNIQUE,
  created_at    INTEGER NOT NULL
);

CREATE TABLE campaigns (
  campaign_id          TEXT PRIMARY KEY,
  advertiser_id        TEXT NOT NULL REFERENCES advertisers(advertiser_id),
  name                 TEXT NOT NULL,
  -- Money is kept in millionths of the currency unit so sums are exact.
  cost_per_click_micros INTEGER NOT NULL,
  -- How many Durable Object shards count this campaign (hot campaigns get more).
  shards               INTEGER NOT NULL DEFAULT 1,
  created_at           INTEGER NOT NULL
);
CREATE INDEX campaigns_by_advertiser ON campaigns(advertiser_id);

CREATE TABLE ads (
  ad_id         TEXT PRIMARY KEY,
  campaign_id   TEXT NOT NULL REFERENCES campaigns(campaign_id),
  advertiser_id TEXT NOT NULL REFERENCES advertisers(advertiser_id),
  landing_url   TEXT NOT NULL,
  ad_format     TEXT,
  created_at    INTEGER NOT NULL
);
CREATE INDEX ads_by_campaign ON ads(campaign_id);

-- Billing: one row per campaign x UTC date x country x device_type, rebuilt from the R2 archive.
CREATE TABLE billing_daily (
  campaign_id       TEXT NOT NULL,
  date              TEXT NOT NULL,
  country           TEXT NOT NULL,
  device_type       TEXT NOT NULL,
  clicks            INTEGER NOT NULL,
  unique_users      INTEGER NOT NULL,
  cost_micros       INTEGER NOT NULL,
  invalid_clicks    INTEGER NOT NULL,
  suspicious_clicks INTEGER NOT NULL,
  duplicates        INTEGER NOT NULL,
  late_events       INTEGER NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('final', 'provisional')),
  computed_at       INTEGER NOT NULL,
  PRIMARY KEY (campaign_id, date, country, device_type)
);
CREATE INDEX billing_by_date ON billing_daily(date);

-- One row per rollup of a date: what was read, so a bill can be traced to its archive files.
CREATE TABLE rollup_runs (
  date        TEXT PRIMARY KEY,
  files       INTEGER NOT NULL,
  events      INTEGER NOT NULL,
  rows        INTEGER NOT NULL,
  computed_at INTEGER NOT NULL
);
