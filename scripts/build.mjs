// `npm run build`: bundles every Worker exactly as `wrangler deploy` would (`deploy --dry-run`), into
// .wrangler/build/<worker>/index.js (and the dev-only ingest entry beside them), and prints their sizes.
import { statSync } from "node:fs";
import { join } from "node:path";
import { DEV_INGEST, ROOT, buildWorkers } from "./stack.mjs";
import { WORKERS } from "./workers.mjs";

const out = join(ROOT, ".wrangler/build");
await buildWorkers(out);
for (const w of [...WORKERS, { ...DEV_INGEST, name: "dev ingest entry (local only)" }]) {
  const size = statSync(join(out, w.id, "index.js")).size;
  console.log(`${w.name.padEnd(32)} ${(size / 1024).toFixed(0).padStart(6)} KiB  ${join(".wrangler/build", w.id, "index.js")}`);
}
