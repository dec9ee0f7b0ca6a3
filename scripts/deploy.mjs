// `npm run deploy`: creates what the four Workers' configs name and the Cloudflare account lacks (D1 database, R2
// buckets, queue and dead-letter queue), applies the D1 migrations, and deploys the Workers in DEPLOY_ORDER, the
// query Worker with the ingest Worker's URL as INGEST_BASE_URL.
//   npm run deploy                                  for real: `npx wrangler login` first (or CLOUDFLARE_API_TOKEN)
//   npm run deploy -- --dry-run [--outdir DIR]      offline, no account: checks the configs, prints every command a
//                                                   real run would run, and bundles the four Workers as they would
//                                                   deploy (DIR/<worker>/index.js, default .wrangler/build)
//   --ingest-url URL                                the URL click links point at (a custom domain); default: the
//                                                   workers.dev URL the ingest Worker's deploy reports
// Secrets listed in a config's `[secrets] required` come from environment variables of the same name when set, else
// must already be on the Worker; a real run names the missing ones and stops before it changes anything.
//
// The committed configs keep a placeholder database_id (the local stack keys its D1 state by it, and an account's
// id does not belong in the repository), so each Worker deploys from a generated copy holding the account's id:
// .wrangler/edgeclick-deploy/<worker>/wrangler.json, kept for remote D1 commands (`-c` it).
import { pathToFileURL } from "node:url";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { parseArgs, stripVTControlCharacters } from "node:util";
import { experimental_readRawConfig, unstable_readConfig } from "wrangler";
import {
  INGEST_URL,
  command,
  deployConfig,
  deployedUrl,
  describeWorker,
  discoverySteps,
  bucketMissing,
  collectResources,
  inOrder,
  parseD1List,
  parseQueueTable,
  parseSecretList,
  planDeploy,
  secretsFile,
  secretsHelp,
  validate,
  workerMissing,
} from "./deploy-plan.mjs";
import { DEPLOY_ORDER, WORKERS } from "./workers.mjs";

const ROOT = resolve(import.meta.dirname, "..");
// Both overridable so a test can run the real mode against a stand-in CLI without touching the real generated configs.
const WRANGLER = process.env.EDGECLICK_WRANGLER ?? join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const WORK_DIR = process.env.EDGECLICK_DEPLOY_DIR ?? ".wrangler/edgeclick-deploy";

const show = (p) => (isAbsolute(p) && !relative(ROOT, p).startsWith("..") ? relative(ROOT, p) : p);

class StepFailed extends Error {}

/** Runs wrangler from the repository root. Captured runs get no terminal, so wrangler never waits on a prompt there. */
function wrangler(argv, { capture = false, env = {} } = {}) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [WRANGLER, ...argv], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...(capture ? { NO_COLOR: "1" } : {}), ...env },
      stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit",
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stderr += d));
    child.on("error", fail);
    // wrangler colours its errors whatever NO_COLOR says; the readers match plain text.
    child.on("close", (code, signal) =>
      done({ code: code ?? 1, signal, stdout: stripVTControlCharacters(stdout), stderr: stripVTControlCharacters(stderr) }),
    );
  });
}

/** Reads and checks the four configs (wrangler's own reader and validation, then ours across them). */
function readWorkers() {
  const problems = [];
  const workers = WORKERS.map((w) => {
    const path = join(ROOT, w.config);
    try {
      unstable_readConfig({ config: path }); // throws on what wrangler would refuse
    } catch (err) {
      problems.push(`${w.config}: ${err.message}`);
    }
    const { rawConfig } = experimental_readRawConfig({ config: path });
    return { ...describeWorker(w, rawConfig, ROOT), raw: rawConfig, path };
  });
  problems.push(...validate(workers, DEPLOY_ORDER));
  for (const d of collectResources(workers).d1) {
    for (const dir of d.migrationsDirs) {
      if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith(".sql")))
        problems.push(`D1 database ${d.name}: no migrations in ${show(dir)}`);
    }
  }
  return { workers, problems };
}

function stop(lines, code = 1) {
  for (const l of [lines].flat()) console.error(l);
  process.exit(code);
}

