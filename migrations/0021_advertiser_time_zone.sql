-- Advertiser time zones (issue 11): an IANA name (canonical spelling, checked with Intl when set); local hours and days
-- of real-time metrics start in it (tz=). Existing advertisers are UTC, so their answers do not change.
ALTER TABLE advertisers ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
