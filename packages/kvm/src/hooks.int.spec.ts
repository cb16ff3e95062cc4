import { describe, expect, it } from 'vitest';
import { createVmm, type LeafHooks } from '@seamkit/core';
import { fromGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { kvmModule } from './kvmModule.js';

describe('observation hooks on a real TD', () => {
  it('sees every TD exit (TDCALLs and the final triple fault) and every leaf dispatch, in order', () => {
    const vmm = createVmm({ modules: [kvmModule()] });
    const seen: string[] = [];
    const hooks: LeafHooks = {
      onTdExit: (_ctx, lo, hi) => void seen.push(`exit ${hi}:${lo}`),
      onDispatch: (ctx, ns, leaf, plugin, reason) => void seen.push(`${ns} 0x${leaf.toString(16)} ${plugin?.meta.name ?? '-'} -> ${reason} r10=0x${ctx.regs.get(10).toString(16)}`),
    };
    const td = vmm.createTd({
      hooks,
      guest: fromGenerator(function* (cpu) {
        yield* ghci.tdgVpInfo(cpu); // answered by the TDX module: no TD exit at all
        yield* ghci.getTdVmCallInfo(cpu, 0); // kvm's in-kernel leaf
        yield* ghci.tdvmcall(cpu, 0x1_2345); // nobody's
        yield* ghci.kvmHypercall(cpu, 99n); // unknown KVM hypercall
      }),
    });
    td.runners[0]!.run();
    expect(seen).toEqual([
      'exit 0:77',
      'ghci 0x10000 tdx.get-td-vm-call-info -> 0 r10=0x0',
      'exit 0:77',
      'ghci 0x12345 - -> 0 r10=0x8000000000000003',
      'exit 0:77',
      'hypercall 0x63 - -> 0 r10=0xfffffffffffffc18',
      'exit 0:2',
    ]);
  });
});
