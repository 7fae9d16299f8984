import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // Native tests share 2 cores: run files one after another.
    fileParallelism: false,
    // Runs started by tests keep their decode caches out of the user's ~/.cache.
    env: { THTL_CACHE_DIR: join(tmpdir(), 'thtl-native-test-cache') },
    reporters: ['default', './test/closing-line-reporter.ts'],
  },
});
