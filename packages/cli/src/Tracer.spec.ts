import { describe, expect, it } from 'vitest';
import { runScenario } from './runScenario.js';
import { basic, BASIC_UNKNOWN_LEAF } from './scenarios/basic.js';
import { formatRecord } from './Tracer.js';

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
    expect(formatRecord(k!)).toBe('[vcpu0] TDVMCALL leaf 0x100ff answered in the kernel model (no plugin registered) -> guest R10=0x8000000000000003 (SUBFUNC_UNSUPPORTED)');
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
