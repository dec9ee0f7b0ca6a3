// The Workers of edgeclick, in the order the local stack starts them. The first one hosts the
// Durable Objects; ingest and query listen on the CONTRACT ports.
export const WORKERS = [
  { id: "ingest", name: "edgeclick-ingest", config: "wrangler.toml", envInterface: "IngestEnv", primary: true, port: "ingest" },
  { id: "query", name: "edgeclick-query", config: "workers/query/wrangler.toml", envInterface: "QueryEnv", port: "query" },
  { id: "aggregator", name: "edgeclick-aggregator", config: "workers/aggregator/wrangler.toml", envInterface: "AggregatorEnv" },
  { id: "batch", name: "edgeclick-batch", config: "r2-batch/wrangler.toml", envInterface: "BatchEnv" },
];
