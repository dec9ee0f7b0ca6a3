/**
 * Every Worker bundles for deployment offline (`wrangler deploy --dry-run`), with the bindings it needs; `npm run deploy`
 * plans the right commands from the configs and creates only what an account lacks.
 */
import { describe, expect, it } from "vitest";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { experimental_readRawConfig, unstable_readConfig } from "wrangler";
import { removeDir } from "./harness";
import { DEPLOY_ORDER, WORKERS } from "../../scripts/workers.mjs";
import {
  bucketMissing,
  command,
  deployedUrl,
  describeWorker,
  parseD1List,
  parseQueueTable,
  parseSecretList,
  planDeploy,
  secretsFile,
  secretsHelp,
  validate,
  workerMissing,
} from "../../scripts/deploy-plan.mjs";
import { LIMIT_PERIOD_S } from "../../domain/limits";

type WorkerEntry = { id: string; name: string; config: string; primary?: boolean };
type ConfigView = {
  d1_databases: { database_name: string }[];
  r2_buckets: { bucket_name: string; jurisdiction?: string }[];
  queues: { producers?: { queue: string }[]; consumers?: { queue: string; dead_letter_queue?: string }[] };
};
type Step = {
  kind: string;
  argv?: string[];
  worker: string;
  givesUrl: boolean;
  d1: Record<string, string | null>;
  secretFiles: { worker: string; path: string; names: string[] }[];
};
type Plan = { steps: Step[]; problems: string[]; resources: { d1: { name: string; exists: boolean }[] }; secrets: unknown[] };
/** The plan builder is JavaScript; this gives its answer the shape the tests read. */
const plan = (input: Record<string, unknown>) => planDeploy(input as never) as unknown as Plan;
const run = promisify(execFile);

const expected: Record<string, string[]> = {
  "edgeclick-ingest": ["env.CAMPAIGN (CampaignCounter)", "env.EVENTS (edgeclick-events)", "env.DB (edgeclick)"],
  "edgeclick-query": ["env.CAMPAIGN (CampaignCounter, defined in edgeclick-ingest)", "env.DB (edgeclick)", "env.BATCH (edgeclick-batch)"],
  "edgeclick-aggregator": ["env.ARCHIVE (edgeclick-archive)", "env.ARCHIVE_EU (edgeclick-archive-eu (eu))"],
  "edgeclick-batch": ["env.ARCHIVE (edgeclick-archive)", "env.ARCHIVE_EU (edgeclick-archive-eu (eu))", "env.DB (edgeclick)"],
};

// Files a bundle carries beside index.js: the query Worker's pages, as text modules (workers/query/pages).
const modules: Record<string, string[]> = {
  "edgeclick-query": ["common.js", "dashboard.html", "dashboard.css", "dashboard.js", "ops.html", "ops.css", "ops.js"].map(
    (f) => `pages/${f}`,
  ),
};

describe("configuration", () => {
  it("gives the /click rate limit the period the code assumes", () => {
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
      const { stdout } = await run(
        process.execPath,
        ["node_modules/wrangler/bin/wrangler.js", "deploy", "--dry-run", "--outdir", out, "-c", config],
        {
          env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "true" },
          maxBuffer: 16 << 20,
        },
      );
      expect(stdout).toContain("--dry-run: exiting now.");
      for (const line of expected[name]) expect(stdout).toContain(line);
      expect(existsSync(join(out, "index.js"))).toBe(true);
      expect(statSync(join(out, "index.js")).size).toBeGreaterThan(1000);
      for (const m of modules[name] ?? [])
        expect(readFileSync(join(out, m), "utf8"), m).toBe(readFileSync(join("workers/query", m), "utf8"));
    } finally {
      removeDir(out);
    }
  });
});

// `npm run deploy`: the plan from the configs, and a dry run that needs no account and no network.
const ROOT = join(import.meta.dirname, "../..");
const configs = (WORKERS as WorkerEntry[]).map((w) => ({ w, raw: experimental_readRawConfig({ config: join(ROOT, w.config) }).rawConfig }));
const described = configs.map(({ w, raw }) => describeWorker(w, raw, ROOT));

