-- Billing in the advertiser's time zone (issue 11 item 8): each billing row says the zone its date is a local date of.
-- Every existing row was computed in UTC, and UTC advertisers' rows stay what they were.
ALTER TABLE billing_daily ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
