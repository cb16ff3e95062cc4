import { VcpuEmulation, type UserExitContext } from '@seamkit/core';
import { KVM_EXIT_IO, type KvmRegs } from '@seamkit/kvm';
import { fromGenerator } from '@seamkit/seam-cpu';
import { RBP, RBX, TDVMCALL_IO } from '@seamkit/seam-cpu/abi';
import { ghci, TD_ATTR_DEBUG, TD_ATTR_SEPT_VE_DISABLE } from '@seamkit/tdx-module';
import { hex } from '../names.js';
import { kvmVmOf, portAccess, report, REPORT_FAILED, REPORT_OK, REPORT_PORT } from './protocol.js';
import type { Scenario, ScenarioHost, ScenarioVmm } from './Scenario.js';

/** Report code of debug-td's breakpoint: the guest stops for the debugger (VMM). */
export const DEBUG_TD_BREAKPOINT = 0xdb;
/** The TDVMCALL bitmap of the breakpoint: R10..R15 only, so RBX and RBP stay the guest's own. */
export const DEBUG_TD_BITMAP = 0xfc00;
/** What the guest holds in RBX and RBP at the breakpoint. */
export const DEBUG_TD_GUEST_REGS = {
  /** RBX */ rbx: 0x1111_1111n,
  /** RBP */ rbp: 0x5eed_0001n,
} as const;
/** What the VMM writes into RBX and RBP through the debug interface. */
export const DEBUG_TD_VMM_REGS = {
  /** RBX */ rbx: 0x2222_2222n,
  /** RBP */ rbp: 0xd0d0_0001n,
} as const;

