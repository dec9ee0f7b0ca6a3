-- Billing at any scale (r2-batch/rollup.ts): a rollup run is one job per campaign × date × user partition; each job
-- writes its partition's rows here (idempotently, keyed by run and partition); when a campaign-date's last job is
-- done, the sums replace its billing_daily rows in one transaction.
CREATE TABLE rollup_jobs (
  run_id           TEXT NOT NULL,
  campaign_id      TEXT NOT NULL,
  date             TEXT NOT NULL,
  part             INTEGER NOT NULL,
  parts            INTEGER NOT NULL,
  -- Completeness watermark: every event received before this time (epoch ms) was archived when the run was planned.
  archived_through INTEGER NOT NULL,
  cause            TEXT NOT NULL,
  files_sha256     TEXT,
  files            INTEGER,
  events           INTEGER,
  rows             INTEGER,
  created_at       INTEGER NOT NULL,
  done_at          INTEGER,
  PRIMARY KEY (run_id, campaign_id, date, part)
);

CREATE TABLE billing_parts (
  run_id            TEXT NOT NULL,
  campaign_id       TEXT NOT NULL,
  date              TEXT NOT NULL,
  part              INTEGER NOT NULL,
  country           TEXT NOT NULL,
  device_type       TEXT NOT NULL,
  clicks            INTEGER NOT NULL,
  cost_micros       INTEGER NOT NULL,
  suspicious_clicks INTEGER NOT NULL,
  duplicates        INTEGER NOT NULL,
  invalid_clicks    INTEGER NOT NULL,
  unique_users      INTEGER NOT NULL,
  late_events       INTEGER NOT NULL,
  event_id_repeats  INTEGER NOT NULL,
  PRIMARY KEY (campaign_id, date, run_id, part, country, device_type)
);

-- The run whose rows billing_daily holds for a campaign-date: an older run finishing late never overwrites a newer one.
CREATE TABLE rollup_state (
  campaign_id      TEXT NOT NULL,
  date             TEXT NOT NULL,
  run_id           TEXT NOT NULL,
  archived_through INTEGER NOT NULL,
  computed_at      INTEGER NOT NULL,
  -- SHA-256 of the file list (keys and sizes) the run read: the cron skips a campaign-date whose files are unchanged.
  files_sha256     TEXT,
  PRIMARY KEY (campaign_id, date)
);

ALTER TABLE billing_daily ADD COLUMN archived_through INTEGER;

-- Every change to a billed figure after it was first published: old and new values of the row (JSON of its
-- counts; NULL when the row did not exist), and why.
CREATE TABLE billing_restatements (
  restatement_id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id         TEXT NOT NULL,
  campaign_id    TEXT NOT NULL,
  date           TEXT NOT NULL,
  country        TEXT NOT NULL,
  device_type    TEXT NOT NULL,
  old_values     TEXT,
  new_values     TEXT,
  cause          TEXT NOT NULL,
  recorded_at    INTEGER NOT NULL,
  UNIQUE (run_id, campaign_id, date, country, device_type)
);
CREATE INDEX restatements_by_campaign ON billing_restatements(campaign_id, date);

-- One holder at a time for work that must not overlap (compaction of an hour).
CREATE TABLE batch_leases (
  name       TEXT PRIMARY KEY,
  holder     TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
