import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KVM_RUN_LAYOUT } from '@seamkit/kvm/uapi';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

function seamkit(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('the built seamkit CLI', () => {
  it('is built (run `npm run build` first)', () => {
    expect(existsSync(bin)).toBe(true);
  });

  describe('run', () => {
    it('runs the main job: one line per TDVMCALL and a summary', () => {
      const r = seamkit('run');
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines.find((l) => l.includes('TDVMCALL GetQuote -> KVM_EXIT_TDX (40)'))).toMatch(/ret=0x8000000000000003 gpa=0x200000 size=0x2000/);
      expect(lines.find((l) => l.includes('completion of GetQuote'))).toMatch(/guest R10=0x0 \(SUCCESS\)/);
      expect(lines.find((l) => l.includes('leaf 0x100ff'))).toMatch(/no plugin registered\) -> guest R10=0x8000000000000003 \(SUBFUNC_UNSUPPORTED\)/);
      expect(lines.find((l) => l.includes('ReportFatalError -> KVM_EXIT_SYSTEM_EVENT (24)'))).toMatch(/ndata=0x10 data=\[0x4d,0xffcc,/);
      expect(r.stdout).toContain('TDX guest reports fatal error. error code: 0x0 error message:"seamkit basic: done on vCPU 0"');
      expect(r.stdout).toMatch(/TDVMCALLs\s+4 \(1 answered in the kernel model, 3 exited to userspace\)/);
      expect(lines.find((l) => l.includes('TDVMCALL MapGPA -> KVM_EXIT_HYPERCALL (3)'))).toMatch(/args=\[0x200000,0x2,0x0,/);
      expect(r.stdout).toMatch(/userspace exits KVM_EXIT_HYPERCALL x1, KVM_EXIT_TDX x1, KVM_EXIT_SYSTEM_EVENT x1/);
      expect(r.stdout).toMatch(/TD MRTD\s+[0-9a-f]{96}\n/);
    });

    it('prints one JSON object per line with --json, ending with the summary', () => {
      const r = seamkit('run', 'basic', '--json');
      expect(r.code).toBe(0);
      const objs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(objs.map((o) => o['kind'])).toEqual(['exit', 'complete', 'exit', 'complete', 'kernel', 'exit', 'event', 'summary']);
      expect(objs[0]).toMatchObject({ leaf: 0x10001, reason: 3 });
      expect(objs[2]).toMatchObject({ leaf: 0x10002, reason: 40, fields: { ret: '0x8000000000000003', gpa: '0x200000', size: '0x2000' } });
      expect(objs.at(-1)).toMatchObject({ kind: 'summary', tdvmcalls: 4, kernelAnswered: 1, vcpuStates: ['finished'] });
    });

    it('is deterministic: the same MRTD every run', () => {
      const a = JSON.parse(seamkit('run', '--json').stdout.trim().split('\n').at(-1)!) as { mrtd: string };
      const b = JSON.parse(seamkit('run', '--json').stdout.trim().split('\n').at(-1)!) as { mrtd: string };
      expect(a.mrtd).toMatch(/^[0-9a-f]{96}$/);
      expect(a.mrtd).toBe(b.mrtd);
    });

    it('rejects an unknown scenario or flag with exit code 2 and a clear message', () => {
      const bad = seamkit('run', 'nope');
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('unknown scenario "nope"');
      const flag = seamkit('run', '--frobnicate');
      expect(flag.code).toBe(2);
      expect(flag.stderr).toMatch(/frobnicate/);
    });

    it('has --help', () => {
      const r = seamkit('run', '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: seamkit run');
    });
  });

  describe('abi', () => {
    it('prints the kvm_run layout as JSON', () => {
      const r = seamkit('abi', '--json');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout) as { kvm_run: Record<string, { offset: number; size: number }> };
      expect(j.kvm_run['exit_reason']).toEqual({ offset: 8, size: 4 });
      expect(j.kvm_run['tdx.nr']).toEqual({ offset: 40, size: 8 });
      expect(j.kvm_run['tdx.get_quote.gpa']).toEqual({ offset: 56, size: 8 });
      expect(j.kvm_run['system_event.data']).toEqual({ offset: 40, size: 128 });
      expect(Object.keys(j.kvm_run).length).toBe(Object.keys(KVM_RUN_LAYOUT).length);
    });

    it('prints a readable table without --json', () => {
      const r = seamkit('abi');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/struct kvm_run \(2352 bytes\)/);
      expect(r.stdout).toMatch(/tdx\.get_quote\.size\s+64\s+8/);
    });
  });

  describe('bench', () => {
    it('prints one JSON object per benchmark with opsPerSec and minorGcs', () => {
      const r = seamkit('bench', '--json', '--ops', '20000', '--reps', '3');
      // exit code 1 only means a target was missed on this (tiny) run; the format is what is tested here
      expect([0, 1]).toContain(r.code);
      const objs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(objs.map((o) => o['name'])).toEqual([
        'floor', 'floor.userspace', 'tdvmcall.kernel', 'tdvmcall.userspace', 'tdvmcall.kernel.hooked', 'tdvmcall.kernel.ergonomic',
        'mapgpa.convert', 'td.build', 'vcpu.scaling',
      ]);
      expect(objs[6]!['gibPerSec']).toBeGreaterThan(0);
      expect(objs[7]).toMatchObject({ declaredBytes: 2 ** 30 });
      expect(objs[7]!['rssGrowthMiB']).toBeLessThan(256); // sparse: grows with touched pages, not the 1 GiB declared
      expect(objs[8]!['speedup']).toBeGreaterThan(0);
      for (const o of objs) {
        expect(typeof o['opsPerSec']).toBe('number');
        expect(o['opsPerSec']).toBeGreaterThan(0);
        expect(Number.isInteger(o['minorGcs'])).toBe(true);
      }
      expect(objs[2]).toMatchObject({ floor: 'floor', targetOpsPerSec: 12_000_000 });
      expect(objs[3]).toMatchObject({ floor: 'floor.userspace', targetOpsPerSec: 8_000_000 });
      // Every TDVMCALL line reports its median of the three timed runs.
      for (const o of objs.slice(0, 6)) {
        const runs = [...(o['runs'] as number[])].sort((a, b) => a - b);
        expect(runs).toHaveLength(3);
        expect(o['opsPerSec']).toBe(runs[1]);
      }
      expect(objs[5]!['slowdownVsStep']).toBeCloseTo((objs[2]!['opsPerSec'] as number) / (objs[5]!['opsPerSec'] as number), 1);
    }, 60_000);

    it('rejects a bad --ops', () => {
      const r = seamkit('bench', '--ops', 'many');
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--ops must be a positive integer');
      const reps = seamkit('bench', '--reps', '0');
      expect(reps.code).toBe(2);
      expect(reps.stderr).toContain('--reps must be a positive integer');
    });
  });

  it('prints help and exits 2 without a command, 0 with --help', () => {
    expect(seamkit().code).toBe(2);
    const h = seamkit('--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('Usage: seamkit <command>');
    expect(seamkit('frob').code).toBe(2);
  });
});
