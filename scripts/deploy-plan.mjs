// What `npm run deploy` does, as plain data: the Workers' configs described, checked against each other, the
// resources they name, and the plan (wrangler invocations and checks, in order) for a given listing of what the
// account already has. Also the readers of wrangler's output the plan depends on. Nothing here runs wrangler or
// touches a file, so the tests feed it listings as data; scripts/deploy.mjs does the running.
import { dirname, join, resolve } from "node:path";

/**
 * The database_id the committed configs carry. It stays in them: the local stack keys its D1 state by it, and an
 * account's id has no place in the repository. Deploys use generated copies of the configs with the real id.
 */
export const PLACEHOLDER_D1_ID = "00000000-0000-4000-8000-0000000ec11c";

/** Stands for the ingest Worker's URL in the plan until its deploy has printed it (or --ingest-url gave it). */
export const INGEST_URL = "<ingest URL>";

/** The var that carries the ingest Worker's URL into the Workers that declare it (click links). */
export const INGEST_URL_VAR = "INGEST_BASE_URL";

/** A Worker's config reduced to what deploying it involves. `raw` is the parsed config file (wrangler's own reader). */
export function describeWorker(worker, raw, root) {
  const dir = dirname(resolve(root, worker.config));
  const consumers = raw.queues?.consumers ?? [];
  return {
    id: worker.id,
    name: raw.name,
    expectedName: worker.name,
    config: worker.config,
    primary: Boolean(worker.primary),
    // wrangler's default: a workers.dev URL unless the Worker has routes.
    workersDev: raw.workers_dev ?? !(raw.routes?.length || raw.route),
    d1: (raw.d1_databases ?? []).map((d) => ({
      binding: d.binding,
      name: d.database_name,
      id: d.database_id ?? null,
      migrationsDir: resolve(dir, d.migrations_dir ?? "migrations"),
    })),
    r2: (raw.r2_buckets ?? []).map((b) => ({ binding: b.binding, name: b.bucket_name, jurisdiction: b.jurisdiction ?? null })),
    queues: [
      ...(raw.queues?.producers ?? []).map((p) => ({ name: p.queue })),
      ...consumers.map((c) => ({ name: c.queue })),
      ...consumers.filter((c) => c.dead_letter_queue).map((c) => ({ name: c.dead_letter_queue, deadLetterOf: c.queue })),
    ],
    objects: (raw.durable_objects?.bindings ?? []).map((b) => ({ binding: b.name, className: b.class_name, from: b.script_name ?? null })),
    services: (raw.services ?? []).map((s) => s.service),
    secrets: raw.secrets?.required ?? [],
    vars: raw.vars ?? {},
  };
}

/** The Workers in deploy order (ids in `order`). */
export function inOrder(workers, order) {
  return order.map((id) => workers.find((w) => w.id === id)).filter(Boolean);
}

const bucketKey = (b) => `${b.name}|${b.jurisdiction ?? "default"}`;

/** Every D1 database, R2 bucket and queue the configs name, once each, in deploy order. */
export function collectResources(workers) {
  const d1 = new Map();
  const r2 = new Map();
  const queues = new Map();
  for (const w of workers) {
    for (const d of w.d1) {
      const entry = d1.get(d.name) ?? { name: d.name, ids: [], migrationsDirs: [], usedBy: [] };
      if (d.id && d.id !== PLACEHOLDER_D1_ID && !entry.ids.includes(d.id)) entry.ids.push(d.id);
      if (!entry.migrationsDirs.includes(d.migrationsDir)) entry.migrationsDirs.push(d.migrationsDir);
      entry.usedBy.push(w.id);
      d1.set(d.name, entry);
    }
    for (const b of w.r2) if (!r2.has(bucketKey(b))) r2.set(bucketKey(b), { name: b.name, jurisdiction: b.jurisdiction });
    for (const q of w.queues) {
      const entry = queues.get(q.name) ?? { name: q.name, deadLetterOf: null };
      entry.deadLetterOf ??= q.deadLetterOf ?? null;
      queues.set(q.name, entry);
    }
  }
  return { d1: [...d1.values()], r2: [...r2.values()], queues: [...queues.values()] };
}

