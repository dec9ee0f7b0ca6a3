/** edgeclick-query: the registry (admin), the real-time and billing API, the OpenAPI document and the pages. */
import { app } from "./app";

export default { fetch: app.fetch } satisfies ExportedHandler<QueryEnv>;
