-- Billing broken down by ad group (issue 12): ad_group_id joins the key of billing_daily, billing_parts and
-- billing_restatements (campaign × date × country × device type × ad group). SQLite cannot change a PRIMARY KEY or a
-- UNIQUE constraint in place, so each table is rebuilt and its rows copied. In D1 a click without a group has
-- ad_group_id '' (the API and the archive say null): a NULL in a key column would make every such row unique.
CREATE TABLE billing_daily_0020 (
  campaign_id       TEXT NOT NULL,
  date              TEXT NOT NULL,
  country           TEXT NOT NULL,
  device_type       TEXT NOT NULL,
  ad_group_id       TEXT NOT NULL DEFAULT '',
  clicks            INTEGER NOT NULL,
  unique_users      INTEGER NOT NULL,
  cost_micros       INTEGER NOT NULL,
  invalid_clicks    INTEGER NOT NULL,
  suspicious_clicks INTEGER NOT NULL,
  duplicates        INTEGER NOT NULL,
  late_events       INTEGER NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('final', 'provisional')),
  computed_at       INTEGER NOT NULL,
  event_id_repeats  INTEGER NOT NULL DEFAULT 0,
  archived_through  INTEGER,
  over_budget_clicks INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, date, country, device_type, ad_group_id)
);
INSERT INTO billing_daily_0020
  (campaign_id, date, country, device_type, ad_group_id, clicks, unique_users, cost_micros, invalid_clicks, suspicious_clicks,
   duplicates, late_events, status, computed_at, event_id_repeats, archived_through, over_budget_clicks)
SELECT campaign_id, date, country, device_type, '', clicks, unique_users, cost_micros, invalid_clicks, suspicious_clicks,
  duplicates, late_events, status, computed_at, event_id_repeats, archived_through, over_budget_clicks
FROM billing_daily;
DROP TABLE billing_daily;
ALTER TABLE billing_daily_0020 RENAME TO billing_daily;
CREATE INDEX billing_by_date ON billing_daily(date);

CREATE TABLE billing_parts_0020 (
  run_id            TEXT NOT NULL,
  campaign_id       TEXT NOT NULL,
  date              TEXT NOT NULL,
  part              INTEGER NOT NULL,
  country           TEXT NOT NULL,
  device_type       TEXT NOT NULL,
  ad_group_id       TEXT NOT NULL DEFAULT '',
  clicks            INTEGER NOT NULL,
  cost_micros       INTEGER NOT NULL,
  suspicious_clicks INTEGER NOT NULL,
  duplicates        INTEGER NOT NULL,
  invalid_clicks    INTEGER NOT NULL,
  unique_users      INTEGER NOT NULL,
  late_events       INTEGER NOT NULL,
  event_id_repeats  INTEGER NOT NULL,
  over_budget_clicks INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, date, run_id, part, country, device_type, ad_group_id)
);
INSERT INTO billing_parts_0020
  (run_id, campaign_id, date, part, country, device_type, ad_group_id, clicks, cost_micros, suspicious_clicks, duplicates,
   invalid_clicks, unique_users, late_events, event_id_repeats, over_budget_clicks)
SELECT run_id, campaign_id, date, part, country, device_type, '', clicks, cost_micros, suspicious_clicks, duplicates,
  invalid_clicks, unique_users, late_events, event_id_repeats, over_budget_clicks
FROM billing_parts;
DROP TABLE billing_parts;
ALTER TABLE billing_parts_0020 RENAME TO billing_parts;

CREATE TABLE billing_restatements_0020 (
  restatement_id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id         TEXT NOT NULL,
  campaign_id    TEXT NOT NULL,
  date           TEXT NOT NULL,
  country        TEXT NOT NULL,
  device_type    TEXT NOT NULL,
  ad_group_id    TEXT NOT NULL DEFAULT '',
  old_values     TEXT,
  new_values     TEXT,
  cause          TEXT NOT NULL,
  recorded_at    INTEGER NOT NULL,
  UNIQUE (run_id, campaign_id, date, country, device_type, ad_group_id)
);
-- Ids are kept: clients may have seen them.
INSERT INTO billing_restatements_0020
  (restatement_id, run_id, campaign_id, date, country, device_type, ad_group_id, old_values, new_values, cause, recorded_at)
SELECT restatement_id, run_id, campaign_id, date, country, device_type, '', old_values, new_values, cause, recorded_at
FROM billing_restatements;
DROP TABLE billing_restatements;
ALTER TABLE billing_restatements_0020 RENAME TO billing_restatements;
CREATE INDEX restatements_by_campaign ON billing_restatements(campaign_id, date);
