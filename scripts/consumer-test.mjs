#!/usr/bin/env node
// Packs every workspace package with `npm pack`, installs the tarballs into a fresh consumer
// project outside the workspace, and uses them from ESM, from CommonJS and from TypeScript
// (typechecked against the published .d.ts). Exits non-zero on any failure.
// Usage: node scripts/consumer-test.mjs [--keep]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const dir = mkdtempSync(join(tmpdir(), 'seamkit-consumer-'));
const packs = join(dir, 'packs');
const app = join(dir, 'app');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
try {
  execFileSync('mkdir', ['-p', packs, app]);
  const pkgs = ['seam-cpu', 'core', 'tdx-module', 'kvm', 'plugin-quote', 'plugin-fatal', 'cli'];
  for (const p of pkgs) run(npm, ['pack', '-w', `packages/${p}`, '--pack-destination', packs, '--silent'], root);
  const tarballs = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
  for (const t of tarballs) {
    const files = run('tar', ['tzf', join(packs, t)], root).trim().split('\n');
    const bad = files.filter((f) => !/^package\/(dist\/|bin\/|README\.md$|LICENSE$|CHANGELOG\.md$|package\.json$)/.test(f) || /\.spec\./.test(f));
    if (bad.length) throw new Error(`${t} contains files users do not need: ${bad.join(', ')}`);
  }
  const deps = Object.fromEntries(tarballs.map((t) => {
    const name = t === 'seamkit-0.1.0.tgz' ? 'seamkit' : `@seamkit/${t.replace(/^seamkit-/, '').replace(/-0\.1\.0\.tgz$/, '')}`;
    return [name, `file:${join(packs, t)}`];
  }));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0', dependencies: deps }, null, 2));
  run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);

  const esm = `
import { createVmm } from '@seamkit/core';
import { kvmModule } from '@seamkit/kvm';
import { KVM_EXIT_TDX } from '@seamkit/kvm/uapi';
import { fatalModule } from '@seamkit/plugin-fatal';
import { quoteModule } from '@seamkit/plugin-quote';
import { fromGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { LeafTestBed } from '@seamkit/core/testing';
import { runScenario, basic } from 'seamkit';
const vmm = createVmm({ modules: [kvmModule(), quoteModule, fatalModule] });
let status;
const td = vmm.createTd({ guest: fromGenerator(function* (cpu) { status = yield* ghci.tdvmcall(cpu, 0x12345); }) });
td.runners[0].run();
if (status !== 0x8000000000000003n) throw new Error('esm: bad status ' + status);
if (KVM_EXIT_TDX !== 40) throw new Error('esm: uapi');
if (typeof LeafTestBed !== 'function') throw new Error('esm: testing');
if (runScenario(basic).tdvmcalls !== 4) throw new Error('esm: cli');
console.log('esm ok');
`;
  const cjs = `
const { createVmm } = require('@seamkit/core');
const { kvmModule } = require('@seamkit/kvm');
const { KVM_RUN_LAYOUT } = require('@seamkit/kvm/uapi');
const { fromGenerator } = require('@seamkit/seam-cpu');
const { ghci } = require('@seamkit/tdx-module');
const { fatalModule } = require('@seamkit/plugin-fatal');
const vmm = createVmm({ modules: [kvmModule(), fatalModule] });
let panic;
vmm.on((e) => { panic = e; });
const td = vmm.createTd({ guest: fromGenerator(function* (cpu) { yield* ghci.reportFatalError(cpu, 0n, 'cjs'); }) });
td.runners[0].run();
if (!panic || panic.message !== 'cjs') throw new Error('cjs: no panic');
if (KVM_RUN_LAYOUT['tdx.nr'].offset !== 40) throw new Error('cjs: uapi');
console.log('cjs ok');
`;
  const ts = `
import { createVmm, LEAF_EXIT, type LeafContext, type LeafPlugin, type VmmEvent } from '@seamkit/core';
import { LeafTestBed } from '@seamkit/core/testing';
import { kvmModule } from '@seamkit/kvm';
import { KVM_RUN_LAYOUT } from '@seamkit/kvm/uapi';
import { R10, type GuestProgram } from '@seamkit/seam-cpu';
class Mine implements LeafPlugin {
  readonly meta = { name: 'my.leaf', namespace: 'vendor', leaf: 0x50001, exit: { reason: 0x2000, layout: { ret: KVM_RUN_LAYOUT['tdx.unknown.ret'] } } } as const;
  kernel(ctx: LeafContext): number { ctx.regs.setHalves(R10, 0, 0); return LEAF_EXIT; }
}
const bed: LeafTestBed<Mine> = new LeafTestBed(new Mine());
const reason: number = bed.tdvmcall({ r11: 1n }).exitReason;
const guest: GuestProgram = () => ({ step: () => 2 });
const vmm = createVmm({ modules: [kvmModule()] });
vmm.on((e: VmmEvent) => void e.type);
export { reason, guest };
`;
  writeFileSync(join(app, 'esm.mjs'), esm);
  writeFileSync(join(app, 'cjs.cjs'), cjs);
  writeFileSync(join(app, 'consumer.ts'), ts);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules/@types')], skipLibCheck: false, exactOptionalPropertyTypes: true },
    files: ['consumer.ts'],
  }));
  console.log(run(process.execPath, ['esm.mjs'], app).trim());
  console.log(run(process.execPath, ['cjs.cjs'], app).trim());
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
  console.log('typescript ok');
  const help = run(process.execPath, [join(app, 'node_modules/.bin/seamkit'), '--help'], app);
  if (!help.includes('Usage: seamkit')) throw new Error('bin: no help');
  console.log('bin ok');
} finally {
  if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
