import { fromGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import type { Scenario } from './Scenario.js';

/** GPA (without the shared bit) of the GetQuote buffer the guest uses. */
export const BASIC_QUOTE_BUFFER = 0x20_0000;
/** A TDVMCALL leaf no plugin registers. */
export const BASIC_UNKNOWN_LEAF = 0x1_00ff;

/** The TD image of the basic scenario: two pages, measured into MRTD at build time. */
export const BASIC_IMAGE: Uint8Array = (() => {
  const img = new Uint8Array(2 * 4096);
  img.set(Buffer.from('seamkit basic scenario TD image\n', 'ascii'));
  for (let i = 4096; i < img.length; i++) img[i] = i & 0xff;
  return img;
})();

/**
 * The main job's guest: TDG.VP.INFO, then MapGPA to make its quote buffer shared (as a Linux
 * guest's set_memory_decrypted does: KVM_EXIT_HYPERCALL / KVM_HC_MAP_GPA_RANGE, the VMM converts
 * the memory), then GetQuote on that buffer (version-1 header, a 1024-byte TDREPORT-sized
 * request), then a leaf nobody registered (answered in the kernel model with
 * SUBFUNC_UNSUPPORTED, no exit), then ReportFatalError with a message.
 */
export const basic: Scenario = {
  name: 'basic',
  description: 'MapGPA, GetQuote, an unregistered leaf answered in the kernel, then ReportFatalError',
  image: BASIC_IMAGE,
  guest: fromGenerator(function* (cpu) {
    const info = yield* ghci.tdgVpInfo(cpu);
    const buf = BASIC_QUOTE_BUFFER + cpu.mem.sharedBit;
    yield* ghci.mapGpa(cpu, buf, 0x2000);
    cpu.mem.writeU64(buf, 1n); // header version 1
    cpu.mem.writeU64(buf + 8, 0n); // status
    cpu.mem.writeU32(buf + 16, 1024); // in_len
    cpu.mem.writeU32(buf + 20, 0); // out_len
    yield* ghci.getQuote(cpu, buf, 0x2000);
    yield* ghci.tdvmcall(cpu, BASIC_UNKNOWN_LEAF);
    yield* ghci.reportFatalError(cpu, 0n, `seamkit basic: done on vCPU ${info.vcpuIndex}`);
  }),
};
