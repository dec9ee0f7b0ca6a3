// The Workers of edgeclick, in the order the local stack starts them. The first one hosts the
// Durable Objects; ingest and query listen on the CONTRACT ports.
export const WORKERS = [
  { id: "ingest", name: "edgeclick-ingest", config: "wrangler.toml", envInterface: "IngestEnv", primary: true, port: "ingest" },
  { id: "query", name: "edgeclick-query", config: "workers/query/wrangler.toml", envInterface: "QueryEnv", port: "query" },
  { id: "aggregator", name: "edgeclick-aggregator", config: "workers/aggregator/wrangler.toml", envInterface: "AggregatorEnv" },
  { id: "batch", name: "edgeclick-batch", config: "r2-batch/wrangler.toml", envInterface: "BatchEnv" },
];

// The order `npm run deploy` uploads them in: the Durable Objects' host first (the others bind its classes
// by script_name), the batch Worker before query (query's BATCH service binding names it), and query last
// because it needs the ingest Worker's URL. scripts/deploy-plan.mjs checks these bindings against it.
export const DEPLOY_ORDER = ["ingest", "batch", "aggregator", "query"];