/** What is wrong with the configs taken together (empty when they can deploy in this order). */
export function validate(workers, order) {
  const problems = [];
  const ids = workers.map((w) => w.id);
  for (const id of order) if (!ids.includes(id)) problems.push(`the deploy order names a Worker "${id}" that has no config`);
  for (const id of ids)
    if (!order.includes(id)) problems.push(`Worker "${id}" is not in the deploy order (scripts/workers.mjs DEPLOY_ORDER)`);
  const sorted = inOrder(workers, order);
  const primaries = workers.filter((w) => w.primary);
  if (primaries.length !== 1) problems.push(`exactly one Worker must host the Durable Objects (primary), found ${primaries.length}`);
  else if (sorted[0] !== primaries[0]) problems.push(`${primaries[0].name} hosts the Durable Objects and must deploy first`);
  for (const [i, w] of sorted.entries()) {
    if (w.name !== w.expectedName) problems.push(`${w.config} deploys "${w.name}", scripts/workers.mjs expects "${w.expectedName}"`);
    const before = sorted.slice(0, i);
    for (const o of w.objects.filter((o) => o.from)) {
      const host = before.find((b) => b.name === o.from);
      if (!host) problems.push(`${w.name} binds ${o.className} of ${o.from}, which does not deploy before it`);
      else if (!host.objects.some((h) => h.className === o.className && !h.from)) {
        problems.push(`${w.name} binds ${o.className} of ${o.from}, which does not define that class`);
      }
    }
    for (const s of w.services) {
      if (!before.some((b) => b.name === s)) problems.push(`${w.name} binds the service ${s}, which does not deploy before it`);
    }
    if (INGEST_URL_VAR in w.vars && w.primary) problems.push(`${w.name} cannot take its own URL as ${INGEST_URL_VAR}`);
  }
  for (const d of collectResources(workers).d1) {
    if (d.ids.length > 1) problems.push(`D1 database ${d.name} has different database_id values across the configs: ${d.ids.join(", ")}`);
    if (d.migrationsDirs.length > 1)
      problems.push(`D1 database ${d.name} has different migrations_dir across the configs: ${d.migrationsDirs.join(", ")}`);
  }
  return problems;
}

/** Shell form of a wrangler invocation, for printing (the runner passes argv as is). */
export function command(argv) {
  return ["npx", "wrangler", ...argv].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");
}

const jurisdictionArgs = (j) => (j ? ["--jurisdiction", j] : []);
const bucketLabel = (b) => `${b.name}${b.jurisdiction ? ` (jurisdiction ${b.jurisdiction})` : ""}`;

/**
 * The wrangler calls that find out what the account has: D1 and queues from their lists (`d1 list` reads every
 * page; `queues list` is read page by page until one is empty), each R2 bucket by name (`r2 bucket list` shows one
 * page of the API only), and the secrets of each Worker that requires some.
 */
export function discoverySteps(resources, workers) {
  return [
    ...(resources.d1.length ? [{ kind: "list", reads: "d1", argv: ["d1", "list", "--json"] }] : []),
    ...(resources.queues.length ? [{ kind: "list", reads: "queues", argv: ["queues", "list", "--page", "1"], paged: true }] : []),
    ...resources.r2.map((b) => ({
      kind: "check",
      reads: "r2",
      bucket: { name: b.name, jurisdiction: b.jurisdiction },
      argv: ["r2", "bucket", "info", b.name, ...jurisdictionArgs(b.jurisdiction), "--json"],
    })),
    ...workers
      .filter((w) => w.secrets.length)
      .map((w) => ({ kind: "list", reads: "secrets", worker: w.name, argv: ["secret", "list", "-c", w.config] })),
  ];
}

/** The names of `required` to take from the environment: those set to something. */
export function secretsFromEnv(required, env) {
  return required.filter((name) => typeof env[name] === "string" && env[name] !== "");
}

/**
 * The deploy plan. `existing` is what the account has, as listed by discoverySteps:
 *   { d1: [{ name, uuid }], r2: [{ name, jurisdiction }], queues: [name], workers: { [workerName]: { secrets: [name] } } }
 * (a Worker absent from `workers` is not deployed yet), or null when unknown (a dry run: everything is planned as
 * missing). `env` gives secrets by name; `workDir` is where the generated configs go; `ingestUrl` overrides the URL
 * read from the ingest Worker's deploy.
 * Returns { resources, secrets, steps, problems }: a plan with problems must not run.
 */
