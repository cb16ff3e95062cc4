import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KVM_RUN_LAYOUT, type KvmRunMember } from './kvmRunLayout.js';
import { KVM_RUN_EXIT_REASON, KVM_RUN_EXIT_UNION, KVM_RUN_EXIT_UNION_SIZE, KVM_RUN_SIZE } from './index.js';

/**
 * Offsets and sizes copied by hand from ../shared/reference/kvm-tdx-abi.md (section 1.2, "measured
 * against <linux/kvm.h>"), not derived from the table under test. The msr member (`__u8 error;
 * __u8 pad[7]; __u32 reason; __u32 index; __u64 data;`) is not in the reference; its offsets follow
 * from that declaration at the union's start (32) and are checked against gcc below.
 */
const REFERENCE: readonly [KvmRunMember, number, number][] = [
  ['exit_reason', 8, 4],
  ['padding', 32, 256],
  ['kvm_valid_regs', 288, 8],
  ['io.direction', 32, 1],
  ['io.size', 33, 1],
  ['io.port', 34, 2],
  ['io.count', 36, 4],
  ['io.data_offset', 40, 8],
  ['mmio.phys_addr', 32, 8],
  ['mmio.data', 40, 8],
  ['mmio.len', 48, 4],
  ['mmio.is_write', 52, 1],
  ['hypercall.nr', 32, 8],
  ['hypercall.args', 40, 48],
  ['hypercall.ret', 88, 8],
  ['hypercall.flags', 96, 8],
  ['hypercall.longmode', 96, 4],
  ['system_event.type', 32, 4],
  ['system_event.ndata', 36, 4],
  ['system_event.data', 40, 128],
  ['msr.error', 32, 1],
  ['msr.reason', 40, 4],
  ['msr.index', 44, 4],
  ['msr.data', 48, 8],
  ['tdx.flags', 32, 8],
  ['tdx.nr', 40, 8],
  ['tdx.unknown.ret', 48, 8],
  ['tdx.unknown.data', 56, 40],
  ['tdx.get_quote.ret', 48, 8],
  ['tdx.get_quote.gpa', 56, 8],
  ['tdx.get_quote.size', 64, 8],
  ['tdx.get_tdvmcall_info.ret', 48, 8],
  ['tdx.get_tdvmcall_info.leaf', 56, 8],
  ['tdx.get_tdvmcall_info.r11', 64, 8],
  ['tdx.get_tdvmcall_info.r12', 72, 8],
  ['tdx.get_tdvmcall_info.r13', 80, 8],
  ['tdx.get_tdvmcall_info.r14', 88, 8],
  ['tdx.setup_event_notify.ret', 48, 8],
  ['tdx.setup_event_notify.vector', 56, 8],
];