function printResources(plan, dryRun) {
  const state = (r) => (r.exists === null ? "" : r.exists ? "exists" : "missing: will be created");
  console.log(dryRun ? "\nResources the configs name (a real run lists the account and creates only the missing ones):" : "\nResources:");
  for (const d of plan.resources.d1) console.log(`  D1 database        ${d.name.padEnd(32)} ${state(d)}${d.exists ? ` (${d.id})` : ""}`);
  for (const b of plan.resources.r2) {
    console.log(`  R2 bucket          ${`${b.name}${b.jurisdiction ? ` (${b.jurisdiction})` : ""}`.padEnd(32)} ${state(b)}`);
  }
  for (const q of plan.resources.queues) {
    console.log(`  ${(q.deadLetterOf ? "dead-letter queue" : "queue").padEnd(18)} ${q.name.padEnd(32)} ${state(q)}`);
  }
  console.log("\nSecrets ([secrets] required; taken from environment variables of the same name when set there):");
  for (const s of plan.secrets) {
    const state = (n) => (s.fromEnv.includes(n) ? "from env" : s.remote === null ? "to check" : s.remote.includes(n) ? "set" : "MISSING");
    console.log(`  ${s.worker.padEnd(22)} ${s.required.map((n) => `${n} ${state(n)}`).join(" · ")}`);
  }
  if (dryRun && plan.secrets.some((s) => s.fromEnv.length < s.required.length)) {
    console.log("  (to check: a real run reads `wrangler secret list` and stops before changing anything if one is missing)");
  }
}

function describeStep(step) {
  if (step.kind === "write") {
    const ids = Object.entries(step.d1).map(
      ([name, id]) => `${name} = ${step.dryRun ? "the account's id" : (id ?? "the id d1 create gave")}`,
    );
    const extra = step.secretFiles.length ? `; secret references for ${step.secretFiles.map((f) => f.worker).join(", ")}` : "";
    const files = step.configs.map((c) => show(c.to));
    // Printed as dir/{a,b}/wrangler.json when they follow that pattern (they do: planDeploy names them so).
    const m = files.map((f) => /^(.*)\/([^/]+)\/wrangler\.json$/.exec(f));
    const one = m.every((x) => x && x[1] === m[0][1]) ? `${m[0][1]}/{${m.map((x) => x[2]).join(",")}}/wrangler.json` : files.join(", ");
    return `${one} (configs with database_id ${ids.join(", ")}${extra})`;
  }
  const tail = step.paged ? "   (then --page 2, 3, … until a page is empty)" : step.expect ? `   (expects "${step.expect}")` : "";
  return `${command(step.argv.map(show))}${tail}${step.givesUrl ? `   → ${INGEST_URL}` : ""}`;
}

function printSteps(steps, first = 1, total = steps.length + first - 1) {
  for (const [i, s] of steps.entries()) console.log(`${String(i + first).padStart(4)}/${total} ${s.kind.padEnd(8)} ${describeStep(s)}`);
}

/** Writes the generated configs and secret-reference files a `write` step names. */
function writeDeployFiles(step, workers) {
  for (const c of step.configs) {
    const w = workers.find((x) => x.id === c.id);
    mkdirSync(resolve(ROOT, c.to, ".."), { recursive: true });
    writeFileSync(resolve(ROOT, c.to), `${JSON.stringify(deployConfig(w.raw, w.path, step.d1), null, 2)}\n`);
  }
  for (const c of step.configs) rmSync(resolve(ROOT, c.to, "../secrets.env"), { force: true }); // none left from a run with other env
  for (const f of step.secretFiles) writeFileSync(resolve(ROOT, f.path), secretsFile(f.names), { mode: 0o600 });
}

function failed(step, r) {
  const exit = `exit ${r.code}${r.signal ? `, ${r.signal}` : ""}`;
  return new StepFailed(`${command(step.argv.map(show))} failed (${exit})${r.stdout || r.stderr ? `:\n${r.stdout}${r.stderr}` : ""}`);
}