export function planDeploy({ workers, order, existing, env = {}, workDir, ingestUrl = null }) {
  const sorted = inOrder(workers, order);
  const resources = collectResources(sorted);
  const problems = [];
  const known = existing !== null && existing !== undefined;

  const d1 = resources.d1.map((d) => {
    const found = known ? existing.d1.find((x) => x.name === d.name) : undefined;
    const configId = d.ids[0] ?? null;
    if (known && configId && configId !== found?.uuid) {
      problems.push(
        found
          ? `the configs give D1 database ${d.name} the id ${configId}, but this account's ${d.name} is ${found.uuid}: ` +
              `put the account's id (or the placeholder ${PLACEHOLDER_D1_ID}) in the configs`
          : `the configs give D1 database ${d.name} the id ${configId}, which this account does not have: ` +
              `put the placeholder ${PLACEHOLDER_D1_ID} back to have it created`,
      );
    }
    // The id the generated configs get: the account's; in a dry run the config's own; null: the one `d1 create` makes.
    const id = known ? (found?.uuid ?? null) : (configId ?? PLACEHOLDER_D1_ID);
    return { ...d, exists: known ? Boolean(found) : null, id };
  });
  const r2 = resources.r2.map((b) => ({
    ...b,
    exists: known ? existing.r2.some((x) => x.name === b.name && (x.jurisdiction ?? "default") === (b.jurisdiction ?? "default")) : null,
  }));
  const queues = resources.queues.map((q) => ({ ...q, exists: known ? existing.queues.includes(q.name) : null }));

  const steps = [];
  for (const d of d1.filter((d) => !d.exists))
    steps.push({ kind: "create", resource: "D1 database", name: d.name, argv: ["d1", "create", d.name] });
  for (const b of r2.filter((b) => !b.exists)) {
    steps.push({
      kind: "create",
      resource: "R2 bucket",
      name: bucketLabel(b),
      argv: ["r2", "bucket", "create", b.name, ...jurisdictionArgs(b.jurisdiction)],
    });
  }
  for (const q of queues.filter((q) => !q.exists)) {
    steps.push({
      kind: "create",
      resource: q.deadLetterOf ? "dead-letter queue" : "queue",
      name: q.name,
      argv: ["queues", "create", q.name],
    });
  }
  // A real run learns the id of a database it has just created from the list, not from `d1 create`'s prose.
  if (d1.some((d) => !d.exists)) steps.push({ kind: "list", reads: "d1", argv: ["d1", "list", "--json"] });

  const configOf = (w) => join(workDir, w.id, "wrangler.json");
  const secrets = sorted
    .filter((w) => w.secrets.length)
    .map((w) => {
      const fromEnv = secretsFromEnv(w.secrets, env);
      const deployed = known ? Object.hasOwn(existing.workers ?? {}, w.name) : null;
      const remote = known ? (existing.workers?.[w.name]?.secrets ?? []) : null;
      const missing = known ? w.secrets.filter((s) => !fromEnv.includes(s) && !remote.includes(s)) : [];
      return {
        worker: w.name,
        id: w.id,
        config: w.config,
        required: w.secrets,
        fromEnv,
        remote,
        deployed,
        missing,
        file: fromEnv.length ? join(workDir, w.id, "secrets.env") : null,
      };
    });
  steps.push({
    kind: "write",
    configs: sorted.map((w) => ({ worker: w.name, id: w.id, from: w.config, to: configOf(w) })),
    d1: Object.fromEntries(d1.map((d) => [d.name, d.id])),
    secretFiles: secrets.filter((s) => s.file).map((s) => ({ worker: s.worker, path: s.file, names: s.fromEnv })),
  });

  for (const d of d1) {
    const host = sorted.find((w) => w.d1.some((x) => x.name === d.name));
    const c = configOf(host);
    steps.push({ kind: "migrate", database: d.name, argv: ["d1", "migrations", "apply", d.name, "--remote", "-c", c] });
    // `migrations apply` asks before it applies, and a "no" still exits 0: the list says whether they all ran.
    steps.push({
      kind: "check",
      database: d.name,
      argv: ["d1", "migrations", "list", d.name, "--remote", "-c", c],
      expect: "No migrations to apply",
    });
  }

  const primary = sorted.find((w) => w.primary);
  if (ingestUrl !== null && !/^https?:\/\/[^\s/]+/.test(ingestUrl))
    problems.push(`--ingest-url must be an http(s) URL, got "${ingestUrl}"`);
  const needsUrl = sorted.filter((w) => INGEST_URL_VAR in w.vars);
  if (primary && needsUrl.length && ingestUrl === null && !primary.workersDev) {
    problems.push(`${primary.name} has no workers.dev URL (workers_dev = false): give its URL with --ingest-url https://…`);
  }
  for (const w of sorted) {
    const s = secrets.find((x) => x.worker === w.name);
    steps.push({
      kind: "deploy",
      worker: w.name,
      id: w.id,
      // The ingest Worker's URL is read from its own deploy unless given.
      givesUrl: Boolean(w.primary && needsUrl.length && ingestUrl === null),
      argv: [
        "deploy",
        "-c",
        configOf(w),
        ...(s?.file ? ["--secrets-file", s.file] : []),
        ...(INGEST_URL_VAR in w.vars ? ["--var", `${INGEST_URL_VAR}:${ingestUrl ?? INGEST_URL}`] : []),
      ],
    });
  }

  for (const s of secrets.filter((s) => s.missing.length)) {
    problems.push(`${s.worker} (${s.config}) lacks the secrets ${s.missing.join(", ")}`);
  }
  return { resources: { d1, r2, queues }, secrets, steps, problems };
}

