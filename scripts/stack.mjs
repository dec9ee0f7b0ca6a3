// The whole edgeclick stack on the local Workers runtime (workerd, through Miniflare), in one process:
// all four Workers share one runtime, so the query Worker reaches the ingest Worker's Durable Objects, the
// queue's producer and consumer are live, and D1/R2/DO state is shared and persisted.
//
// `wrangler dev -c a -c b` would run them together too, but it exposes only the first Worker on a port;
// edgeclick's CONTRACT has two (ingest 8787, query 8788). So we do what `wrangler dev` does under the
// hood: bundle each Worker with wrangler (`deploy --dry-run`, the very bundle that deploys), derive its
// bindings from its own wrangler.toml (`unstable_getMiniflareWorkerOptions`), and give ingest and query
// their own sockets. Crons are fired on schedule here, since Miniflare does not fire them itself.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve, sep } from "node:path";
import { promisify } from "node:util";
import { Miniflare, Log, LogLevel, compileModuleRules, convertV4MiniflareOptions, testRegExps } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from "wrangler";
import { WORKERS } from "./workers.mjs";

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, "..");

/** Values from .dev.vars (KEY=value lines). */
export function readDevVars(path = join(ROOT, ".dev.vars")) {
  const vars = {};
  if (!existsSync(path)) return vars;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trim().startsWith("#")) vars[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return vars;
}

/**
 * The dev-only ingest entry (scripts/dev/ingest.ts): campaign objects behind a simulated round trip, a
 * switch that makes one unreachable, and EDGECLICK_FAULTS. Built beside the real bundle, never deployed.
 */
export const DEV_INGEST = { id: "ingest-dev", entry: "scripts/dev/ingest.ts" };

/** Bundles every Worker with wrangler into `outDir/<id>/index.js` (two at a time: the machine has 2 cores), and the dev ingest entry. */
export async function buildWorkers(outDir = join(ROOT, ".wrangler/build")) {
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "true" };
  const queue = [...WORKERS, { ...WORKERS[0], id: DEV_INGEST.id, entry: DEV_INGEST.entry }];
  const build = async () => {
    for (let w = queue.shift(); w; w = queue.shift()) {
      const out = join(outDir, w.id);
      // Fresh each time: the stack loads every file in it (bundleModules), so none may be left from an older build.
      rmSync(out, { recursive: true, force: true });
      try {
        const entry = w.entry ? [join(ROOT, w.entry)] : [];
        await run(
          process.execPath,
          [
            join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
            "deploy",
            ...entry,
            "--dry-run",
            "--outdir",
            out,
            "-c",
            join(ROOT, w.config),
          ],
          { cwd: ROOT, env, maxBuffer: 16 << 20 },
        );
        // wrangler names the bundle after its entry file; the stack looks for index.js.
        if (w.entry) renameSync(join(out, `${basename(w.entry, ".ts")}.js`), join(out, "index.js"));
      } catch (err) {
        throw new Error(`building ${w.name} failed:\n${err.stderr || err.stdout || err.message}`);
      }
    }
  };
  await Promise.all([build(), build()]);
  return outDir;
}

/**
 * A bundle's modules for Miniflare: index.js, then the files wrangler wrote beside it (the query Worker's
 * pages/*.html, .css, .js, kept under their names by preserve_file_names), typed by the config's module
 * rules as `wrangler deploy` types them. Miniflare follows no imports itself, so each is listed.
 */
export function bundleModules(dir, rules = []) {
  const compiled = compileModuleRules(rules);
  const loose = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"))
    .filter((f) => f !== "index.js" && f !== "README.md" && !f.endsWith(".map"))
    .sort();
  return [
    { type: "ESModule", path: join(dir, "index.js") },
    ...loose.map((f) => {
      const rule = compiled.find((r) => testRegExps(r.include, f));
      if (!rule) throw new Error(`${join(dir, f)} is in the bundle but no module rule of its config says what it is`);
      return { type: rule.type, path: join(dir, f) };
    }),
  ];
}

