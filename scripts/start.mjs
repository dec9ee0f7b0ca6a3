// `npm start`: the whole edgeclick stack on the local Workers runtime, state under .wrangler/state.
import { createServer } from "node:net";
import { readDevVars, startStack } from "./stack.mjs";

const env = process.env;
const started = Date.now();
const ports = { ingest: Number(env.INGEST_PORT ?? 8787), query: Number(env.QUERY_PORT ?? 8788) };

/** Whether something already listens on 127.0.0.1:port (another `npm start`, most likely). */
const inUse = (port) =>
  new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", (err) => resolve(err.code === "EADDRINUSE"));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(false)));
  });
for (const [name, port] of Object.entries(ports)) {
  if (await inUse(port)) {
    console.error(
      `edgeclick: port ${port} (${name}) is already in use — is another \`npm start\` running?\n` +
        `Stop it, or pick other ports: INGEST_PORT=9787 QUERY_PORT=9788 npm start (and EDGECLICK_STATE=DIR for separate state).`,
    );
    process.exit(1);
  }
}
// Registered before the stack starts: Miniflare's own exit hook, added when it starts, ends the process
// at once on Ctrl+C (after stopping workerd), so ours must run first to say so.
let stack = null;
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\nedgeclick: stopping…");
  await stack?.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
console.log("edgeclick: bundling the Workers with wrangler and starting the local Workers runtime…");
stack = await startStack({
  ingestPort: ports.ingest,
  queryPort: ports.query,
  persistTo: env.EDGECLICK_STATE,
  // A bundle already built (by a test or an earlier start) can be reused with EDGECLICK_SKIP_BUILD=1.
  buildDir: env.EDGECLICK_BUILD_DIR,
  build: env.EDGECLICK_SKIP_BUILD !== "1",
  crons: env.EDGECLICK_CRONS !== "0",
  // Simulated distance to the campaign objects (dev only): EDGECLICK_OBJECT_RTT_MS=150 npm start.
  // (EDGECLICK_FAULTS needs the same dev entry: EDGECLICK_OBJECT_RTT_MS=0 EDGECLICK_FAULTS=queue npm start.)
  objectRttMs: env.EDGECLICK_OBJECT_RTT_MS ? Number(env.EDGECLICK_OBJECT_RTT_MS) : undefined,
  vars: env.EDGECLICK_FAULTS ? { EDGECLICK_FAULTS: env.EDGECLICK_FAULTS } : undefined,
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
