// A VMM with the vendor leaf, and a guest that calls it (R10 = the leaf, R11 = the value).
import { ContainerModule } from 'inversify';
import { createVmm, LEAF_PLUGIN } from '@seamkit/core';
import { kvmModule } from '@seamkit/kvm';
import { fromGenerator, R11 } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { ACME_SEAL, AcmeSealLeaf } from './AcmeSealLeaf.js';

export const acmeModule = new ContainerModule(({ bind }) => {
  bind(LEAF_PLUGIN).to(AcmeSealLeaf).inSingletonScope();
});

export function sealFromGuest(values: bigint[]): { status: bigint; sealed: bigint }[] {
  const vmm = createVmm({ modules: [kvmModule(), acmeModule] });
  const out: { status: bigint; sealed: bigint }[] = [];
  const td = vmm.createTd({
    guest: fromGenerator(function* (cpu) {
      for (const v of values) {
        const status = yield* ghci.kvmHypercall(cpu, BigInt(ACME_SEAL), v);
        out.push({ status, sealed: cpu.regs.get(R11) });
      }
    }),
  });
  td.runners[0]!.run();
  return out;
}
