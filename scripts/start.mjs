// `npm start`: the whole edgeclick stack on the local Workers runtime, state under .wrangler/state.
import { readDevVars, startStack } from "./stack.mjs";

const env = process.env;
const started = Date.now();
console.log("edgeclick: bundling the Workers with wrangler and starting the local Workers runtime…");
const stack = await startStack({
  ingestPort: Number(env.INGEST_PORT ?? 8787),
  queryPort: Number(env.QUERY_PORT ?? 8788),
  persistTo: env.EDGECLICK_STATE,
  // A bundle already built (by a test or an earlier start) can be reused with EDGECLICK_SKIP_BUILD=1.
  buildDir: env.EDGECLICK_BUILD_DIR,
  build: env.EDGECLICK_SKIP_BUILD !== "1",
  crons: env.EDGECLICK_CRONS !== "0",
  // Simulated distance to the campaign objects (dev only): EDGECLICK_OBJECT_RTT_MS=150 npm start.
  objectRttMs: env.EDGECLICK_OBJECT_RTT_MS ? Number(env.EDGECLICK_OBJECT_RTT_MS) : undefined,
  verbose: env.EDGECLICK_VERBOSE === "1",
});
const token = readDevVars().ADMIN_TOKEN;
console.log(`
edgeclick is running (${((Date.now() - started) / 1000).toFixed(1)} s)

  Ingest (clicks, events):   ${stack.ingestUrl}
  Query (API, dashboard):    ${stack.queryUrl}      dashboard: ${stack.queryUrl}/dashboard
  Admin token (local only):  ${token}
  State:                     ${stack.persistTo}${env.EDGECLICK_OBJECT_RTT_MS ? `\n  Simulated distance:        every call to a campaign object waits ${env.EDGECLICK_OBJECT_RTT_MS} ms (dev only)` : ""}
  Crons:                     ${stack.crons.map((c) => `${c.name} ${c.crons.join(" ")}`).join("; ")}
${stack.migrations.length ? `  D1 migrations applied:     ${stack.migrations.join(", ")}\n` : ""}
Try: curl -s -X POST ${stack.queryUrl}/v1/admin/advertisers -H 'Authorization: Bearer ${token}' -d '{"name":"Acme"}'
Press Ctrl+C to stop.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\nedgeclick: stopping…");
  await stack.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
