// Generates the binding types of every Worker with `wrangler types` (never edit types/ by hand).
//   node scripts/types.mjs          write types/
//   node scripts/types.mjs --check  fail if types/ is not what the configs generate (leaves types/ as it was)
// `wrangler types` declares the global `Cloudflare.Env` for each config it runs on; compiled together
// those declarations collide, so only the primary Worker (ingest, which hosts the Durable Objects)
// keeps them and the others contribute just their named Env interface.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { WORKERS } from "./workers.mjs";

const check = process.argv.includes("--check");
const wrangler = (args) =>
  execFileSync(process.execPath, ["node_modules/wrangler/bin/wrangler.js", "types", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  });

function onlyEnvInterfaces(text) {
  const keep = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (/^(declare namespace|declare module|type StringifyValues)/.test(lines[i])) {
      while (i < lines.length && !/^};?$/.test(lines[i])) i++;
      continue;
    }
    keep.push(lines[i]);
  }
  return `${keep
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trimEnd()}\n`;
}

const targets = [
  { path: "types/runtime.d.ts", args: ["-c", "wrangler.toml", "--include-env=false"] },
  ...WORKERS.map((w) => ({
    path: `types/${w.id}-env.d.ts`,
    args: ["-c", w.config, "--include-runtime=false", `--env-interface=${w.envInterface}`],
    post: w.primary ? (t) => t : onlyEnvInterfaces,
  })),
];

const stale = [];
for (const t of targets) {
  const before = existsSync(t.path) ? readFileSync(t.path, "utf8") : null;
  wrangler([...t.args, t.path]);
  const text = (t.post ?? ((x) => x))(readFileSync(t.path, "utf8").replace(/ \(hash: [0-9a-f]+\)/, ""));
  if (check) {
    if (before !== text) stale.push(t.path);
    if (before === null) rmSync(t.path);
    else writeFileSync(t.path, before);
  } else writeFileSync(t.path, text);
}
if (stale.length) {
  console.error(`Generated types are out of date: ${stale.join(", ")}. Run \`npm run types\` and commit the result.`);
  process.exit(1);
}
console.log(check ? "types/ is up to date" : `wrote ${targets.map((t) => t.path).join(", ")}`);
