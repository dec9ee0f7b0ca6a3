/**
 * `npm run archive`: the local archive (hash-named blobs inside R2's local storage) exported as plain
 * Parquet files that DuckDB reads, every archived event once.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { exportArchive } from "../../scripts/archive.mjs";
import { BROWSER, archiveBucket, removeDir, seed, startTestStack, waitFor, type TestStack } from "./harness";

const dirs: string[] = [];
let stack: TestStack | null = null;

afterAll(async () => {
  await stack?.close();
  for (const d of dirs) removeDir(d);
});

describe("npm run archive", () => {
  it("exports the local archive as Parquet files DuckDB reads, every event once", async () => {
    stack = await startTestStack();
    dirs.push(stack.persistTo, stack.buildDir);
    const ad = await seed(stack, "Exported");
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${ad.click_url}&user_id=x${i}`, {
        redirect: "manual",
        headers: { "User-Agent": BROWSER, "CF-Connecting-IP": `198.51.100.${i}` },
      });
      expect(r.status).toBe(302);
    }
    const bucket = await archiveBucket(stack);
    await waitFor(
      "archived",
      async () => (await bucket.list({ prefix: "raw/" })).objects.some((o) => o.key.includes(ad.campaign_id)),
      30_000,
    );
    await stack.close();
    stack = null;

    const out = mkdtempSync(join(tmpdir(), "edgeclick-export-"));
    dirs.push(out);
    expect(await exportArchive(dirs[0], out)).toBeGreaterThan(0);
    const db = await DuckDBInstance.create(":memory:");
    const conn = await db.connect();
    const rows = (
      await conn.runAndReadAll(
        `SELECT user_id FROM read_parquet('${out}/*/raw/**/*.parquet', hive_partitioning = false, union_by_name = true) WHERE campaign_id = '${ad.campaign_id}' ORDER BY user_id`,
      )
    ).getRowObjectsJS();
    conn.closeSync();
    db.closeSync();
    expect(rows.map((r) => r.user_id)).toEqual(["x0", "x1", "x2"]);
  });
});