/** What the configs name, read here through wrangler itself rather than through the deploy script. */
function namedInConfigs() {
  const all = (WORKERS as WorkerEntry[]).map((w) => unstable_readConfig({ config: join(ROOT, w.config) }) as unknown as ConfigView);
  const uniq = <T>(xs: T[]) => [...new Set(xs)];
  return {
    d1: uniq(all.flatMap((c) => c.d1_databases.map((d) => d.database_name as string))),
    r2: uniq(all.flatMap((c) => c.r2_buckets.map((b) => `${b.bucket_name}${b.jurisdiction ? ` --jurisdiction ${b.jurisdiction}` : ""}`))),
    queues: uniq(
      all.flatMap((c) => [
        ...(c.queues.producers ?? []).map((p) => p.queue),
        ...(c.queues.consumers ?? []).flatMap((q) => [q.queue, ...(q.dead_letter_queue ? [q.dead_letter_queue] : [])]),
      ]),
    ),
  };
}

/** An environment with nothing of this machine's: no Cloudflare credentials, no wrangler login, no secrets. */
function bareEnv(home: string, extra: Record<string, string> = {}) {
  return { PATH: process.env.PATH ?? "", HOME: home, XDG_CONFIG_HOME: home, CI: "true", WRANGLER_SEND_METRICS: "false", ...extra };
}

// Where the system allows it, the script runs in a network namespace of its own: no network at all.
const offline = spawnSync("unshare", ["-n", "true"]).status === 0;
function runDeploy(args: string[], env: Record<string, string>) {
  const argv = [process.execPath, join(ROOT, "scripts/deploy.mjs"), ...args];
  const [cmd, ...rest] = offline ? ["unshare", "-n", ...argv] : argv;
  return spawnSync(cmd, rest, { cwd: ROOT, env, encoding: "utf8", maxBuffer: 16 << 20, timeout: 120_000 });
}

