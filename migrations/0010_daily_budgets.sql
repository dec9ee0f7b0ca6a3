-- Daily budgets (issue 13): a campaign's budget per UTC day in millionths of the currency unit (NULL: none), and the
-- clicks billing leaves unbilled because the day's budget was spent when they came (verdict over_budget).
ALTER TABLE campaigns ADD COLUMN daily_budget_micros INTEGER;
ALTER TABLE billing_daily ADD COLUMN over_budget_clicks INTEGER NOT NULL DEFAULT 0;
