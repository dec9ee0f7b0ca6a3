-- Real-time event_id dedup is scoped to the event's minute; billing also takes back repeats of an
-- event_id from other minutes of the same day, and counts them here (reconciliation shows them).
ALTER TABLE billing_daily ADD COLUMN event_id_repeats INTEGER NOT NULL DEFAULT 0;
