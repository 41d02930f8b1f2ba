import { defineConfig } from "vitest/config";

// Browser tests start servers and chromium: one file at a time, generous timeouts.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
