/** edgeclick-ingest: the public door for clicks. Routes only; the rules live in domain/ and durable-objects/. */
import { type Context, Hono } from "hono";
import { routingPath, type Endpoint } from "../../domain/api/define";
import { click, health, postEvents } from "../../domain/api/routes";
import { handleClick } from "./click";
import { publisherOf, type Publisher } from "./auth";
import { handlePostEvents } from "./events";
import { closeMethods, withJsonErrors } from "../http";

export { CampaignCounter } from "../../durable-objects/campaign";
export { Blocklist } from "../../durable-objects/blocklist";
export { Leaderboard } from "../../durable-objects/leaderboard";
export { EdgeBuffer } from "../../durable-objects/buffer";
export { PublisherGate } from "../../durable-objects/publisher-gate";
export { AlertBox } from "../../durable-objects/alerts";

type Vars = { Bindings: IngestEnv };
const app = withJsonErrors(new Hono<Vars>());

/**
 * Serves a shared definition (domain/api, which the query Worker publishes as OpenAPI): its method and path,
 * and its caller checked as its `auth` says before the handler runs. The handlers read their own input:
 * /click leniently (a bad optional field is dropped), events one by one.
 */
function serve(e: Endpoint, handler: (c: Context<Vars>, publisher: Publisher | null) => Response | Promise<Response>): void {
  if (e.auth !== "none" && e.auth !== "publisher") throw new Error(`${e.path}: ${e.auth} endpoints live on the query Worker`);
  app.on(e.method.toUpperCase(), routingPath(e.path), async (c) =>
    handler(c, e.auth === "publisher" ? await publisherOf(c.req.raw, c.env, c.executionCtx) : null),
  );
}
serve(click, (c) => handleClick(c.req.raw, c.env));
serve(postEvents, (c, publisher) => handlePostEvents(c.req.raw, c.env, publisher!));
serve(health, (c) => c.json({ ok: true, service: "edgeclick-ingest" }));
app.get("/", (c) => c.json({ service: "edgeclick-ingest", endpoints: ["GET /click", "POST /v1/events"] }));
closeMethods(app);

export default { fetch: app.fetch } satisfies ExportedHandler<IngestEnv>;
