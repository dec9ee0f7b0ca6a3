-- Attribution (issue 12): click ids, A/B variants, ad groups and the attribution window.
CREATE TABLE ad_groups (
  ad_group_id   TEXT PRIMARY KEY,
  campaign_id   TEXT NOT NULL REFERENCES campaigns(campaign_id),
  advertiser_id TEXT NOT NULL REFERENCES advertisers(advertiser_id),
  name          TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE INDEX ad_groups_by_campaign ON ad_groups(campaign_id);

-- The query parameter that carries an ad's click id to its landing page; NULL: no click id in the redirect.
-- Ads that existed before get the default, like every new ad that does not say otherwise.
ALTER TABLE ads ADD COLUMN click_id_param TEXT DEFAULT 'ec_click_id';
-- A/B variants as JSON [{name, landing_url, weight}, …]; NULL: one landing page (landing_url).
ALTER TABLE ads ADD COLUMN variants TEXT;
-- The ad group of the same campaign the ad belongs to (NULL: none).
ALTER TABLE ads ADD COLUMN ad_group_id TEXT REFERENCES ad_groups(ad_group_id);
-- How long after a click a conversion is attributed to it (NULL: 30 days).
ALTER TABLE campaigns ADD COLUMN attribution_window_days INTEGER;
