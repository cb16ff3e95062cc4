import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));
const built = ['core', 'tdx-module', 'kvm', 'plugin-quote', 'plugin-fatal', 'cli'];

/** The JavaScript a package ships (ESM and CommonJS), file by file. */
function distJs(pkg: string): [string, string][] {
  const dir = `${packagesDir}${pkg}/dist/`;
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(c?js)$/.test(f))
    .map((f) => [f, readFileSync(`${dir}${f}`, 'utf8')]);
}

describe('the build', () => {
  // docs/performance.md: V8 cannot fold an imported constant, so every package compiles the CPU
  // ABI constants in and the TDVMCALL path indexes register halves with immediate offsets.
  it.each(built)('compiles @seamkit/seam-cpu/abi into %s instead of importing it at run time', (pkg) => {
    for (const [file, js] of distJs(pkg)) expect(js.includes('@seamkit/seam-cpu/abi'), `${pkg}/dist/${file}`).toBe(false);
  });

  it('leaves the TD exit of TDG.VP.VMCALL with literal register offsets (RAX = 77, RCX = the bitmap)', () => {
    const js = distJs('tdx-module').find(([f]) => f === 'index.js')![1];
    expect(js).toMatch(/hu\[0\] = 77, hu\[1\] = 0, hu\[2\] = bitmap, hu\[3\] = 0/);
    expect(js).not.toMatch(/hu\[RAX/);
  });
});