/** The GPRs a debug note shows. */
const SHOWN = ['rax', 'rbx', 'rcx', 'rbp', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'] as const satisfies readonly (keyof KvmRegs)[];

function regsText(r: KvmRegs): string {
  return SHOWN.map((k) => `${k.toUpperCase()}=${hex(r[k])}`).join(' ');
}

/**
 * The VMM side of debug-td, a debugger: at the guest's breakpoint it reads the vCPU's registers
 * with KVM_GET_REGS (`Vcpu.getRegs`: TDH.VP.RD of the guest GPRs, class 16) and changes RBX and
 * RBP with KVM_SET_REGS (`Vcpu.setRegs`: TDH.VP.WR); then it checks what the guest reports seeing.
 */
function debugTdVmm(host: ScenarioHost): ScenarioVmm {
  const words: number[] = [];
  const onReport = (ctx: UserExitContext): number => {
    const { port, value } = portAccess(ctx.run);
    const vcpu = ctx.vcpuIndex;
    if (port !== REPORT_PORT) {
      host.fail(vcpu, `unexpected IO port ${hex(port)}`);
      return VcpuEmulation.HANDLED;
    }
    words.push(value);
    switch (words.length) {
      case 1: {
        const debug = (BigInt(value) & TD_ATTR_DEBUG) !== 0n;
        if (debug) host.note(vcpu, `guest reports TDG.VP.INFO ATTRIBUTES ${hex(value)}: DEBUG is set`, { attributes: hex(value) });
        else host.fail(vcpu, `guest reports TDG.VP.INFO ATTRIBUTES ${hex(value)}: DEBUG is not set`, { attributes: hex(value) });
        break;
      }
      case 2: {
        const v = kvmVmOf(ctx.memory)?.vcpus.find((c) => c.index === vcpu);
        if (v === undefined) {
          host.fail(vcpu, 'no KVM vCPU behind this TD: cannot debug it');
          break;
        }
        try {
          const regs = v.getRegs();
          host.note(vcpu, `breakpoint: KVM_GET_REGS (TDH.VP.RD, class 16) reads ${regsText(regs)}`, Object.fromEntries(SHOWN.map((k) => [k, hex(regs[k])])));
          v.setRegs({ ...regs, ...DEBUG_TD_VMM_REGS });
          host.note(vcpu, `KVM_SET_REGS (TDH.VP.WR) writes RBX=${hex(DEBUG_TD_VMM_REGS.rbx)} RBP=${hex(DEBUG_TD_VMM_REGS.rbp)}`, { rbx: hex(DEBUG_TD_VMM_REGS.rbx), rbp: hex(DEBUG_TD_VMM_REGS.rbp) });
        } catch (err) {
          host.fail(vcpu, `the debug interface refused: ${err instanceof Error ? err.message : String(err)}`);
        }
        break;
      }
      case 3:
      case 4: {
        const reg = words.length === 3 ? 'rbx' : 'rbp';
        const ok = BigInt(value) === DEBUG_TD_VMM_REGS[reg];
        if (ok) host.note(vcpu, `guest reports ${reg.toUpperCase()}=${hex(value)}: the value the VMM wrote`, { [reg]: hex(value) });
        else host.fail(vcpu, `guest reports ${reg.toUpperCase()}=${hex(value)}, not ${hex(DEBUG_TD_VMM_REGS[reg])}`, { [reg]: hex(value) });
        break;
      }
      default:
        if (value === REPORT_OK) host.note(vcpu, 'guest reports: every check passed');
        else host.fail(vcpu, `guest reports ${hex(value)}: failed checks ${hex(value & 0xffff)}`, { code: hex(value) });
    }
    return VcpuEmulation.HANDLED;
  };
  return { handlers: { [KVM_EXIT_IO]: onReport } };
}

/**
 * A DEBUG TD (ATTRIBUTES.DEBUG, which Linux 6.16 refuses: the run enables the simulator's
 * `simulatorAllowDebug` kernel option). The guest reports its TDG.VP.INFO attributes, puts values
 * in RBX and RBP and stops at a breakpoint: an OUT to port 0x31 through a TDVMCALL that exposes
 * only R10..R15, so the exit carries neither register. The VMM reads the registers anyway with
 * KVM_GET_REGS (TDH.VP.RD on the guest GPR class) and writes new RBX and RBP with KVM_SET_REGS;
 * the guest, resumed, reports the RBX and RBP it sees (the VMM's values), then whether its own
 * checks passed.
 */
export const debugTd: Scenario = {
  name: 'debug-td',
  description: 'a DEBUG TD: the VMM reads and writes guest GPRs (KVM_GET_REGS / KVM_SET_REGS)',
  attributes: TD_ATTR_SEPT_VE_DISABLE | TD_ATTR_DEBUG,
  kvm: { simulatorAllowDebug: true },
  vmm: debugTdVmm,
  guest: fromGenerator(function* (cpu) {
    const info = yield* ghci.tdgVpInfo(cpu);
    yield* report(cpu, Number(info.attributes & 0xffff_ffffn));
    cpu.regs.set(RBX, DEBUG_TD_GUEST_REGS.rbx);
    cpu.regs.set(RBP, DEBUG_TD_GUEST_REGS.rbp);
    const stopped = yield* ghci.tdvmcall(cpu, TDVMCALL_IO, { r12: 4n, r13: 1n, r14: BigInt(REPORT_PORT), r15: BigInt(DEBUG_TD_BREAKPOINT) }, DEBUG_TD_BITMAP);
    const rbx = cpu.regs.get(RBX);
    const rbp = cpu.regs.get(RBP);
    yield* report(cpu, Number(rbx & 0xffff_ffffn));
    yield* report(cpu, Number(rbp & 0xffff_ffffn));
    const checks = [(info.attributes & TD_ATTR_DEBUG) !== 0n, stopped === 0n, rbx === DEBUG_TD_VMM_REGS.rbx, rbp === DEBUG_TD_VMM_REGS.rbp];
    const failed = checks.reduce((m, ok, i) => (ok ? m : m | (1 << i)), 0);
    yield* report(cpu, failed === 0 ? REPORT_OK : (REPORT_FAILED | failed) >>> 0);
  }),
};
