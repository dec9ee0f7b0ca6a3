/** edgeclick-ingest: the public door for clicks. Routes only; the rules live in domain/ and durable-objects/. */
import { Hono } from "hono";
import { handleClick } from "./click";
import { handlePostEvents } from "./events";
import { methodNotAllowed, withJsonErrors } from "../http";

export { CampaignCounter } from "../../durable-objects/campaign";
export { Blocklist } from "../../durable-objects/blocklist";
export { Leaderboard } from "../../durable-objects/leaderboard";
export { EdgeBuffer } from "../../durable-objects/buffer";

const app = withJsonErrors(new Hono<{ Bindings: IngestEnv }>());
app.get("/click", (c) => handleClick(c.req.raw, c.env));
app.all("/click", methodNotAllowed("GET, HEAD"));
app.post("/v1/events", (c) => handlePostEvents(c.req.raw, c.env));
app.all("/v1/events", methodNotAllowed("POST"));
app.get("/", (c) => c.json({ service: "edgeclick-ingest", endpoints: ["GET /click", "POST /v1/events"] }));
app.get("/healthz", (c) => c.json({ ok: true, service: "edgeclick-ingest" }));

export default { fetch: app.fetch } satisfies ExportedHandler<IngestEnv>;
