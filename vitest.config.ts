import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string): string => fileURLToPath(new URL(`./packages/${p}`, import.meta.url));
const packages = ['seam-cpu', 'core', 'tdx-module', 'kvm', 'plugin-quote', 'plugin-fatal', 'cli'];

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources of sibling packages, not their dist.
    alias: [
      { find: /^@seamkit\/core\/testing$/, replacement: src('core/src/testing/index.ts') },
      { find: /^@seamkit\/seam-cpu\/abi$/, replacement: src('seam-cpu/src/abi/index.ts') },
      { find: /^@seamkit\/kvm\/uapi$/, replacement: src('kvm/src/uapi/index.ts') },
      { find: /^@seamkit\/(seam-cpu|core|tdx-module|kvm|plugin-quote|plugin-fatal)$/, replacement: src('$1/src/index.ts') },
      { find: /^seamkit$/, replacement: src('cli/src/index.ts') },
    ],
  },
  test: {
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, root: `packages/${name}`, include: ['src/**/*.spec.ts'], exclude: ['src/**/*.int.spec.ts'] },
      })),
      {
        extends: true as const,
        test: { name: 'integration', include: ['packages/*/src/**/*.int.spec.ts', 'examples/**/*.spec.ts'], testTimeout: 60_000 },
      },
    ],
  },
});
