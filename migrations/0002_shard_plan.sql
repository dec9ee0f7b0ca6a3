-- Hot campaigns: how many Durable Object shards count the campaign, over time: JSON [[from_ms, shards], …].
-- NULL means `shards` from creation on.
ALTER TABLE campaigns ADD COLUMN shard_plan TEXT;
