import { defineConfig } from 'vitest/config';

// Two projects: the default suite (`npm test`, minutes) and the slow statistical checks
// (`npm run test:stat`). Benchmarks are not tests: they live in test/bench and run with `npm run bench`.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'default',
          include: ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts', 'test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'statistical',
          include: ['test/statistical/**/*.test.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
