-- Where an advertiser's data lives (NULL: anywhere). Campaigns copy it at creation, so every reader of a
-- campaign knows where its Durable Objects are without another query.
ALTER TABLE advertisers ADD COLUMN jurisdiction TEXT CHECK (jurisdiction IN ('eu'));
ALTER TABLE campaigns ADD COLUMN jurisdiction TEXT CHECK (jurisdiction IN ('eu'));
