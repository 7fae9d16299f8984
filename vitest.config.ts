import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // Native tests share 2 cores: run files one after another.
    fileParallelism: false,
    reporters: ['default', './test/closing-line-reporter.ts'],
  },
});
