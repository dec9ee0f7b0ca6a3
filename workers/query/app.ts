/** The query Worker's routes: every endpoint defined in domain/api, served and documented from one place. */
import * as api from "../../domain/api/routes";
import { adminRoutes } from "./admin";
import { attributionRoutes } from "./attribution";
import { auditRoutes } from "./audit";
import { recalculationRoutes } from "./recalculation";
import { dashboardResponse } from "./dashboard";
import { openApiResponse, registerComponents } from "./openapi";
import { opsPageResponse } from "./ops-page";
import { opsRoutes } from "./ops";
import { readRoutes } from "./reads";
import { keyRoutes } from "./keys";
import { alertRoutes } from "./alerts";
import { closeMethods, withJsonErrors } from "../http";
import { mount, queryApp } from "./mount";

export const app = withJsonErrors(queryApp());

// Public, no key: the API description, readiness, and the pages (which ask for the key themselves).
mount(app, api.openapi, (c) => openApiResponse(c.req.raw, c.env, app));
mount(app, api.dashboard, () => dashboardResponse());
mount(app, api.opsPage, () => opsPageResponse());
mount(app, api.health, async (c) => {
  try {
    const row = await c.env.DB.prepare("SELECT COUNT(*) AS n FROM d1_migrations").first<{ n: number }>();
    return c.json({ ok: true, service: "edgeclick-query", migrations: row?.n ?? 0 });
  } catch {
    const error = { code: "not_ready", message: "The registry database is not reachable or not migrated yet." };
    return c.json({ ok: false, service: "edgeclick-query", error }, 503);
  }
});
adminRoutes(app);
opsRoutes(app);
readRoutes(app);
keyRoutes(app);
alertRoutes(app);
attributionRoutes(app);
auditRoutes(app);
recalculationRoutes(app);
app.get("/", (c) => c.json({ service: "edgeclick-query", docs: "/openapi.json", dashboard: "/dashboard" }));
closeMethods(app);
registerComponents(app);