describe("npm run deploy -- --dry-run", () => {
  it("checks the configs, prints every command in order, and bundles the four Workers offline", () => {
    const out = mkdtempSync(join(tmpdir(), "edgeclick-deploy-dry-run-"));
    const home = mkdtempSync(join(tmpdir(), "edgeclick-deploy-home-"));
    try {
      const r = runDeploy(["--dry-run", "--outdir", out], bareEnv(home, { IP_HASH_KEY: "a-value-that-must-never-reach-a-file" }));
      expect(r.status, r.stderr).toBe(0);
      const text = r.stdout;
      const at = (s: string) => {
        const i = text.indexOf(s);
        expect(i, `missing from the plan: ${s}`).toBeGreaterThanOrEqual(0);
        return i;
      };

      // Every resource the configs name is created (a dry run knows of none), and only those.
      const named = namedInConfigs();
      expect(named.r2).toContain("edgeclick-archive-eu --jurisdiction eu");
      expect(named.queues).toContain("edgeclick-events-dlq");
      // The rollup's queue and its dead-letter queue come from the batch Worker's config like the others.
      expect(named.queues).toEqual(expect.arrayContaining(["edgeclick-rollup", "edgeclick-rollup-dlq"]));
      const creates = [
        ...named.d1.map((n) => `npx wrangler d1 create ${n}`),
        ...named.r2.map((b) => `npx wrangler r2 bucket create ${b}`),
        ...named.queues.map((q) => `npx wrangler queues create ${q}`),
      ];
      const lastCreate = Math.max(...creates.map(at));
      expect(text.match(/npx wrangler (d1|r2 bucket|queues) create /g)).toHaveLength(creates.length);

      // The new database's id comes from a second listing.
      expect(text.indexOf("npx wrangler d1 list --json", at("npx wrangler d1 create edgeclick"))).toBeGreaterThan(0);

      // Then the migrations, then the four Workers in order, the query Worker with the ingest Worker's URL.
      const migrate = at("npx wrangler d1 migrations apply edgeclick --remote -c ");
      // (The plan names the configs a real run writes; the dry run bundles from copies next to the bundles.)
      const deploys = DEPLOY_ORDER.map((id: string) => at(`npx wrangler deploy -c .wrangler/edgeclick-deploy/${id}/wrangler.json`));
      expect(DEPLOY_ORDER).toEqual(["ingest", "batch", "aggregator", "query"]);
      expect(lastCreate).toBeLessThan(migrate);
      expect(migrate).toBeLessThan(deploys[0]);
      expect(deploys).toEqual([...deploys].sort((a, b) => a - b));
      const planLines = text.split("\n").filter((l) => / deploy {3}npx wrangler deploy /.test(l));
      expect(planLines).toHaveLength(4);
      expect(planLines.filter((l) => l.includes("INGEST_BASE_URL"))).toEqual([expect.stringContaining("/query/wrangler.json")]);
      expect(planLines[3]).toContain("--var 'INGEST_BASE_URL:<ingest URL>'");
      expect(planLines[0]).toContain("→ <ingest URL>");

      // Bundles and the configs they came from, next to each other; the query bundle got the var.
      for (const id of DEPLOY_ORDER) {
        expect(statSync(join(out, id, "index.js")).size).toBeGreaterThan(1000);
        const config = JSON.parse(readFileSync(join(out, id, "wrangler.json"), "utf8"));
        expect(existsSync(config.main)).toBe(true);
        for (const d of config.d1_databases ?? []) expect(d.migrations_dir).toBe(join(ROOT, "migrations"));
      }
      expect(text.indexOf('env.INGEST_BASE_URL ("(hidden)")')).toBeGreaterThan(text.lastIndexOf("--dry-run --outdir"));

      // A secret given in the environment goes to wrangler by reference: its value is in no file.
      for (const id of ["ingest", "query"]) {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: wrangler's own reference syntax, literally
        expect(readFileSync(join(out, id, "secrets.env"), "utf8")).toBe("IP_HASH_KEY=${IP_HASH_KEY}\n");
        expect(planLines.find((l) => l.includes(`/${id}/`))).toContain(`--secrets-file .wrangler/edgeclick-deploy/${id}/secrets.env`);
      }
      expect(text).toContain("IP_HASH_KEY from env · CLICK_SIGNING_KEYS to check");
      expect(text).toContain('env.IP_HASH_KEY ("(hidden)")');
      const files = readdirSync(out, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
      for (const f of files) expect(readFileSync(join(f.parentPath, f.name), "utf8")).not.toContain("a-value-that-must-never-reach-a-file");
    } finally {
      removeDir(out);
      removeDir(home);
    }
  });

  it("stops at the first step, non-zero and saying why, when wrangler is not logged in (nothing created)", () => {
    const home = mkdtempSync(join(tmpdir(), "edgeclick-deploy-home-"));
    try {
      const r = runDeploy([], bareEnv(home));
      expect(r.status).toBe(1);
      expect(r.stdout).toContain("1/6 list     npx wrangler d1 list --json");
      expect(r.stdout).not.toContain("2/6");
      expect(r.stderr).toContain("npx wrangler d1 list --json failed (exit 1)");
      expect(r.stderr).toContain("CLOUDFLARE_API_TOKEN");
      expect(r.stderr).toContain("Nothing was changed.");
    } finally {
      removeDir(home);
    }
  });
});

describe("npm run deploy against a stand-in wrangler (test/e2e/fake-wrangler.mjs)", () => {
  const uuid = "7d1f0c4e-1111-4222-8333-944455556666";
  function deployWith(account: Record<string, unknown>, env: Record<string, string> = {}) {
    const dir = mkdtempSync(join(tmpdir(), "edgeclick-deploy-fake-"));
    const files = { FAKE_ACCOUNT: join(dir, "account.json"), FAKE_LOG: join(dir, "calls.ndjson") };
    writeFileSync(files.FAKE_ACCOUNT, JSON.stringify({ d1: [], r2: [], queues: [], secrets: {}, deployed: [], ...account }));
    writeFileSync(files.FAKE_LOG, "");
    const stub = { EDGECLICK_WRANGLER: join(ROOT, "test/e2e/fake-wrangler.mjs"), EDGECLICK_DEPLOY_DIR: join(dir, "deploy") };
    const r = runDeploy([], bareEnv(dir, { ...files, ...stub, ...env }));
    const calls = readFileSync(files.FAKE_LOG, "utf8")
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as string[]).join(" "));
    const after = JSON.parse(readFileSync(files.FAKE_ACCOUNT, "utf8"));
    const generated = (id: string) => JSON.parse(readFileSync(join(dir, "deploy", id, "wrangler.json"), "utf8"));
    return { r, calls, after, generated, dir };
  }
  const secrets = { ADMIN_TOKEN: "t", IP_HASH_KEY: "k", CLICK_SIGNING_KEYS: "k1:s" };

  it("creates what is missing, gives the new database's id to the configs, and the ingest URL to the query Worker", () => {
    const { r, calls, after, generated, dir } = deployWith(
      {
        r2: [{ name: "edgeclick-archive", jurisdiction: null }],
        queues: ["edgeclick-events", "edgeclick-rollup", "edgeclick-rollup-dlq"],
      },
      secrets,
    );
    try {
      expect(r.status, r.stderr).toBe(0);
      expect(calls.filter((c) => / create /.test(c))).toEqual([
        "d1 create edgeclick",
        "r2 bucket create edgeclick-archive-eu --jurisdiction eu",
        "queues create edgeclick-events-dlq",
      ]);
      const newId = "9e3b1c2d-0000-4000-8000-00000000d1d1";
      expect(generated("query").d1_databases[0].database_id).toBe(newId);
      expect(after.deployed.map((d: { name: string }) => d.name)).toEqual([
        "edgeclick-ingest",
        "edgeclick-batch",
        "edgeclick-aggregator",
        "edgeclick-query",
      ]);
      expect(after.deployed.flatMap((d: { d1: string[] }) => d.d1)).toEqual([newId, newId, newId]);
      expect(after.deployed[3].argv).toContain("INGEST_BASE_URL:https://edgeclick-ingest.fake.workers.dev");
      expect(calls.indexOf(`d1 migrations apply edgeclick --remote -c ${join(dir, "deploy/ingest/wrangler.json")}`)).toBeLessThan(
        calls.findIndex((c) => c.startsWith("deploy ")),
      );
      expect(r.stdout).toContain("edgeclick deployed. Ingest (click links): https://edgeclick-ingest.fake.workers.dev");
    } finally {
      removeDir(dir);
    }
  });

  it("stops when a step fails: non-zero, says which, and runs nothing after it", () => {
    const all = {
      d1: [{ name: "edgeclick", uuid }],
      r2: [
        { name: "edgeclick-archive", jurisdiction: null },
        { name: "edgeclick-archive-eu", jurisdiction: "eu" },
      ],
      queues: ["edgeclick-events", "edgeclick-events-dlq", "edgeclick-rollup", "edgeclick-rollup-dlq"],
      fail: "aggregator/wrangler.json",
    };
    const { r, calls, after, dir } = deployWith(all, secrets);
    try {
      expect(r.status).toBe(1);
      expect(calls.filter((c) => / create /.test(c))).toEqual([]);
      expect(after.deployed.map((d: { name: string }) => d.name)).toEqual(["edgeclick-ingest", "edgeclick-batch"]);
      expect(r.stderr).toMatch(/✗ step \d+\/\d+ failed: npx wrangler deploy -c \S+aggregator\/wrangler.json .*failed \(exit 1\)/);
      expect(r.stderr).toContain("none after it ran");
    } finally {
      removeDir(dir);
    }
  });

  it("changes nothing when a secret is missing, and says which and how to give it", () => {
    const { r, calls, after, dir } = deployWith(
      { secrets: { "wrangler.toml": ["IP_HASH_KEY", "CLICK_SIGNING_KEYS"] } },
      { ADMIN_TOKEN: "t" },
    );
    try {
      expect(r.status).toBe(1);
      expect(calls.every((c) => / list|bucket info/.test(c))).toBe(true);
      expect(after.deployed).toEqual([]);
      expect(r.stderr).toContain("edgeclick-query (workers/query/wrangler.toml) lacks the secrets IP_HASH_KEY, CLICK_SIGNING_KEYS");
      expect(r.stderr).toContain("IP_HASH_KEY=… CLICK_SIGNING_KEYS=… npm run deploy");
    } finally {
      removeDir(dir);
    }
  });
});

