import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    // Integration and browser tests start servers and Chromium: one file at a time keeps a 2-core
    // machine's timings sane; unit files are fast either way.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Every file fails when it leaves sockets, timers (unref'd too), workers or processes behind.
    setupFiles: ['tests/helpers/leak-setup.ts'],
    reporters: ['default', './tests/helpers/summary-reporter.ts'],
  },
});