/** Runs the discovery steps and returns what the account has, in planDeploy's `existing` shape. */
async function discover(steps, total) {
  const existing = { d1: [], r2: [], queues: [], workers: {} };
  for (const [i, step] of steps.entries()) {
    console.log(`${String(i + 1).padStart(4)}/${total} ${step.kind.padEnd(8)} ${describeStep(step)}`);
    if (step.reads === "queues") {
      for (let page = 1; page <= 100; page++) {
        const argv = ["queues", "list", "--page", String(page)];
        const r = await wrangler(argv, { capture: true });
        if (r.code !== 0) throw failed({ argv }, r);
        const names = parseQueueTable(r.stdout).filter((n) => !existing.queues.includes(n));
        if (!names.length) break;
        existing.queues.push(...names);
      }
      continue;
    }
    const r = await wrangler(step.argv, { capture: true });
    if (step.reads === "d1") {
      if (r.code !== 0) throw failed(step, r);
      existing.d1 = parseD1List(r.stdout);
    } else if (step.reads === "r2") {
      if (r.code === 0) existing.r2.push(step.bucket);
      else if (!bucketMissing(r.stdout + r.stderr)) throw failed(step, r);
    } else if (step.reads === "secrets") {
      if (r.code === 0) existing.workers[step.worker] = { secrets: parseSecretList(r.stdout) };
      else if (!workerMissing(r.stdout + r.stderr)) throw failed(step, r);
    }
  }
  return existing;
}

async function deployForReal(workers, flags) {
  const sorted = inOrder(workers, DEPLOY_ORDER);
  const discovery = discoverySteps(collectResources(sorted), sorted);
  console.log("edgeclick deploy: looking at the account");
  let existing;
  try {
    existing = await discover(discovery, discovery.length);
  } catch (err) {
    stop([
      `\n✗ ${err instanceof StepFailed ? err.message : `could not read what wrangler answered: ${err.message}`}`,
      "Nothing was changed. Is wrangler logged in to the right account? `npx wrangler login` (or set CLOUDFLARE_API_TOKEN and",
      "CLOUDFLARE_ACCOUNT_ID), then `npx wrangler whoami` to check.",
    ]);
  }
  const plan = planDeploy({
    workers,
    order: DEPLOY_ORDER,
    existing,
    env: process.env,
    workDir: WORK_DIR,
    ingestUrl: flags["ingest-url"] ?? null,
  });
  printResources(plan, false);
  console.log("\nPlan:");
  printSteps(plan.steps);
  if (plan.problems.length) {
    stop(["\nNot deploying; nothing was changed:", ...plan.problems.map((p) => `  - ${p}`), ...secretsHelp(plan.secrets)]);
  }

  const d1Ids = { ...plan.steps.find((s) => s.kind === "write").d1 };
  let ingestUrl = flags["ingest-url"] ?? null;
  const total = plan.steps.length;
  console.log("");
  for (const [i, step] of plan.steps.entries()) {
    const argv = step.argv?.map((a) => (ingestUrl ? a.replace(INGEST_URL, ingestUrl) : a));
    console.log(`\n━━ ${i + 1}/${total} ${step.kind} ${describeStep({ ...step, argv })}`);
    let r;
    if (step.kind === "write") {
      writeDeployFiles({ ...step, d1: d1Ids }, workers);
      continue;
    } else if (step.kind === "list" && step.reads === "d1") {
      r = await wrangler(argv, { capture: true });
      if (r.code === 0) {
        const listed = parseD1List(r.stdout);
        for (const name of Object.keys(d1Ids)) d1Ids[name] ??= listed.find((d) => d.name === name)?.uuid ?? null;
        const lost = Object.keys(d1Ids).filter((name) => !d1Ids[name]);
        if (lost.length) r = { ...r, code: 1, stderr: `${r.stderr}\nthe list has no database named ${lost.join(", ")} after creating it` };
        else for (const [name, id] of Object.entries(d1Ids)) console.log(`D1 database ${name}: ${id}`);
      }
    } else if (step.kind === "check") {
      r = await wrangler(argv, { capture: true });
      if (r.code === 0 && !r.stdout.includes(step.expect)) {
        r = { ...r, code: 1, stderr: `${r.stderr}\nmigrations are still pending (was the prompt answered no?)` };
      }
    } else if (step.kind === "deploy" && step.givesUrl) {
      const out = resolve(ROOT, WORK_DIR, `${step.id}-output.ndjson`);
      rmSync(out, { force: true });
      r = await wrangler(argv, { env: { WRANGLER_OUTPUT_FILE_PATH: out } });
      if (r.code === 0) {
        ingestUrl = deployedUrl(existsSync(out) ? readFileSync(out, "utf8") : "");
        if (!ingestUrl) {
          stop([
            `✗ ${step.worker} deployed, but its deploy reported no URL.`,
            "Run again with --ingest-url https://… (the deploys repeat harmlessly).",
          ]);
        }
        console.log(`${step.worker} is at ${ingestUrl}`);
      }
    } else {
      r = await wrangler(argv);
    }
    if (r.code !== 0) {
      stop([
        `\n✗ step ${i + 1}/${total} failed: ${failed({ argv: argv.map(show) }, r).message}`,
        "The steps before it took effect; none after it ran. Fix the cause and run `npm run deploy` again:",
        "it creates only what is still missing and deploys every Worker again.",
      ]);
    }
  }
  console.log(`\nedgeclick deployed. Ingest (click links): ${ingestUrl ?? "(no URL needed)"}`);
}

