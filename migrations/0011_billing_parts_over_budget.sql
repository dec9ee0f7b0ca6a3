-- Rollup jobs write their partial rows with every billing count (domain/billing.ts BILLING_COUNTS), over-budget
-- clicks included (0010 added them to billing_daily).
ALTER TABLE billing_parts ADD COLUMN over_budget_clicks INTEGER NOT NULL DEFAULT 0;
