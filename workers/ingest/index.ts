/** edgeclick-ingest: the public door for clicks. Routes only; the rules live in domain/ and durable-objects/. */
import { Hono, type Handler } from "hono";
import { routingPath, type Endpoint } from "../../domain/api/define";
import { click, health, postConversions, postEvents } from "../../domain/api/routes";
import { handlePostConversions } from "./conversions";
import { handleClick } from "./click";
import { handlePostEvents } from "./events";
import { closeMethods, withJsonErrors } from "../http";

export { CampaignCounter } from "../../durable-objects/campaign";
export { Blocklist } from "../../durable-objects/blocklist";
export { Leaderboard } from "../../durable-objects/leaderboard";
export { EdgeBuffer } from "../../durable-objects/buffer";
export { PublisherGate } from "../../durable-objects/publisher-gate";
export { ConversionLedger } from "../../durable-objects/conversions";

type Vars = { Bindings: IngestEnv };
const app = withJsonErrors(new Hono<Vars>());

// Routed from the shared definitions (domain/api) that the query Worker publishes as OpenAPI. Both handlers
// read their own input: /click leniently (a bad optional field is dropped), events one by one.
const serve = (e: Endpoint, handler: Handler<Vars>) => app.on(e.route.method.toUpperCase(), routingPath(e.route.path), handler);
serve(click, (c) => handleClick(c.req.raw, c.env));
serve(postEvents, (c) => handlePostEvents(c.req.raw, c.env));
serve(postConversions, (c) => handlePostConversions(c.req.raw, c.env));
serve(health, (c) => c.json({ ok: true, service: "edgeclick-ingest" }));
app.get("/", (c) => c.json({ service: "edgeclick-ingest", endpoints: ["GET /click", "POST /v1/events", "POST /v1/conversions"] }));
closeMethods(app);

export default { fetch: app.fetch } satisfies ExportedHandler<IngestEnv>;
