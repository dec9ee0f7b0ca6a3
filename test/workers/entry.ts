/**
 * Entry of the test Worker: the real ingest, query and aggregator Workers behind one fetch (by host:
 * `ingest.test` or anything else for query), the queue consumer, and the r2-batch entrypoint.
 */
import ingest from "../../workers/ingest/index";
import query from "../../workers/query/index";
import aggregator from "../../workers/aggregator/index";
import { type BatchJob, consumeRollup } from "../../r2-batch/index";

export { CampaignCounter, Blocklist, Leaderboard, EdgeBuffer, KeyGate, AlertBox, ConversionLedger } from "../../workers/ingest/index";
export { default as Batch } from "../../r2-batch/index";

export type TestEnv = IngestEnv & QueryEnv & AggregatorEnv & BatchEnv;

export default {
  fetch(req, env, ctx) {
    const host = new URL(req.url).hostname;
    return host === "ingest.test" ? ingest.fetch(req, env, ctx) : query.fetch(req, env, ctx);
  },
  queue(batch, env) {
    if (batch.queue === "edgeclick-rollup") return consumeRollup(batch as MessageBatch<BatchJob>, env);
    return aggregator.queue(batch as never, env);
  },
} satisfies ExportedHandler<TestEnv>;
