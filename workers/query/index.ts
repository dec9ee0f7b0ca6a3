/** edgeclick-query: the registry (admin), the real-time and billing API. Routes only. */
import { Hono } from "hono";
import { withJsonErrors } from "../http";
import { admin } from "./admin";
import { dashboardResponse } from "./dashboard";
import { openApiResponse } from "./openapi";
import { opsPageResponse } from "./ops-page";
import { ops } from "./ops";
import { reads } from "./reads";

const app = withJsonErrors(new Hono<{ Bindings: QueryEnv }>());
// Public, no key: the API description and the dashboard page (which asks for the key itself).
app.get("/openapi.json", (c) => openApiResponse(c.req.raw, c.env));
app.get("/dashboard", () => dashboardResponse());
app.get("/ops", () => opsPageResponse());
app.route("/v1/admin", admin);
app.route("/v1/ops", ops);
app.route("/v1", reads);
app.get("/", (c) => c.json({ service: "edgeclick-query", docs: "/openapi.json", dashboard: "/dashboard" }));
// Ready when the registry answers: D1 reachable and migrated.
app.get("/healthz", async (c) => {
  try {
    const row = await c.env.DB.prepare("SELECT COUNT(*) AS n FROM d1_migrations").first<{ n: number }>();
    return c.json({ ok: true, service: "edgeclick-query", migrations: row?.n ?? 0 });
  } catch {
    return c.json({ ok: false, service: "edgeclick-query", error: { code: "not_ready", message: "The registry database is not reachable or not migrated yet." } }, 503);
  }
});

export default { fetch: app.fetch } satisfies ExportedHandler<QueryEnv>;
