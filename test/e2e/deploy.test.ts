/** Every Worker bundles for deployment offline (`wrangler deploy --dry-run`), with the bindings it needs. */
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { removeDir } from "./harness";
import { WORKERS } from "../../scripts/workers.mjs";
import { LIMIT_PERIOD_S } from "../../domain/limits";

const run = promisify(execFile);

const expected: Record<string, string[]> = {
  "edgeclick-ingest": ["env.CAMPAIGN (CampaignCounter)", "env.EVENTS (edgeclick-events)", "env.DB (edgeclick)"],
  "edgeclick-query": ["env.CAMPAIGN (CampaignCounter, defined in edgeclick-ingest)", "env.DB (edgeclick)", "env.BATCH (edgeclick-batch)"],
  "edgeclick-aggregator": ["env.ARCHIVE (edgeclick-archive)", "env.ARCHIVE_EU (edgeclick-archive-eu (eu))"],
  "edgeclick-batch": ["env.ARCHIVE (edgeclick-archive)", "env.ARCHIVE_EU (edgeclick-archive-eu (eu))", "env.DB (edgeclick)"],
};

// Files a bundle carries beside index.js: the query Worker's pages, as text modules (workers/query/pages).
const modules: Record<string, string[]> = {
  "edgeclick-query": ["common.js", "dashboard.html", "dashboard.css", "dashboard.js", "ops.html", "ops.css", "ops.js"].map((f) => `pages/${f}`),
};

describe("configuration", () => {
  it("gives every edge rate limit the period the code and the 429's Retry-After assume", () => {
    const toml = readFileSync(join(import.meta.dirname, "../../wrangler.toml"), "utf8");
    const periods = [...toml.matchAll(/simple = \{ limit = \d+, period = (\d+) \}/g)].map((m) => Number(m[1]));
    expect(periods.length).toBeGreaterThan(0);
    for (const p of periods) expect(p).toBe(LIMIT_PERIOD_S);
  });
});

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
      for (const m of modules[name] ?? []) expect(readFileSync(join(out, m), "utf8"), m).toBe(readFileSync(join("workers/query", m), "utf8"));
    } finally {
      removeDir(out);
    }
  });
});