describe('KVM_RUN_LAYOUT', () => {
  it.each(REFERENCE)('should place %s at offset %i with size %i', (member, offset, size) => {
    expect(KVM_RUN_LAYOUT[member]).toEqual({ offset, size });
  });

  it('should agree with the framework constants: sizeof 2352, exit_reason 8, union 32..288', () => {
    expect(KVM_RUN_SIZE).toBe(2352);
    expect(KVM_RUN_LAYOUT.exit_reason.offset).toBe(KVM_RUN_EXIT_REASON);
    expect(KVM_RUN_LAYOUT.padding).toEqual({ offset: KVM_RUN_EXIT_UNION, size: KVM_RUN_EXIT_UNION_SIZE });
    expect(KVM_RUN_LAYOUT.s.offset + KVM_RUN_LAYOUT.s.size).toBe(KVM_RUN_SIZE);
  });

  it('should keep every exit-union member inside the 256-byte union', () => {
    for (const [name, f] of Object.entries(KVM_RUN_LAYOUT)) {
      if (!name.includes('.')) continue;
      expect(f.offset, name).toBeGreaterThanOrEqual(32);
      expect(f.offset + f.size, name).toBeLessThanOrEqual(288);
    }
  });

  it('should put `ret` at the same offset in every KVM_EXIT_TDX member (userspace may use unknown.ret)', () => {
    const rets = Object.entries(KVM_RUN_LAYOUT).filter(([n]) => n.startsWith('tdx.') && n.endsWith('.ret'));
    expect(rets.map(([, f]) => f.offset)).toEqual([48, 48, 48, 48]);
  });

  describe('against the host <linux/kvm.h> (gcc offsetof)', () => {
    const header = '/usr/include/linux/kvm.h';
    const text = existsSync(header) ? readFileSync(header, 'utf8') : '';
    let gcc = false;
    try {
      execFileSync('gcc', ['--version'], { stdio: 'ignore' });
      gcc = true;
    } catch {
      gcc = false;
    }
    const usable = text !== '' && gcc;

    /** Compiles a probe printing "member offset size" for each member the header defines. */
    const measure = (): Map<string, [number, number]> => {
      const probes: [string, string, string][] = [
        // [member path in KVM_RUN_LAYOUT, C expression for the member, preprocessor guard]
        ['exit_reason', 'exit_reason', '1'], ['immediate_exit', 'immediate_exit', '1'], ['padding', 'padding', '1'],
        ['kvm_valid_regs', 'kvm_valid_regs', '1'], ['kvm_dirty_regs', 'kvm_dirty_regs', '1'], ['s', 's', '1'],
        ['fail_entry.hardware_entry_failure_reason', 'fail_entry.hardware_entry_failure_reason', '1'], ['fail_entry.cpu', 'fail_entry.cpu', '1'],
        ['io.direction', 'io.direction', '1'], ['io.size', 'io.size', '1'], ['io.port', 'io.port', '1'], ['io.count', 'io.count', '1'],
        ['io.data_offset', 'io.data_offset', '1'],
        ['mmio.phys_addr', 'mmio.phys_addr', '1'], ['mmio.data', 'mmio.data', '1'], ['mmio.len', 'mmio.len', '1'], ['mmio.is_write', 'mmio.is_write', '1'],
        ['hypercall.nr', 'hypercall.nr', '1'], ['hypercall.args', 'hypercall.args', '1'], ['hypercall.ret', 'hypercall.ret', '1'],
        ['hypercall.longmode', 'hypercall.longmode', '1'], ['hypercall.flags', 'hypercall.flags', 'defined(KVM_EXIT_HYPERCALL_LONG_MODE)'],
        ['internal.suberror', 'internal.suberror', '1'], ['internal.ndata', 'internal.ndata', '1'], ['internal.data', 'internal.data', '1'],
        ['system_event.type', 'system_event.type', '1'], ['system_event.ndata', 'system_event.ndata', 'defined(KVM_SYSTEM_EVENT_WAKEUP)'],
        ['system_event.data', 'system_event.data', 'defined(KVM_SYSTEM_EVENT_WAKEUP)'],
        ['msr.error', 'msr.error', '1'], ['msr.reason', 'msr.reason', '1'], ['msr.index', 'msr.index', '1'], ['msr.data', 'msr.data', '1'],
        ['memory_fault.flags', 'memory_fault.flags', 'defined(KVM_EXIT_MEMORY_FAULT)'],
        ['memory_fault.gpa', 'memory_fault.gpa', 'defined(KVM_EXIT_MEMORY_FAULT)'],
        ['memory_fault.size', 'memory_fault.size', 'defined(KVM_EXIT_MEMORY_FAULT)'],
        ...(['tdx.flags', 'tdx.nr', 'tdx.unknown.ret', 'tdx.unknown.data', 'tdx.get_quote.ret', 'tdx.get_quote.gpa', 'tdx.get_quote.size',
          'tdx.get_tdvmcall_info.ret', 'tdx.get_tdvmcall_info.leaf', 'tdx.get_tdvmcall_info.r11', 'tdx.get_tdvmcall_info.r12',
          'tdx.get_tdvmcall_info.r13', 'tdx.get_tdvmcall_info.r14', 'tdx.setup_event_notify.ret', 'tdx.setup_event_notify.vector',
        ].map((m): [string, string, string] => [m, m, 'defined(KVM_EXIT_TDX)'])),
      ];
      const lines = probes.map(([name, expr, guard]) =>
        `#if ${guard}\n  printf("%s %zu %zu\\n", "${name}", offsetof(struct kvm_run, ${expr}), sizeof(((struct kvm_run *)0)->${expr}));\n#endif`);
      const src = `#include <stddef.h>\n#include <stdio.h>\n#include <linux/kvm.h>\nint main(void) {\n  printf("sizeof %zu 0\\n", sizeof(struct kvm_run));\n${lines.join('\n')}\n  return 0;\n}\n`;
      const dir = mkdtempSync(join(tmpdir(), 'seamkit-kvm-h-'));
      try {
        writeFileSync(join(dir, 'probe.c'), src);
        execFileSync('gcc', ['-o', join(dir, 'probe'), join(dir, 'probe.c')], { stdio: 'pipe' });
        const out = execFileSync(join(dir, 'probe'), { encoding: 'utf8' });
        return new Map(out.trim().split('\n').map((l) => {
          const [name, off, size] = l.split(' ');
          return [name!, [Number(off), Number(size)]];
        }));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const measured = usable ? measure() : new Map<string, [number, number]>();

    it.skipIf(!usable)('should match every member the host header defines (skipped when /usr/include/linux/kvm.h or gcc is missing)', () => {
      expect(measured.get('sizeof')?.[0]).toBe(2352);
      let compared = 0;
      for (const [name, [offset, size]] of measured) {
        if (name === 'sizeof') continue;
        expect(KVM_RUN_LAYOUT[name as KvmRunMember], name).toEqual({ offset, size });
        compared++;
      }
      // The exit reason, the union, and the io/mmio/hypercall/system_event members exist in every header KVM TDX needs.
      expect(compared).toBeGreaterThanOrEqual(25);
    });

    it.skipIf(!usable || !/#define\s+KVM_EXIT_TDX\b/.test(text))(
      'should match the KVM_EXIT_TDX member (skipped: the host <linux/kvm.h> predates Linux 6.16 and has no KVM_EXIT_TDX)',
      () => {
        expect(measured.get('tdx.nr')).toEqual([40, 8]);
        expect(measured.get('tdx.get_quote.gpa')).toEqual([56, 8]);
        expect(measured.get('tdx.setup_event_notify.vector')).toEqual([56, 8]);
      },
    );
  });
});
