// A stand-in for the wrangler CLI, for running `npm run deploy`'s real mode with no Cloudflare account: it answers
// the calls scripts/deploy.mjs makes from an account kept in a JSON file (FAKE_ACCOUNT), prints what wrangler
// prints where the script reads it, and logs every call (FAKE_LOG). `fail` in the account: a call containing it fails;
// secrets are kept by config path.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";

const argv = process.argv.slice(2);
const account = JSON.parse(readFileSync(process.env.FAKE_ACCOUNT, "utf8"));
const save = () => writeFileSync(process.env.FAKE_ACCOUNT, JSON.stringify(account));
appendFileSync(process.env.FAKE_LOG, `${JSON.stringify(argv)}\n`);
const flag = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const cmd = argv[0] === "deploy" ? "deploy" : argv.slice(0, 2).join(" ");
const die = (message) => {
  console.error(`✘ [ERROR] ${message}`);
  process.exit(1);
};

if (account.fail && argv.join(" ").includes(account.fail)) die("A request to the Cloudflare API failed. [code: 10000]");
if (cmd === "d1 list") console.log(JSON.stringify(account.d1.map((d) => ({ ...d, version: "production" }))));
else if (cmd === "queues list") {
  const rows = flag("--page") === "1" ? account.queues.map((q) => `│ ${q.padEnd(24)} │`) : [];
  console.log(["┌──────────────────────────┐", "│ name                     │", ...rows, "└──────────────────────────┘"].join("\n"));
} else if (cmd === "r2 bucket" && argv[2] === "info") {
  const j = flag("--jurisdiction") ?? null;
  if (!account.r2.some((b) => b.name === argv[3] && b.jurisdiction === j)) die("The specified bucket does not exist. [code: 10006]");
  console.log(JSON.stringify({ name: argv[3] }));
} else if (cmd === "secret list") {
  const secrets = account.secrets[flag("-c")];
  if (!secrets) die(`Worker "${flag("-c")}" not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.`);
  console.log(JSON.stringify(secrets.map((s) => ({ name: s, type: "secret_text" }))));
} else if (cmd === "d1 create") {
  account.d1.push({ name: argv[2], uuid: "9e3b1c2d-0000-4000-8000-00000000d1d1" });
  console.log(`✅ Successfully created DB '${argv[2]}'`);
} else if (cmd === "r2 bucket" && argv[2] === "create") account.r2.push({ name: argv[3], jurisdiction: flag("--jurisdiction") ?? null });
else if (cmd === "queues create") account.queues.push(argv[2]);
else if (cmd === "d1 migrations" && argv[2] === "apply") account.migrated = true;
else if (cmd === "d1 migrations" && argv[2] === "list")
  console.log(account.migrated ? "✅ No migrations to apply!" : "Migrations to be applied:");
else if (cmd === "deploy") {
  const config = JSON.parse(readFileSync(flag("-c"), "utf8"));
  account.deployed.push({ name: config.name, d1: (config.d1_databases ?? []).map((d) => d.database_id), argv });
  if (process.env.WRANGLER_OUTPUT_FILE_PATH) {
    const entry = { version: 1, type: "deploy", worker_name: config.name, targets: [`https://${config.name}.fake.workers.dev`] };
    appendFileSync(process.env.WRANGLER_OUTPUT_FILE_PATH, `${JSON.stringify(entry)}\n`);
  }
} else die(`the fake wrangler does not know ${argv.join(" ")}`);
save();
