// `npm run archive -- export DIR` copies the local stack's Parquet archive (both buckets' raw/) into DIR as
// plain files; `npm run archive -- sql "SELECT …"` runs DuckDB over it, with the view `archive` holding
// every archived event. Locally R2 keeps its objects as hash-named blobs, so neither DuckDB nor wrangler
// can read the archive in place; this reads it through the Workers runtime's own R2, from the same state
// directory `npm start` uses (EDGECLICK_STATE, default .wrangler/state).
import { pathToFileURL } from "node:url";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import { ROOT } from "./stack.mjs";

const BUCKETS = { ARCHIVE: "edgeclick-archive", ARCHIVE_EU: "edgeclick-archive-eu" };

function usage(message) {
  console.error(
    `${message ? `${message}\n` : ""}usage: npm run archive -- export DIR\n       npm run archive -- sql "SELECT count(*) FROM archive"`,
  );
  process.exit(2);
}

/** Copies every raw/ object of both archive buckets under `dir/<bucket>/raw/…`. Returns the files written. */
export async function exportArchive(state, dir) {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      log: new Log(LogLevel.WARN),
      // No fetch of a real `request.cf` (no internet needed to read files).
      cf: false,
      resourcePersistencePath: join(state, "v3"),
      workers: [
        {
          name: "archive-reader",
          modules: true,
          script: "export default { fetch() { return new Response(null, { status: 404 }); } };",
          r2Buckets: BUCKETS,
        },
      ],
    }),
  );
  let files = 0;
  try {
    for (const [binding, name] of Object.entries(BUCKETS)) {
      const bucket = await mf.getR2Bucket(binding);
      let cursor;
      do {
        const page = await bucket.list({ prefix: "raw/", cursor });
        for (const o of page.objects) {
          const path = join(dir, name, o.key);
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, Buffer.from(await (await bucket.get(o.key)).arrayBuffer()));
          files++;
        }
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
    }
  } finally {
    await mf.dispose();
  }
  return files;
}

if (import.meta.url === pathToFileURL(realpathSync(process.argv[1] ?? ".")).href) {
  const [command, argument] = process.argv.slice(2);
  const state = resolve(process.env.EDGECLICK_STATE ?? join(ROOT, ".wrangler/state"));
  if (command === "export") {
    if (!argument) usage("export needs a directory");
    const dir = resolve(argument);
    const n = await exportArchive(state, dir);
    console.log(
      `${n} Parquet files from ${state} into ${dir}\nRead them with DuckDB: SELECT * FROM read_parquet('${dir}/*/raw/**/*.parquet', hive_partitioning = false, union_by_name = true);`,
    );
  } else if (command === "sql") {
    if (!argument) usage("sql needs a query");
    const dir = mkdtempSync(join(tmpdir(), "edgeclick-archive-"));
    try {
      const n = await exportArchive(state, dir);
      const { DuckDBInstance } = await import("@duckdb/node-api");
      const db = await DuckDBInstance.create(":memory:");
      const conn = await db.connect();
      await conn.run(
        n === 0
          ? "CREATE VIEW archive AS SELECT NULL AS event_id WHERE false"
          : `CREATE VIEW archive AS SELECT * FROM read_parquet('${dir}/*/raw/**/*.parquet', hive_partitioning = false, union_by_name = true)`,
      );
      const rows = (await conn.runAndReadAll(argument)).getRowObjectsJson();
      console.table(rows);
      conn.closeSync();
      db.closeSync();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else usage();
}