async function dryRun(workers, flags) {
  const outDir = resolve(ROOT, flags.outdir ?? ".wrangler/build");
  const sorted = inOrder(workers, DEPLOY_ORDER);
  const discovery = discoverySteps(collectResources(sorted), sorted);
  const input = { workers, order: DEPLOY_ORDER, existing: null, env: process.env, ingestUrl: flags["ingest-url"] ?? null };
  // The plan is printed as a real run would run it; the bundles are built from the same configs written next to them
  // instead, so that .wrangler/edgeclick-deploy keeps the account's ids from the last real run.
  const plan = planDeploy({ ...input, workDir: WORK_DIR });
  const local = planDeploy({ ...input, workDir: outDir });
  console.log("edgeclick deploy --dry-run: offline; nothing is listed, created, uploaded or changed.");
  console.log(`\nWorkers, in deploy order: ${sorted.map((w) => `${w.name} (${w.config})`).join(" → ")}`);
  printResources(plan, true);
  const total = discovery.length + plan.steps.length;
  console.log("\nA real run would look at the account:");
  printSteps(discovery, 1, total);
  console.log("then (planned here as if nothing existed yet):");
  printSteps(
    plan.steps.map((s) => ({ ...s, dryRun: true })),
    discovery.length + 1,
    total,
  );
  if (plan.problems.length) stop(["\nThe plan cannot run:", ...plan.problems.map((p) => `  - ${p}`)]);

  console.log(`\nBundling each Worker as it would deploy (wrangler deploy --dry-run), into ${show(outDir)}:`);
  const ingestUrl = flags["ingest-url"] ?? `https://${sorted.find((w) => w.primary).name}.<your-subdomain>.workers.dev`;
  writeDeployFiles(
    local.steps.find((s) => s.kind === "write"),
    workers,
  );
  for (const step of local.steps.filter((s) => s.kind === "deploy")) {
    const dir = join(outDir, step.id);
    const argv = [...step.argv.map((a) => a.replace(INGEST_URL, ingestUrl)), "--dry-run", "--outdir", dir];
    console.log(`  ${command(argv.map(show))}`);
    const r = await wrangler(argv, { capture: true, env: { CI: "true" } });
    if (r.code !== 0) stop(`✗ bundling ${step.worker} failed:\n${r.stdout}${r.stderr}`);
    for (const line of r.stdout.split("\n").filter((l) => /^env\./.test(l))) console.log(`      ${line.replace(/\s{2,}/, "  ").trimEnd()}`);
    const size = statSync(join(dir, "index.js")).size;
    console.log(`    ${step.worker.padEnd(22)} ${(size / 1024).toFixed(0).padStart(6)} KiB  ${show(join(dir, "index.js"))}`);
  }
  console.log("\nDry run complete: the configs check out and every Worker bundles.");
}

const USAGE = `usage: npm run deploy [-- --ingest-url URL]             create what is missing, migrate, deploy the four Workers
       npm run deploy -- --dry-run [--outdir DIR]   offline: check, print the plan, bundle into DIR (default .wrangler/build)
Secrets named in the configs' [secrets] required are read from environment variables of the same name when set.`;

if (import.meta.url === pathToFileURL(realpathSync(process.argv[1] ?? ".")).href) {
  let flags;
  try {
    ({ values: flags } = parseArgs({
      options: {
        "dry-run": { type: "boolean" },
        outdir: { type: "string" },
        "ingest-url": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    stop([err.message, USAGE], 2);
  }
  if (flags.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (flags.outdir && !flags["dry-run"]) stop(["--outdir goes with --dry-run", USAGE], 2);
  const { workers, problems } = readWorkers();
  if (problems.length) stop(["edgeclick deploy: the configs do not fit together:", ...problems.map((p) => `  - ${p}`)]);
  if (flags["dry-run"]) await dryRun(workers, flags);
  else await deployForReal(workers, flags);
}