describe("the deploy plan", () => {
  const order = DEPLOY_ORDER;
  const kinds = (steps: Step[]) => steps.map((s) => s.kind);
  const creates = (steps: Step[]) => steps.filter((s) => s.kind === "create").map((s) => command(s.argv ?? []));

  it("creates only what the account lacks (an EU bucket is not the same bucket outside the EU)", () => {
    const existing = {
      d1: [
        { name: "edgeclick", uuid: "7d1f0c4e-1111-4222-8333-944455556666" },
        { name: "other", uuid: "x" },
      ],
      r2: [
        { name: "edgeclick-archive", jurisdiction: null },
        { name: "edgeclick-archive-eu", jurisdiction: null },
      ],
      queues: ["edgeclick-events", "edgeclick-rollup", "edgeclick-rollup-dlq", "someone-elses-queue"],
      workers: { "edgeclick-ingest": { secrets: ["IP_HASH_KEY", "CLICK_SIGNING_KEYS"] } },
    };
    const env = { ADMIN_TOKEN: "t", IP_HASH_KEY: "k", CLICK_SIGNING_KEYS: "k1:s" };
    const p = plan({ workers: described, order, existing, env, workDir: ".wrangler/edgeclick-deploy" });
    expect(p.problems).toEqual([]);
    expect(creates(p.steps)).toEqual([
      "npx wrangler r2 bucket create edgeclick-archive-eu --jurisdiction eu",
      "npx wrangler queues create edgeclick-events-dlq",
    ]);
    // The database exists: no second listing, and the generated configs get its id.
    expect(kinds(p.steps)).toEqual(["create", "create", "write", "migrate", "check", "deploy", "deploy", "deploy", "deploy"]);
    const write = p.steps.find((s) => s.kind === "write");
    expect(write?.d1).toEqual({ edgeclick: "7d1f0c4e-1111-4222-8333-944455556666" });
    expect(p.steps.filter((s) => s.kind === "deploy").map((s) => s.worker)).toEqual([
      "edgeclick-ingest",
      "edgeclick-batch",
      "edgeclick-aggregator",
      "edgeclick-query",
    ]);
    expect(p.resources.d1[0]).toMatchObject({ name: "edgeclick", exists: true });
  });

  it("plans nothing to create when everything exists, and a new database's id comes from a second listing", () => {
    const all = {
      d1: [{ name: "edgeclick", uuid: "7d1f0c4e-1111-4222-8333-944455556666" }],
      r2: [
        { name: "edgeclick-archive", jurisdiction: null },
        { name: "edgeclick-archive-eu", jurisdiction: "eu" },
      ],
      queues: ["edgeclick-events", "edgeclick-events-dlq", "edgeclick-rollup", "edgeclick-rollup-dlq"],
      workers: {
        "edgeclick-ingest": { secrets: ["IP_HASH_KEY", "CLICK_SIGNING_KEYS"] },
        "edgeclick-query": { secrets: ["ADMIN_TOKEN", "IP_HASH_KEY", "CLICK_SIGNING_KEYS"] },
      },
    };
    const p = plan({ workers: described, order, existing: all, env: {}, workDir: "w" });
    expect(p.problems).toEqual([]);
    expect(creates(p.steps)).toEqual([]);
    expect(p.steps.some((s) => s.argv?.includes("--secrets-file"))).toBe(false);

    const fresh = plan({ workers: described, order, existing: { ...all, d1: [] }, env: {}, workDir: "w" });
    expect(creates(fresh.steps)).toEqual(["npx wrangler d1 create edgeclick"]);
    expect(kinds(fresh.steps).slice(0, 3)).toEqual(["create", "list", "write"]);
    expect(fresh.steps[1].argv).toEqual(["d1", "list", "--json"]);
    expect(fresh.steps[2].d1).toEqual({ edgeclick: null });
  });

  it("stops before changing anything when a secret is neither on the Worker nor in the environment, and says how to give it", () => {
    const existing = { d1: [], r2: [], queues: [], workers: { "edgeclick-ingest": { secrets: ["IP_HASH_KEY", "CLICK_SIGNING_KEYS"] } } };
    const p = plan({ workers: described, order, existing, env: { IP_HASH_KEY: "k" }, workDir: "w" });
    expect(p.problems).toEqual(["edgeclick-query (workers/query/wrangler.toml) lacks the secrets ADMIN_TOKEN, CLICK_SIGNING_KEYS"]);
    const help = secretsHelp(p.secrets).join("\n");
    expect(help).toContain("ADMIN_TOKEN=… CLICK_SIGNING_KEYS=… npm run deploy");
    expect(help).toContain("CLICK_SIGNING_KEYS must have the same value in edgeclick-ingest and edgeclick-query.");
    expect(help).not.toContain("secret put"); // edgeclick-query does not exist yet: only a deploy can carry its secrets
    // The secret from the environment overrides what is on the Worker, for both Workers that use it.
    const files = p.steps.find((s) => s.kind === "write")?.secretFiles;
    expect(files).toEqual([
      { worker: "edgeclick-ingest", path: "w/ingest/secrets.env", names: ["IP_HASH_KEY"] },
      { worker: "edgeclick-query", path: "w/query/secrets.env", names: ["IP_HASH_KEY"] },
    ]);
  });

  it("refuses a config pointing at a database the account does not have, and takes --ingest-url instead of reading it", () => {
    const withId = described.map((w: { d1: { id: string }[] }) => ({
      ...w,
      d1: w.d1.map((d) => ({ ...d, id: "0badc0de-0000-4000-8000-000000000000" })),
    }));
    const existing = { d1: [{ name: "edgeclick", uuid: "7d1f0c4e-1111-4222-8333-944455556666" }], r2: [], queues: [], workers: {} };
    const env = { ADMIN_TOKEN: "t", IP_HASH_KEY: "k", CLICK_SIGNING_KEYS: "k1:s" };
    expect(plan({ workers: withId, order, existing, env, workDir: "w" }).problems).toEqual([
      expect.stringContaining("the configs give D1 database edgeclick the id 0badc0de-0000-4000-8000-000000000000, but this account's"),
    ]);
    const p = plan({ workers: described, order, existing, env, workDir: "w", ingestUrl: "https://clicks.example.com" });
    const deploys = p.steps.filter((s) => s.kind === "deploy");
    expect(deploys.map((s) => s.givesUrl)).toEqual([false, false, false, false]);
    expect(deploys[3].argv).toContain("INGEST_BASE_URL:https://clicks.example.com");
    expect(plan({ workers: described, order, existing, env, workDir: "w", ingestUrl: "clicks.example.com" }).problems).toEqual([
      '--ingest-url must be an http(s) URL, got "clicks.example.com"',
    ]);
  });

  it("validates the deploy order against the bindings", () => {
    expect(validate(described, order)).toEqual([]);
    expect(validate(described, ["ingest", "query", "aggregator", "batch"])).toEqual([
      "edgeclick-query binds the service edgeclick-batch, which does not deploy before it",
    ]);
    expect(validate(described, ["batch", "ingest", "aggregator", "query"])).toEqual([
      "edgeclick-ingest hosts the Durable Objects and must deploy first",
      "edgeclick-batch binds CampaignCounter of edgeclick-ingest, which does not deploy before it",
      "edgeclick-batch binds Blocklist of edgeclick-ingest, which does not deploy before it",
    ]);
  });
});

