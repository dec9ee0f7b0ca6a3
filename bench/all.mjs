// `npm run bench`: bench/run.mjs (/click next to a trivial Worker), then bench/do.mjs (one campaign's
// events/s) and bench/rpc.mjs (the runtime's floor), each given the same flags (`npm run bench --
// --duration=4` reaches all three; a script ignores the flags it does not know). Stops at the first failure.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const flags = process.argv.slice(2);
for (const script of ["run.mjs", "do.mjs", "rpc.mjs"]) {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, script), ...flags], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
