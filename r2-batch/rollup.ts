/** The billing rollup: every archived event of a UTC date, into D1 rows, replacing that date's rows. */
import { BILLING_COLUMNS, BILLING_COUNTS, BillingAccumulator, billingStatus, type RollupResult } from "../domain/billing";
import { decodeArchive } from "../domain/parquet";
import { DIRTY_PREFIX, dayPrefix } from "../domain/archive-layout";
import { insertRows } from "../domain/sql";
import { DAY, utcDate } from "../domain/time";

const PARALLEL_READS = 6;
const COLUMNS = ["campaign_id", "date", "country", "device_type", ...BILLING_COUNTS, "status", "computed_at"];

async function listKeys(bucket: R2Bucket, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

/** Reads the date's archive and rewrites its billing rows in one D1 transaction. Re-running yields the same rows. */
export async function rollupDate(
  env: { ARCHIVE: R2Bucket; ARCHIVE_EU: R2Bucket; DB: D1Database },
  date: string,
  now = Date.now(),
): Promise<RollupResult> {
  // Both jurisdictions' archives: billing rows are aggregates, with no event-level data in them.
  const keys: { bucket: R2Bucket; key: string }[] = [];
  for (const bucket of [env.ARCHIVE, env.ARCHIVE_EU]) {
    for (const key of await listKeys(bucket, dayPrefix(date))) if (key.endsWith(".parquet")) keys.push({ bucket, key });
  }
  const acc = new BillingAccumulator();
  for (let i = 0; i < keys.length; i += PARALLEL_READS) {
    const files = await Promise.all(
      keys.slice(i, i + PARALLEL_READS).map(async ({ bucket, key }) => {
        const obj = await bucket.get(key);
        return obj ? decodeArchive(await obj.arrayBuffer(), BILLING_COLUMNS) : [];
      }),
    );
    for (const rows of files) for (const row of rows) if (utcDate(row.timestamp) === date) acc.add(row);
  }
  const rows = acc.rows();
  const status = billingStatus(date, now);
  const values = rows.map((r) => [r.campaign_id, r.date, r.country, r.device_type, ...BILLING_COUNTS.map((k) => r[k]), status, now]);
  const statements: D1PreparedStatement[] = [
    env.DB.prepare("DELETE FROM billing_daily WHERE date = ?").bind(date),
    ...insertRows("billing_daily", COLUMNS, values).map((s) => env.DB.prepare(s.sql).bind(...s.params)),
  ];
  statements.push(
    env.DB.prepare("INSERT OR REPLACE INTO rollup_runs (date, files, events, rows, computed_at) VALUES (?, ?, ?, ?, ?)").bind(
      date,
      keys.length,
      acc.events,
      rows.length,
      now,
    ),
  );
  const results = await env.DB.batch(statements);
  const rows_written = results.reduce((n, r) => n + (r.meta?.rows_written ?? 0), 0);
  return { date, files: keys.length, events: acc.events, rows: rows.length, rows_written };
}

/** Dates a rollup covers by default: today and yesterday (UTC), plus older dates that received late events. */
export async function datesToRoll(bucket: R2Bucket, now = Date.now()): Promise<Map<string, string[]>> {
  const dates = new Map<string, string[]>([
    [utcDate(now - DAY), []],
    [utcDate(now), []],
  ]);
  for (const key of await listKeys(bucket, DIRTY_PREFIX)) {
    const date = key.slice(DIRTY_PREFIX.length, DIRTY_PREFIX.length + 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) continue;
    dates.set(date, [...(dates.get(date) ?? []), key]);
  }
  return new Map([...dates].sort(([a], [b]) => a.localeCompare(b)));
}
