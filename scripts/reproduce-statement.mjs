// Reproduces a billing statement (GET /v1/statements) from the archive files it lists, with DuckDB:
//   node scripts/reproduce-statement.mjs statement.json DIR
// DIR holds the files under their keys (DIR/raw/year=…/….parquet; `npm run archive -- export DIR` writes them as
// DIR/<bucket>/raw/…, and either layout is found). It checks the statement's fingerprint, each file's size and
// SHA-256, then runs docs/reproduce-billing.sql over exactly those files, in the statement's time zone, and compares every row. Exit 1 on any difference.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BUCKET_DIRS = { main: "edgeclick-archive", eu: "edgeclick-archive-eu" };

function fileOf(dir, f) {
  for (const p of [join(dir, f.key), join(dir, BUCKET_DIRS[f.bucket], f.key)]) if (existsSync(p)) return p;
  return null;
}

/** Checks and recomputes; returns { problems: [...], rows } (rows as DuckDB computed them). */
export async function reproduceStatement(statement, dir) {
  const problems = [];
  const { campaign_id, month, rows, files } = statement;
  // Statements from before time zones have none: their days are UTC and their fingerprint does not name one.
  const time_zone = statement.time_zone ?? "UTC";
  const fingerprinted =
    statement.time_zone === undefined ? { campaign_id, month, rows, files } : { campaign_id, month, time_zone, rows, files };
  const fingerprint = createHash("sha256").update(JSON.stringify(fingerprinted)).digest("hex");
  if (fingerprint !== statement.sha256)
    problems.push(`fingerprint: statement says ${statement.sha256}, its contents hash to ${fingerprint}`);
  const paths = [];
  for (const f of files) {
    const path = fileOf(dir, f);
    if (!path) {
      problems.push(`missing: ${f.key}`);
      continue;
    }
    const bytes = readFileSync(path);
    const size = statSync(path).size === f.size;
    const sha = createHash("sha256").update(bytes).digest("hex") === f.sha256;
    if (!size) problems.push(`size: ${f.key}`);
    if (!sha) problems.push(`sha256: ${f.key}`);
    // Only verified files are read: a changed file proves nothing about the statement.
    if (size && sha) paths.push(path);
  }
  if (!paths.length) return { problems: [...problems, "no files"], rows: [] };
  const list = `[${paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(", ")}]`;
  const quote = (v) => `'${String(v).replaceAll("'", "''")}'`;
  const sql = readFileSync(join(ROOT, "docs/reproduce-billing.sql"), "utf8")
    .replace("'ARCHIVE/raw/**/*.parquet'", list)
    .replace("VALUES ('', 'UTC')", `VALUES (${quote(campaign_id)}, ${quote(time_zone)})`);
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    const computed = (await conn.runAndReadAll(sql))
      .getRowObjectsJS()
      .filter((r) => r.campaign_id === campaign_id && String(r.date).startsWith(month))
      .map((r) => ({
        date: r.date,
        country: r.country,
        device_type: r.device_type,
        ad_group_id: r.ad_group_id ?? null,
        clicks: Number(r.clicks),
        cost: Number(r.cost),
        invalid_clicks: Number(r.invalid_clicks),
        suspicious_clicks: Number(r.suspicious_clicks),
        duplicates: Number(r.duplicates),
        late_events: Number(r.late_events),
        event_id_repeats: Number(r.event_id_repeats),
        over_budget_clicks: Number(r.over_budget_clicks),
        unique_users: Number(r.unique_users),
      }));
    const billed = rows.map(({ status: _s, archived_through: _a, ...r }) => r);
    if (JSON.stringify(computed) !== JSON.stringify(billed)) {
      problems.push(`rows differ:\n  statement ${JSON.stringify(billed)}\n  archive   ${JSON.stringify(computed)}`);
    }
    return { problems, rows: computed };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [statementPath, dir] = process.argv.slice(2);
  if (!statementPath || !dir) {
    console.error("usage: node scripts/reproduce-statement.mjs statement.json DIR");
    process.exit(2);
  }
  const { problems, rows } = await reproduceStatement(JSON.parse(readFileSync(statementPath, "utf8")), resolve(dir));
  for (const p of problems) console.error(p);
  console.log(problems.length ? "NOT reproduced" : `reproduced: ${rows.length} rows, every file verified`);
  process.exit(problems.length ? 1 : 0);
}
