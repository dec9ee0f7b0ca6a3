-- API keys in their own table, so an account can hold several (issue a second, revoke the first, no downtime).
-- Each key belongs to exactly one advertiser or one publisher; only its SHA-256 is stored.
CREATE TABLE api_keys (
  key_id        TEXT PRIMARY KEY,
  key_hash      TEXT NOT NULL UNIQUE,
  advertiser_id TEXT REFERENCES advertisers(advertiser_id),
  publisher_id  TEXT REFERENCES publishers(publisher_id),
  created_at    INTEGER NOT NULL,
  -- Written at most once per key per LAST_USED_WRITE_MS per isolate (domain/registry.ts), so not exact.
  last_used_at  INTEGER,
  CHECK ((advertiser_id IS NULL) <> (publisher_id IS NULL))
);
CREATE INDEX api_keys_by_advertiser ON api_keys(advertiser_id) WHERE advertiser_id IS NOT NULL;
CREATE INDEX api_keys_by_publisher ON api_keys(publisher_id) WHERE publisher_id IS NOT NULL;

-- Every existing key moves in and keeps working. The old columns stay as they are: the previous release's
-- Workers still read them while a deploy rolls out; from this release on, authentication reads api_keys only.
-- Only accounts without a key yet: every account keeps at least one, so running this again changes nothing
-- (and never brings back a key revoked since).
INSERT INTO api_keys (key_id, key_hash, advertiser_id, publisher_id, created_at)
  SELECT 'key_' || lower(hex(randomblob(10))), a.api_key_hash, a.advertiser_id, NULL, a.created_at FROM advertisers a
  WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.advertiser_id = a.advertiser_id);
INSERT INTO api_keys (key_id, key_hash, advertiser_id, publisher_id, created_at)
  SELECT 'key_' || lower(hex(randomblob(10))), p.api_key_hash, NULL, p.publisher_id, p.created_at FROM publishers p
  WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.publisher_id = p.publisher_id);
