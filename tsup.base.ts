import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

/**
 * `@seamkit/seam-cpu/abi` holds only numeric ABI constants (register slots, exit reasons, GHCI
 * codes). Every package compiles it in from source instead of importing it at run time, so
 * esbuild's `minifySyntax` replaces each use with an immediate value. V8 cannot fold an imported
 * binding (each use is a cell load plus a hole check, and `RCX * 2` becomes real arithmetic and
 * a bounds check with an unknown index); on the TDVMCALL path that was ~20% of the time.
 * Nothing with identity (classes, tables) lives in that entry, so a compiled-in copy is safe.
 */
const ABI_SOURCE = fileURLToPath(new URL('./packages/seam-cpu/src/abi/index.ts', import.meta.url));
const inlineCpuAbi = {
  name: 'seamkit-inline-cpu-abi',
  setup(build: { onResolve: (o: { filter: RegExp }, cb: () => { path: string }) => void }): void {
    build.onResolve({ filter: /^@seamkit\/seam-cpu\/abi$/ }, () => ({ path: ABI_SOURCE }));
  },
};

/**
 * Shared build for every @seamkit package: ESM + CJS + .d.ts from src/index.ts (and any extra
 * entries a package names). `ignoreDeprecations` works around tsup 8.5.1 injecting `baseUrl`
 * into the dts build under TypeScript 6. `minifySyntax` folds constants (names and comments stay).
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
    minifySyntax: true,
    noExternal: [/^@seamkit\/seam-cpu\/abi$/],
    esbuildPlugins: [inlineCpuAbi],
    ...extra,
  });
}

export default seamkitBuild();