/** How to provide missing secrets, for the message that stops a run (names only, never values). */
export function secretsHelp(secrets) {
  const missing = secrets.filter((s) => s.missing.length);
  if (!missing.length) return [];
  const names = [...new Set(missing.flatMap((s) => s.missing))];
  const lines = [
    "Give them to this run as environment variables (they reach wrangler through --secrets-file, whose file only names them):",
    `  ${names.map((n) => `${n}=…`).join(" ")} npm run deploy`,
  ];
  const deployed = missing.filter((s) => s.deployed);
  if (deployed.length) {
    lines.push("or set them once on the Workers that already exist:");
    for (const s of deployed) for (const n of s.missing) lines.push(`  npx wrangler secret put ${n} -c ${s.config}`);
  }
  const shared = names.filter((n) => secrets.filter((s) => s.required.includes(n)).length > 1);
  if (shared.length) {
    const holders = (n) =>
      secrets
        .filter((s) => s.required.includes(n))
        .map((s) => s.worker)
        .join(" and ");
    for (const n of shared) lines.push(`${n} must have the same value in ${holders(n)}.`);
  }
  return lines;
}

/** The generated config of a Worker: its own, with paths made absolute (it lives elsewhere) and the D1 ids filled in. */
export function deployConfig(raw, configPath, d1Ids) {
  const dir = dirname(configPath);
  const out = structuredClone(raw);
  if (out.main) out.main = resolve(dir, out.main);
  out.d1_databases = (out.d1_databases ?? []).map((d) => ({
    ...d,
    database_id: d1Ids[d.database_name] ?? d.database_id,
    migrations_dir: resolve(dir, d.migrations_dir ?? "migrations"),
  }));
  if (!out.d1_databases.length) delete out.d1_databases;
  return out;
}

/** The contents of a --secrets-file: references only; wrangler fills each from the environment variable of that name. */
export function secretsFile(names) {
  return names.map((n) => `${n}=\${${n}}\n`).join("");
}

// Readers of wrangler's output.

// wrangler may print a banner before the JSON: it starts at the first line that opens an array.
const jsonArray = (stdout) => JSON.parse(stdout.slice(Math.max(0, stdout.search(/^\[/m))));

/** `wrangler d1 list --json` → [{ name, uuid }]. */
export function parseD1List(stdout) {
  const list = jsonArray(stdout);
  return list.map((d) => ({ name: d.name, uuid: d.uuid }));
}

/** `wrangler queues list` prints a table (`│ id │ name │ …`) → the names in it. */
export function parseQueueTable(stdout) {
  const rows = stdout
    .split("\n")
    .filter((l) => l.trimStart().startsWith("│"))
    .map((l) =>
      l
        .trim()
        .slice(1, -1)
        .split("│")
        .map((c) => c.trim()),
    );
  if (!rows.length) return [];
  const col = rows[0].indexOf("name");
  if (col < 0) throw new Error(`no "name" column in wrangler queues list's table:\n${stdout}`);
  return rows
    .slice(1)
    .map((r) => r[col])
    .filter(Boolean);
}

/** `wrangler secret list` (JSON) → the secret names. */
export function parseSecretList(stdout) {
  return jsonArray(stdout).map((s) => s.name);
}

/** Whether a failed `wrangler r2 bucket info` says the bucket does not exist (API code 10006, as wrangler itself reads it). */
export const bucketMissing = (output) => /\[code: 10006\]/.test(output);

/** Whether a failed `wrangler secret list` says the Worker does not exist yet. */
export const workerMissing = (output) => /Worker "[^"]+"(?: \(env: [^)]*\))? not found|\[code: 10007\]/.test(output);

/**
 * The URL a deploy gave the Worker: the first http(s) target of the "deploy" entry wrangler writes to its output
 * file (WRANGLER_OUTPUT_FILE_PATH, one JSON object a line), else the first workers.dev URL in what it printed.
 */
export function deployedUrl(outputFile, printed = "") {
  for (const line of outputFile.split("\n")) {
    if (!line.trim()) continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const url = entry.type === "deploy" ? (entry.targets ?? []).find((t) => /^https?:\/\//.test(t)) : undefined;
    if (url) return url.replace(/\/$/, "");
  }
  return /https:\/\/[\w.-]+\.workers\.dev\b/.exec(printed)?.[0] ?? null;
}
