/** Every Worker bundles for deployment offline (`wrangler deploy --dry-run`), with the bindings it needs. */
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { removeDir } from "./harness";
import { WORKERS } from "../../scripts/workers.mjs";

const run = promisify(execFile);

const expected: Record<string, string[]> = {
  "edgeclick-ingest": ["env.CAMPAIGN (CampaignCounter)", "env.EVENTS (edgeclick-events)", "env.DB (edgeclick)"],
  "edgeclick-query": ["env.CAMPAIGN (CampaignCounter, defined in edgeclick-ingest)", "env.DB (edgeclick)", "env.BATCH (edgeclick-batch)"],
  "edgeclick-aggregator": ["env.ARCHIVE (edgeclick-archive)"],
  "edgeclick-batch": ["env.ARCHIVE (edgeclick-archive)", "env.DB (edgeclick)"],
};

describe("wrangler deploy --dry-run", () => {
  it.each(WORKERS as { name: string; config: string }[])("bundles $name", async ({ name, config }) => {
    const out = mkdtempSync(join(tmpdir(), "edgeclick-dry-run-"));
    try {
      const { stdout } = await run(process.execPath, ["node_modules/wrangler/bin/wrangler.js", "deploy", "--dry-run", "--outdir", out, "-c", config], {
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "true" },
        maxBuffer: 16 << 20,
      });
      expect(stdout).toContain("--dry-run: exiting now.");
      for (const line of expected[name]) expect(stdout).toContain(line);
      expect(existsSync(join(out, "index.js"))).toBe(true);
      expect(statSync(join(out, "index.js")).size).toBeGreaterThan(1000);
    } finally {
      removeDir(out);
    }
  });
});
