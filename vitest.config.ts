import { defineConfig } from 'vitest/config';

/**
 * Three layers (STYLE.md): unit (pure logic), api (HTTP against the embedded runtime, started once by
 * test/api/global-setup.ts), infra (CDK synth + assertions + cdk-nag).
 */
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'api',
          include: ['test/api/**/*.test.ts'],
          globalSetup: ['test/api/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      { test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000 } },
    ],
  },
});
