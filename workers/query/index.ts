/** edgeclick-query: the registry (admin), the real-time and billing API, the OpenAPI document and the pages. */
import { evaluateAlerts } from "./alerts";
import { app } from "./app";

export default {
  fetch: app.fetch,
  // Every minute (wrangler.toml): advertisers' alerts, evaluated at the trigger's own time.
  async scheduled(controller, env) {
    await evaluateAlerts(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<QueryEnv>;
