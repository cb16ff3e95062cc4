import { VcpuEmulation, type UserExitContext } from '@seamkit/core';
import { KVM_EXIT_IO } from '@seamkit/kvm';
import { fromGenerator, type GuestCpu } from '@seamkit/seam-cpu';
import { R11, TDVMCALL_STATUS_ALIGN_ERROR } from '@seamkit/seam-cpu/abi';
import { ghci } from '@seamkit/tdx-module';
import { hex } from '../names.js';
import { mapGpaRange, portAccess, report, REPORT_FAILED, REPORT_OK, REPORT_PORT } from './protocol.js';
import type { Scenario, ScenarioHost, ScenarioVmm } from './Scenario.js';

/** First GPA (no shared bit) of the range map-gpa converts: 4 MiB. */
export const MAP_GPA_RANGE = 0x40_0000;
/** Size of the range: 6 MiB, three 2 MiB KVM_EXIT_HYPERCALL chunks each way. */
export const MAP_GPA_SIZE = 0x60_0000;
/** The pages the guest and the VMM mark: the first of each 2 MiB chunk and the last of the range. */
export const MAP_GPA_MARKS: readonly number[] = [0, 0x20_0000, 0x40_0000, MAP_GPA_SIZE - 0x1000].map((o) => MAP_GPA_RANGE + o);
/** The misaligned MapGPA the guest tries last (shared bit added by the guest): 2 KiB into the range. */
export const MAP_GPA_MISALIGNED = MAP_GPA_RANGE + 0x800;
/** Marks as u64 words: the guest's private data, the guest's shared data, the VMM's data (plus the mark's index). */
export const MAP_GPA_PATTERNS = {
  /** "priv": written by the guest to its private pages. */ private: 0x7072_6976_0000_0000n,
  /** "shrd": written by the guest through its shared mapping. */ shared: 0x7368_7264_0000_0000n,
  /** "host": written by the VMM. */ host: 0x686f_7374_0000_0000n,
} as const;

/** Report codes of map-gpa's checkpoints (then REPORT_OK or REPORT_FAILED | failed checks). */
export const MAP_GPA_CHECKPOINTS = {
  /** The marks hold private data: the VMM must see zeros. */ private: 1,
  /** The range is shared and the guest wrote its marks: the VMM checks them and writes its own. */ shared: 2,
  /** The range is private again: the VMM must see zeros. */ privateAgain: 3,
} as const;

/** Accepts the marked pages (KVM adds each on the EPT violation: TDH.MEM.PAGE.AUG); true if all were accepted. */
function* acceptMarks(cpu: GuestCpu): Generator<number, boolean, void> {
  let ok = true;
  for (const gpa of MAP_GPA_MARKS) ok = (yield* ghci.acceptPage(cpu, gpa)) === 0n && ok;
  return ok;
}

/** True if every mark reads `pattern | index` through `base` (0 or the shared bit); pattern 0n: all zero. */
function marksHold(cpu: GuestCpu, base: number, pattern: bigint): boolean {
  return MAP_GPA_MARKS.every((gpa, i) => cpu.mem.readU64(base + gpa) === (pattern === 0n ? 0n : pattern | BigInt(i)));
}

/**
 * The VMM side of map-gpa: the report-port handler. At each checkpoint it looks at the marks in
 * its own (shared) view of guest memory, `td.memory`, and at the second it writes its own marks.
 */
