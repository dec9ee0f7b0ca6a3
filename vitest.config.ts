import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      {
        // Unit and integration tests inside workerd, with real Durable Objects, Queues, R2 and D1.
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./test/wrangler.test.toml" },
            miniflare: {
              bindings: {
                ADMIN_TOKEN: "test-admin-token",
                IP_HASH_KEY: "test-ip-hash-key",
                CLICK_SIGNING_KEYS: "k2:test-signing-key-two,k1:test-signing-key-one",
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          setupFiles: ["./test/workers/setup.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // End to end: the real local stack (scripts/stack.mjs) on its own ports and state, over HTTP.
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        // Exactly once under crashes: the stack in its own process group, SIGKILLed under load.
        test: {
          name: "crash",
          environment: "node",
          include: ["test/crash/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
