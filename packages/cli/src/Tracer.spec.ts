import { describe, expect, it } from 'vitest';
import { ExitBuffer } from '@seamkit/core';
import { KVM_EXIT_HYPERCALL, KVM_EXIT_IO, KVM_EXIT_MEMORY_FAULT, KVM_EXIT_MMIO, KVM_RUN_LAYOUT as L, KVM_RUN_MMAP_SIZE } from '@seamkit/kvm';
import { fromGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { runScenario } from './runScenario.js';
import { attest } from './scenarios/attest.js';
import { basic, BASIC_UNKNOWN_LEAF } from './scenarios/basic.js';
import { mapGpa } from './scenarios/mapGpa.js';
import { describeExit, formatRecord, type TraceRecord } from './Tracer.js';

describe('runScenario(basic)', () => {
  const result = runScenario(basic);

  it('sees four TDVMCALLs: three userspace exits and one kernel answer', () => {
    expect(result.tdvmcalls).toBe(4);
    expect(result.kernelAnswered).toBe(1);
    expect(result.exits).toEqual({ KVM_EXIT_HYPERCALL: 1, KVM_EXIT_TDX: 1, KVM_EXIT_SYSTEM_EVENT: 1 });
    expect(result.vcpuStates).toEqual(['finished']);
    expect(result.pluginErrors).toBe(0);
  });

  it('records GetQuote with its decoded exit struct and the completion the guest got', () => {
    const [map, mapDone, exit, done] = result.records;
    // MapGPA first, as a Linux guest makes its buffer shared: KVM_EXIT_HYPERCALL / KVM_HC_MAP_GPA_RANGE.
    expect(map).toMatchObject({ kind: 'exit', leaf: 0x10001, reason: 3 });
    expect(mapDone).toMatchObject({ kind: 'complete', guest: { r10: '0x0' } });
    expect(exit).toMatchObject({ kind: 'exit', leaf: 0x10002, leafName: 'GetQuote', reason: 40, plugin: 'tdx.get-quote' });
    expect(exit!.fields).toEqual({ ret: '0x8000000000000003', gpa: '0x200000', size: '0x2000' });
    // No quote service is configured: QEMU's userspace answers ret = SUCCESS (status SERVICE_UNAVAILABLE in the header).
    expect(done).toMatchObject({ kind: 'complete', guest: { r10: '0x0', r10Name: 'SUCCESS' } });
  });

  it('records the unregistered leaf as answered in the kernel with SUBFUNC_UNSUPPORTED', () => {
    const k = result.records.find((r) => r.kind === 'kernel');
    expect(k).toMatchObject({ leaf: BASIC_UNKNOWN_LEAF, plugin: '', guest: { r10: '0x8000000000000003', r10Name: 'SUBFUNC_UNSUPPORTED' } });
    expect(formatRecord(k!)).toBe('[vcpu0] TDVMCALL leaf 0x100ff answered in the kernel model (no plugin registered) -> guest R10=0x8000000000000003 (SUBFUNC_UNSUPPORTED) R11=0x100ff');
  });

  it('records the fatal error dump and the QEMU-style panic', () => {
    const fatal = result.records.find((r) => r.kind === 'exit' && r.reason === 24)!;
    const data = fatal.fields!['data'] as string[];
    expect(data).toHaveLength(16);
    expect(data[0]).toBe('0x4d'); // the TDH.VP.ENTER return (exit reason 77), not guest RAX
    expect(data[1]).toBe('0xffcc'); // RCX: the guest's bitmap
    expect(data[4]).toBe('0x0');
    expect(data[5]).toBe('0x0');
    expect(data[11]).toBe('0x10003');
    expect(result.panics).toHaveLength(1);
    expect(result.panics[0]!.message).toBe('seamkit basic: done on vCPU 0');
  });
});

describe('describeExit', () => {
  const run = (): ExitBuffer => new ExitBuffer(KVM_RUN_MMAP_SIZE);

  it('decodes KVM_EXIT_IO with the OUT data from io.data_offset', () => {
    const b = run();
    b.bytes[L['io.direction'].offset] = 1;
    b.bytes[L['io.size'].offset] = 2;
    b.view.setUint16(L['io.port'].offset, 0x3f8, true);
    b.setU64(L['io.data_offset'].offset, 4096n);
    b.view.setUint16(4096, 0xbeef, true);
    expect(describeExit(KVM_EXIT_IO, b)).toBe('OUT port 0x3f8, 2 byte(s): 0xbeef');
    b.bytes[L['io.direction'].offset] = 0;
    expect(describeExit(KVM_EXIT_IO, b)).toBe('IN port 0x3f8, 2 byte(s)');
  });

  it('decodes KVM_EXIT_MMIO (only len bytes of a write\'s data)', () => {
    const b = run();
    b.setU64(L['mmio.phys_addr'].offset, 0xd000_0008n);
    b.setU64(L['mmio.data'].offset, 0xffff_ffff_1234_5678n);
    b.setU32(L['mmio.len'].offset, 4);
    b.bytes[L['mmio.is_write'].offset] = 1;
    expect(describeExit(KVM_EXIT_MMIO, b)).toBe('MMIO write 0xd0000008, 4 byte(s): 0x12345678');
    b.bytes[L['mmio.is_write'].offset] = 0;
    expect(describeExit(KVM_EXIT_MMIO, b)).toBe('MMIO read 0xd0000008, 4 byte(s)');
  });

  it('decodes KVM_HC_MAP_GPA_RANGE and KVM_EXIT_MEMORY_FAULT', () => {
    const b = run();
    b.setU64(L['hypercall.nr'].offset, 12n);
    b.setU64(L['hypercall.args'].offset, 0x40_0000n);
    b.setU64(L['hypercall.args'].offset + 8, 512n);
    b.setU64(L['hypercall.args'].offset + 16, 0x10n);
    expect(describeExit(KVM_EXIT_HYPERCALL, b)).toBe('KVM_HC_MAP_GPA_RANGE 0x400000..0x600000 (512 pages, 2 MiB) to private');
    const f = run();
    f.setU64(L['memory_fault.flags'].offset, 8n);
    f.setU64(L['memory_fault.gpa'].offset, 0x20_0000n);
    f.setU64(L['memory_fault.size'].offset, 4096n);
    expect(describeExit(KVM_EXIT_MEMORY_FAULT, f)).toBe('private access to shared memory at 0x200000, 4 KiB (flags 0x8 PRIVATE): convert it to private');
    expect(describeExit(1234, f)).toBeUndefined();
  });
});

describe('runScenario: the reference VMM', () => {
  it('records each 2 MiB MapGPA chunk as an exit, and one completion when the guest gets its answer', () => {
    const r = runScenario(mapGpa);
    const maps = r.records.filter((x) => x.leafName === 'MapGPA');
    const shape = (x: TraceRecord): string => `${x.kind} ${x.detail ?? x.guest?.r10Name}`;
    expect(maps.map(shape)).toEqual([
      'exit KVM_HC_MAP_GPA_RANGE 0x400000..0x600000 (512 pages, 2 MiB) to shared',
      'kvm-exit KVM_HC_MAP_GPA_RANGE 0x600000..0x800000 (512 pages, 2 MiB) to shared',
      'kvm-exit KVM_HC_MAP_GPA_RANGE 0x800000..0xa00000 (512 pages, 2 MiB) to shared',
      'complete SUCCESS',
      'exit KVM_HC_MAP_GPA_RANGE 0x400000..0x600000 (512 pages, 2 MiB) to private',
      'kvm-exit KVM_HC_MAP_GPA_RANGE 0x600000..0x800000 (512 pages, 2 MiB) to private',
      'kvm-exit KVM_HC_MAP_GPA_RANGE 0x800000..0xa00000 (512 pages, 2 MiB) to private',
      'complete SUCCESS',
      'kernel ALIGN_ERROR',
    ]);
    expect(r.tdvmcalls).toBe(7); // the chunks are one TDVMCALL each way
    expect(r.failures).toEqual([]);
  });

  it('handles KVM_EXIT_MEMORY_FAULT: a guest touching private memory through its shared mapping goes on (implicit conversion)', () => {
    let seen = -1;
    const r = runScenario({
      name: 'implicit', description: 'implicit conversion',
      guest: fromGenerator(function* (cpu) {
        yield* ghci.memWriteU32(cpu, 0x20_0000 + cpu.mem.sharedBit, 0x1234_5678);
        seen = yield* ghci.memReadU32(cpu, 0x20_0000 + cpu.mem.sharedBit);
      }),
    });
    expect(r.records.filter((x) => x.kind === 'kvm-exit').map((x) => [x.reasonName, x.detail])).toEqual([
      ['KVM_EXIT_MEMORY_FAULT', 'shared access to private memory at 0x200000, 4 KiB (flags 0x0): convert it to shared'],
      ['KVM_EXIT_SHUTDOWN', 'triple fault: the guest has nothing left to run (or its code threw)'],
    ]);
    expect(r.exits).toEqual({ KVM_EXIT_MEMORY_FAULT: 1, KVM_EXIT_SHUTDOWN: 1 });
    expect(seen).toBe(0x1234_5678);
  });

  it('refuses a scenario that waits for asynchronous work (runScenarioAsync runs it)', () => {
    expect(() => runScenario(attest)).toThrow(/runScenarioAsync/);
  });
});