describe("reading wrangler's output", () => {
  /** The box table `wrangler queues list` prints (cli-table3, no colour). */
  function table(head: string[], rows: string[][]) {
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
    const rule = (l: string, m: string, r: string) => l + w.map((n) => "─".repeat(n)).join(m) + r;
    const row = (cells: string[]) => `│${cells.map((c, i) => ` ${c.padEnd(w[i] - 1)}`).join("│")}│`;
    return [rule("┌", "┬", "┐"), row(head), ...rows.flatMap((r) => [rule("├", "┼", "┤"), row(r)]), rule("└", "┴", "┘")].join("\n");
  }

  it("finds queue names in the table, the URL in the deploy output, and the 'does not exist' answers", () => {
    const head = ["id", "name", "created_on", "modified_on", "producers", "consumers"];
    const t = "2026-11-30T08:00:00.000000Z";
    const printed = `\n ⛅️ wrangler 4.156.2\n───────────────\n${table(head, [
      ["5e1e8d3c2b0a4f6e9d7c1b2a3f4e5d6c", "edgeclick-events", t, t, "1", "1"],
      ["a7b6c5d4e3f2410a9b8c7d6e5f4a3b2c", "edgeclick-events-dlq", t, t, "0", "1"],
    ])}\n`;
    expect(parseQueueTable(printed)).toEqual(["edgeclick-events", "edgeclick-events-dlq"]);
    expect(parseQueueTable(" ⛅️ wrangler 4.156.2\n")).toEqual([]);

    const ndjson = [
      '{"version":1,"type":"wrangler-session","wrangler_version":"4.156.2","command_line_args":["deploy"],"log_file_path":"x"}',
      JSON.stringify({
        version: 1,
        type: "deploy",
        worker_name: "edgeclick-ingest",
        version_id: "v",
        targets: ["https://edgeclick-ingest.acme.workers.dev", "schedule: */10 * * * *"],
      }),
    ].join("\n");
    expect(deployedUrl(ndjson)).toBe("https://edgeclick-ingest.acme.workers.dev");
    expect(deployedUrl("", "Deployed edgeclick-ingest triggers\n  https://edgeclick-ingest.acme.workers.dev\n")).toBe(
      "https://edgeclick-ingest.acme.workers.dev",
    );
    expect(deployedUrl('{"type":"deploy","targets":["clicks.example.com/*"]}')).toBeNull();

    expect(parseD1List('[{"uuid":"u1","name":"edgeclick","created_at":"2026-11-30","version":"production"}]')).toEqual([
      { name: "edgeclick", uuid: "u1" },
    ]);
    expect(parseSecretList(' ⛅️ wrangler 4.156.2\n[\n  {\n    "name": "IP_HASH_KEY",\n    "type": "secret_text"\n  }\n]\n')).toEqual([
      "IP_HASH_KEY",
    ]);
    const noBucket =
      "✘ [ERROR] A request to the Cloudflare API (/accounts/a/r2/buckets/b) failed.\n\n  The specified bucket does not exist.";
    expect(bucketMissing(`${noBucket} [code: 10006]`)).toBe(true);
    expect(bucketMissing("✘ [ERROR] Authentication error [code: 10000]")).toBe(false);
    expect(
      workerMissing('✘ [ERROR] Worker "edgeclick-query" not found.\n\nIf this is a new Worker, run `wrangler deploy` first to create it.'),
    ).toBe(true);
    expect(workerMissing("✘ [ERROR] Authentication error [code: 10000]")).toBe(false);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: wrangler's own reference syntax, literally
    expect(secretsFile(["A", "B"])).toBe("A=${A}\nB=${B}\n");
  });
});
