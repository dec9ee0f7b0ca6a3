import { applyD1Migrations, env, type D1Migration } from "cloudflare:test";

// vitest.config.ts reads migrations/ and passes them in; every test file starts with the real schema.
await applyD1Migrations(env.DB, (env as Cloudflare.Env & { TEST_MIGRATIONS: D1Migration[] }).TEST_MIGRATIONS);
