-- The daily fraud review (r2-batch/fraud.ts dailyReview): one row per reviewed UTC date, claimed before the run, so a
-- cron that fires twice reviews a date once. A run that died (no finished_at) may be claimed again after its lease.
CREATE TABLE fraud_review_runs (
  date        TEXT PRIMARY KEY,
  holder      TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER,
  found       INTEGER,
  stored      INTEGER,
  events_read INTEGER,
  capped      INTEGER
);
