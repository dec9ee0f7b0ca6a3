-- Recalculation and batch fraud review (issue 11, items 5 and 6; r2-batch/recalculate.ts, r2-batch/fraud.ts).
-- A recalculation re-judges a range of archived events with the current rules and blocklist. Its re-judged verdicts
-- (only those that differ) wait in R2 until it is applied; its shadow billing rows wait here, one row per
-- campaign-date (the rows as JSON, so they follow billing's grouping whatever it is).
CREATE TABLE recalculations (
  recalculation_id  TEXT PRIMARY KEY,
  cause             TEXT NOT NULL,
  date_from         TEXT NOT NULL,
  date_to           TEXT NOT NULL,
  campaign_id       TEXT,
  finding_id        TEXT,
  blocklist_version INTEGER NOT NULL,
  status            TEXT NOT NULL,
  events            INTEGER NOT NULL,
  changed           INTEGER NOT NULL,
  created_at        INTEGER NOT NULL,
  applied_at        INTEGER
);

CREATE TABLE recalculation_parts (
  recalculation_id TEXT NOT NULL,
  campaign_id      TEXT NOT NULL,
  date             TEXT NOT NULL,
  eu               INTEGER NOT NULL,
  events           INTEGER NOT NULL,
  changed          INTEGER NOT NULL,
  rows             TEXT NOT NULL,
  PRIMARY KEY (recalculation_id, campaign_id, date)
);

-- What batch fraud review found, with its evidence; applying one runs a recalculation (cause fraud_review).
CREATE TABLE fraud_findings (
  finding_id       TEXT PRIMARY KEY,
  kind             TEXT NOT NULL,
  subject          TEXT NOT NULL,
  window_start     INTEGER NOT NULL,
  window_end       INTEGER NOT NULL,
  evidence         TEXT NOT NULL,
  status           TEXT NOT NULL,
  recalculation_id TEXT,
  found_at         INTEGER NOT NULL,
  UNIQUE (kind, subject, window_start)
);
