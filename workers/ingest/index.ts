/** edgeclick-ingest: the public door for clicks. Routes only; the rules live in domain/ and durable-objects/. */
import { type Context, Hono } from "hono";
import { routingPath, type Endpoint } from "../../domain/api/define";
import { click, health, postConversions, postEvents } from "../../domain/api/routes";
import { handlePostConversions } from "./conversions";
import { handleClick } from "./click";
import { callerOf, type Advertiser, type Publisher } from "./auth";
import { handlePostEvents } from "./events";
import { closeMethods, withJsonErrors } from "../http";

export { CampaignCounter } from "../../durable-objects/campaign";
export { Blocklist } from "../../durable-objects/blocklist";
export { Leaderboard } from "../../durable-objects/leaderboard";
export { EdgeBuffer } from "../../durable-objects/buffer";
export { KeyGate } from "../../durable-objects/key-gate";
export { AlertBox } from "../../durable-objects/alerts";
export { ConversionLedger } from "../../durable-objects/conversions";

type Vars = { Bindings: IngestEnv };
const app = withJsonErrors(new Hono<Vars>());

type Caller = { none: null; publisher: Publisher; advertiser: Advertiser };
type IngestAuth = keyof Caller;

/**
 * Serves a shared definition (domain/api, which the query Worker publishes as OpenAPI): its method and path,
 * and its caller checked as its `auth` says before the handler runs. The handlers read their own input:
 * /click leniently (a bad optional field is dropped), events and conversions one by one.
 */
function serve<A extends IngestAuth>(e: Endpoint, auth: A, handler: (c: Context<Vars>, caller: Caller[A]) => Response | Promise<Response>) {
  // The definition is the one source; the argument only gives the handler its caller's type.
  if (e.auth !== auth) throw new Error(`${e.path}: defined with auth ${e.auth}, served as ${auth}`);
  app.on(e.method.toUpperCase(), routingPath(e.path), async (c) => {
    const caller = (
      auth === "none" ? null : await callerOf(auth as "publisher" | "advertiser", c.req.raw, c.env, c.executionCtx)
    ) as Caller[A];
    return handler(c, caller);
  });
}
serve(click, "none", (c) => handleClick(c.req.raw, c.env));
serve(postEvents, "publisher", (c, publisher) => handlePostEvents(c.req.raw, c.env, publisher));
serve(postConversions, "advertiser", (c, advertiser) => handlePostConversions(c.req.raw, c.env, advertiser));
serve(health, "none", (c) => c.json({ ok: true, service: "edgeclick-ingest" }));
app.get("/", (c) => c.json({ service: "edgeclick-ingest", endpoints: ["GET /click", "POST /v1/events", "POST /v1/conversions"] }));
closeMethods(app);

export default { fetch: app.fetch } satisfies ExportedHandler<IngestEnv>;