/** Applies migrations/*.sql that have not run yet, tracked in `d1_migrations` exactly as wrangler does. */
export async function applyMigrations(db, dir = join(ROOT, "migrations")) {
  await db
    .prepare(
      "CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .run();
  const applied = new Set((await db.prepare("SELECT name FROM d1_migrations").all()).results.map((r) => r.name));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  const ran = [];
  for (const file of files) {
    if (applied.has(file)) continue;
    const statements = unstable_splitSqlQuery(readFileSync(join(dir, file), "utf8")).map((q) => db.prepare(q));
    await db.batch([...statements, db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(file)]);
    ran.push(file);
  }
  return ran;
}

/**
 * Makes workerd die with the Node process that starts it, even when that process is SIGKILLed (Linux:
 * `setpriv --pdeathsig KILL`, through MINIFLARE_WORKERD_PATH). Otherwise a killed `npm start` leaves a
 * runtime behind that still holds the ports and the state.
 */
function bindWorkerdToParent() {
  if (process.platform !== "linux" || process.env.MINIFLARE_WORKERD_PATH || !existsSync("/usr/bin/setpriv")) return;
  const fromMiniflare = createRequire(createRequire(import.meta.url).resolve("miniflare"));
  const mod = fromMiniflare(fromMiniflare.resolve("workerd"));
  const binary = mod.default?.default ?? mod.default ?? mod;
  if (typeof binary !== "string") return;
  const wrapper = join(tmpdir(), `edgeclick-workerd-${createHash("sha256").update(binary).digest("hex").slice(0, 12)}.sh`);
  if (!existsSync(wrapper))
    writeFileSync(wrapper, `#!/bin/sh\nexec /usr/bin/setpriv --pdeathsig KILL -- '${binary}' "$@"\n`, { mode: 0o755 });
  process.env.MINIFLARE_WORKERD_PATH = wrapper;
}

/** Applies D1 migrations on the stack's state with a socket-less runtime that has only the database. */
async function migrateFirst(persistTo) {
  const query = WORKERS.find((w) => w.id === "query");
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, query.config));
  const pre = new Miniflare(
    convertV4MiniflareOptions({
      cf: false,
      log: new Log(LogLevel.WARN),
      resourcePersistencePath: join(persistTo, "v3"),
      workers: [
        {
          name: "migrate",
          modules: true,
          script: "export default { fetch() { return new Response(null, { status: 404 }); } };",
          d1Databases: workerOptions.d1Databases,
        },
      ],
    }),
  );
  try {
    await pre.ready;
    return await applyMigrations(await pre.getD1Database("DB"));
  } finally {
    await pre.dispose();
  }
}

// Five-field cron expressions: minute hour day-of-month month day-of-week (`*`, `*/n`, `a-b`, lists).
function cronField(spec, value, min) {
  return spec.split(",").some((part) => {
    const [range, stepText] = part.split("/");
    const step = stepText ? Number(stepText) : 1;
    let lo = min,
      hi = Infinity;
    if (range !== "*") [lo, hi] = range.includes("-") ? range.split("-").map(Number) : [Number(range), stepText ? Infinity : Number(range)];
    return value >= lo && value <= hi && (value - lo) % step === 0;
  });
}
export function cronMatches(expr, date) {
  const [m, h, dom, mon, dow] = expr.trim().split(/\s+/);
  return (
    cronField(m, date.getUTCMinutes(), 0) &&
    cronField(h, date.getUTCHours(), 0) &&
    cronField(dom, date.getUTCDate(), 1) &&
    cronField(mon, date.getUTCMonth() + 1, 1) &&
    cronField(dow, date.getUTCDay(), 0)
  );
}

/**
 * Starts the stack. Options: ingestPort (8787), queryPort (8788), host (127.0.0.1), persistTo
 * (.wrangler/state), buildDir, build (true: bundle first), crons (true: fire cron triggers),
 * vars (extra bindings for every Worker), objectRttMs (run the dev ingest entry: every call to a campaign
 * object waits this long first; 0 still allows the dev switches), verbose.
 */
