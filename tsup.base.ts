import { defineConfig, type Options } from 'tsup';

/**
 * Shared build for every @seamkit package: ESM + CJS + .d.ts from src/index.ts (and any extra
 * entries a package names). `ignoreDeprecations` works around tsup 8.5.1 injecting `baseUrl`
 * into the dts build under TypeScript 6.
 */
export function seamkitBuild(extra: Partial<Options> = {}): ReturnType<typeof defineConfig> {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
    sourcemap: true,
    clean: true,
    target: 'node20',
    tsconfig: 'tsconfig.json',
    ...extra,
  });
}

export default seamkitBuild();