function mapGpaVmm(host: ScenarioHost): ScenarioVmm {
  const word = new Uint8Array(8);
  const view = new DataView(word.buffer);
  const hostSees = (ctx: UserExitContext): bigint[] => MAP_GPA_MARKS.map((gpa) => {
    ctx.memory.read(gpa, word);
    return view.getBigUint64(0, true);
  });
  const expect = (ctx: UserExitContext, what: string, pattern: bigint): void => {
    const seen = hostSees(ctx);
    const want = MAP_GPA_MARKS.map((_, i) => (pattern === 0n ? 0n : pattern | BigInt(i)));
    const data = { marks: seen.map((v) => hex(v)).join(',') };
    if (seen.every((v, i) => v === want[i])) host.note(ctx.vcpuIndex, `host view of the marked pages: ${what}`, data);
    else host.fail(ctx.vcpuIndex, `host view of the marked pages is not ${what}: ${data.marks}`, data);
  };
  const onReport = (ctx: UserExitContext): number => {
    const { port, value } = portAccess(ctx.run);
    const vcpu = ctx.vcpuIndex;
    if (port !== REPORT_PORT) {
      host.fail(vcpu, `unexpected IO port ${hex(port)}`);
    } else if (value === MAP_GPA_CHECKPOINTS.private) {
      expect(ctx, 'zeros (the guest\'s private data is not in the VMM\'s memory)', 0n);
    } else if (value === MAP_GPA_CHECKPOINTS.shared) {
      expect(ctx, 'what the guest wrote through its shared mapping', MAP_GPA_PATTERNS.shared);
      MAP_GPA_MARKS.forEach((gpa, i) => {
        view.setBigUint64(0, MAP_GPA_PATTERNS.host | BigInt(i), true);
        ctx.memory.write(gpa, word);
      });
      host.note(vcpu, `the VMM writes its own marks (${hex(MAP_GPA_PATTERNS.host)} | i) for the guest to read`);
    } else if (value === MAP_GPA_CHECKPOINTS.privateAgain) {
      expect(ctx, 'zeros again (converting to private discarded the shared pages)', 0n);
    } else if (value === REPORT_OK) {
      host.note(vcpu, 'guest reports: its private data was gone after each conversion, it read the VMM\'s data through the shared mapping, and the misaligned MapGPA got ALIGN_ERROR with R11 = its GPA');
    } else {
      host.fail(vcpu, `guest reports ${hex(value)}: failed checks ${hex(value & 0xffff)}`, { code: hex(value) });
    }
    return VcpuEmulation.HANDLED;
  };
  return { handlers: { [KVM_EXIT_IO]: onReport } };
}

/**
 * Explicit private/shared conversion with MapGPA, as Linux's set_memory_decrypted /
 * set_memory_encrypted do it. The guest accepts and marks a few pages of a private 6 MiB range,
 * converts the range to shared with one MapGPA (KVM exits to userspace in three 2 MiB
 * KVM_EXIT_HYPERCALL chunks, KVM_HC_MAP_GPA_RANGE; the VMM converts each), finds its private data
 * gone, writes through the shared mapping (the VMM sees it and answers with its own marks),
 * converts back to private (three chunks again), accepts the pages again and finds zeros. Last, a
 * MapGPA of a GPA that is not 4 KiB aligned gets ALIGN_ERROR with R11 = that GPA, in the kernel.
 * Checkpoints and the result go to IO port 0x31.
 */
export const mapGpa: Scenario = {
  name: 'map-gpa',
  description: 'MapGPA 6 MiB private -> shared -> private (2 MiB exits), then a misaligned MapGPA',
  vmm: mapGpaVmm,
  guest: fromGenerator(function* (cpu) {
    const S = cpu.mem.sharedBit;
    const checks: boolean[] = [];
    checks.push(yield* acceptMarks(cpu));
    MAP_GPA_MARKS.forEach((gpa, i) => cpu.mem.writeU64(gpa, MAP_GPA_PATTERNS.private | BigInt(i)));
    yield* report(cpu, MAP_GPA_CHECKPOINTS.private);
    checks.push((yield* mapGpaRange(cpu, MAP_GPA_RANGE + S, MAP_GPA_SIZE)) === 0n);
    checks.push(marksHold(cpu, S, 0n)); // the private pages were removed: the shared side is fresh
    MAP_GPA_MARKS.forEach((gpa, i) => cpu.mem.writeU64(S + gpa, MAP_GPA_PATTERNS.shared | BigInt(i)));
    yield* report(cpu, MAP_GPA_CHECKPOINTS.shared);
    checks.push(marksHold(cpu, S, MAP_GPA_PATTERNS.host));
    checks.push((yield* mapGpaRange(cpu, MAP_GPA_RANGE, MAP_GPA_SIZE)) === 0n);
    checks.push(yield* acceptMarks(cpu));
    checks.push(marksHold(cpu, 0, 0n)); // new private pages: neither the old private nor the shared data
    yield* report(cpu, MAP_GPA_CHECKPOINTS.privateAgain);
    const status = yield* ghci.mapGpa(cpu, MAP_GPA_MISALIGNED + S, 0x1000);
    checks.push(status === TDVMCALL_STATUS_ALIGN_ERROR && cpu.regs.get(R11) === BigInt(MAP_GPA_MISALIGNED + S));
    const failed = checks.reduce((m, ok, i) => (ok ? m : m | (1 << i)), 0);
    yield* report(cpu, failed === 0 ? REPORT_OK : (REPORT_FAILED | failed) >>> 0);
  }),
};