export async function startStack(opts = {}) {
  const host = opts.host ?? "127.0.0.1";
  const ingestPort = opts.ingestPort ?? 8787;
  const queryPort = opts.queryPort ?? 8788;
  const persistTo = resolve(opts.persistTo ?? join(ROOT, ".wrangler/state"));
  const buildDir = resolve(opts.buildDir ?? join(ROOT, ".wrangler/build"));
  if (opts.build !== false || ![...WORKERS, DEV_INGEST].every((w) => existsSync(join(buildDir, w.id, "index.js"))))
    await buildWorkers(buildDir);
  const dev = opts.objectRttMs !== undefined && opts.objectRttMs !== null;
  mkdirSync(persistTo, { recursive: true });

  const devVars = readDevVars();
  // wrangler reads each config's secrets from its own folder; ours live in one root .dev.vars.
  for (const [k, v] of Object.entries(devVars)) process.env[k] ??= v;
  const ports = { ingest: ingestPort, query: queryPort };
  const crons = [];
  const workers = WORKERS.map((w) => {
    const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, w.config));
    if (workerOptions.cronTriggers?.length) crons.push({ name: w.name, crons: workerOptions.cronTriggers });
    const { cronTriggers: _c, rootPath: _r, modulesRules, ...rest } = workerOptions;
    const id = dev && w.primary ? DEV_INGEST.id : w.id;
    return {
      ...rest,
      name: w.name,
      modulesRoot: join(buildDir, id),
      modules: bundleModules(join(buildDir, id), modulesRules),
      // Click links point at this stack's ingest port, whichever it is.
      bindings: {
        ...rest.bindings,
        ...("INGEST_BASE_URL" in (rest.bindings ?? {}) ? { INGEST_BASE_URL: `http://${host}:${ingestPort}` } : {}),
        ...(dev && w.primary ? { EDGECLICK_OBJECT_RTT_MS: String(opts.objectRttMs) } : {}),
        ...(opts.vars ?? {}),
      },
      ...(w.port ? { unsafeDirectSockets: [{ host, port: ports[w.port] }] } : {}),
    };
  });

  bindWorkerdToParent();
  // D1 migrations first, through a runtime with no sockets: the stack accepts no request before its
  // tables exist (the first requests used to meet "no such table").
  const migrations = await migrateFirst(persistTo);

  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host,
      port: 0,
      // No fetch of a real `request.cf` (no internet here); the edge headers (CF-IPCountry, …) stand in.
      cf: false,
      ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
      log: new Log(opts.verbose ? LogLevel.DEBUG : LogLevel.WARN),
      resourcePersistencePath: join(persistTo, "v3"),
      workers,
    }),
  );
  await mf.ready;

  // scheduledTime: when the trigger is due (now); a test gives another to see a minute it set up.
  const fire = async (name, cron, scheduledTime = new Date()) => {
    const worker = await mf.getWorker(name);
    return worker.scheduled({ cron, scheduledTime });
  };
  let timer = null;
  if (opts.crons !== false && crons.length) {
    let last = -1;
    timer = setInterval(() => {
      const now = new Date();
      const minute = Math.floor(now.getTime() / 60_000);
      if (minute === last) return;
      last = minute;
      for (const { name, crons: list } of crons) {
        for (const cron of list)
          if (cronMatches(cron, now)) fire(name, cron).catch((err) => console.error(`cron ${cron} of ${name} failed:`, err));
      }
    }, 1000);
    timer.unref?.();
  }

  return {
    mf,
    migrations,
    ingestUrl: `http://${host}:${ingestPort}`,
    queryUrl: `http://${host}:${queryPort}`,
    persistTo,
    /** Runs a Worker's cron now (e.g. the billing rollup), or as if at `scheduledTime`. */
    fire,
    crons,
    async close() {
      if (timer) clearInterval(timer);
      await mf.dispose();
    },
  };
}
