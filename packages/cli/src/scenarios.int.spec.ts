import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

function seamkit(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

type Rec = Record<string, unknown> & { kind: string; guest?: { r10Name: string; r11: string } };

/** `seamkit run NAME --json`: the records and the summary. */
function runJson(name: string, ...args: string[]): { code: number; recs: Rec[]; summary: Rec; stderr: string } {
  const r = seamkit('run', name, '--json', ...args);
  const all = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Rec);
  return { code: r.code, recs: all.slice(0, -1), summary: all.at(-1)!, stderr: r.stderr };
}

/** One record in a line: kind | leaf or exit | decoded struct or note | what the guest got. */
function brief(r: Rec): string {
  const parts = [r.kind, String(r['leafName'] ?? r['reasonName'] ?? ''), String(r['detail'] ?? r['message'] ?? '')];
  if (r.guest !== undefined) parts.push(`${r.guest.r10Name} R11=${r.guest.r11}`);
  return parts.filter((p) => p !== '').join(' | ');
}

const OK_REPORT = 'exit | Instruction.IO | OUT port 0x31, 4 byte(s): 0x600d';
const IO_DONE = 'complete | Instruction.IO | SUCCESS R11=0x1e';
const SHUTDOWN = 'kvm-exit | KVM_EXIT_SHUTDOWN | triple fault: the guest has nothing left to run (or its code threw)';

describe('the built seamkit CLI: the built-in scenarios', () => {
  it('is built (run `npm run build` first)', () => {
    expect(existsSync(bin)).toBe(true);
  });

  it('lists every scenario in `seamkit run --help`', () => {
    const r = seamkit('run', '--help');
    for (const name of ['basic', 'attest', 'panic', 'io-mmio', 'map-gpa', 'vendor-leaf', 'multi-vcpu', 'debug-td']) expect(r.stdout).toMatch(new RegExp(`\\n  ${name} +\\S`));
  });

  describe('io-mmio', () => {
    it('--json: VMM handlers answer KVM_EXIT_IO / KVM_EXIT_MMIO, the in-kernel CMOS device answers without an exit, bad sizes get INVALID_OPERAND', () => {
      const { code, recs, summary } = runJson('io-mmio');
      expect(code).toBe(0);
      expect(recs.map(brief)).toEqual([
        'vmm | in-kernel CMOS device on KVM_PIO_BUS at ports 0x70..0x71 (Vm.registerIoDevice)',
        'exit | Instruction.IO | OUT port 0x3f8, 1 byte(s): 0x4f', IO_DONE,
        'exit | Instruction.IO | OUT port 0x3f8, 1 byte(s): 0x4b', IO_DONE,
        'exit | Instruction.IO | OUT port 0x3f8, 1 byte(s): 0xa', IO_DONE,
        'exit | Instruction.IO | IN port 0x3fd, 1 byte(s)',
        'vmm | UART LSR read: the VMM answers 0x60 (THR empty, transmitter idle)',
        'complete | Instruction.IO | SUCCESS R11=0x60',
        'kernel | Instruction.IO | SUCCESS R11=0x1e', // OUT 0x70: the in-kernel device takes the index
        'kernel | Instruction.IO | SUCCESS R11=0x20', // IN 0x71: CMOS[0x32], the century, from the kernel
        'exit | #VE.RequestMMIO | MMIO read 0xd0000000, 4 byte(s)',
        'vmm | MMIO device ID register read: the VMM answers 0x56444b53',
        'complete | #VE.RequestMMIO | SUCCESS R11=0x56444b53',
        'exit | #VE.RequestMMIO | MMIO write 0xd0000008, 8 byte(s): 0x1122334455667788',
        'vmm | MMIO scratch register write: the VMM stores 0x1122334455667788',
        'complete | #VE.RequestMMIO | SUCCESS R11=0x30',
        'exit | #VE.RequestMMIO | MMIO read 0xd0000008, 8 byte(s)',
        'vmm | MMIO scratch register read: the VMM answers 0x1122334455667788',
        'complete | #VE.RequestMMIO | SUCCESS R11=0x1122334455667788',
        'kernel | Instruction.IO | INVALID_OPERAND R11=0x1e', // size 3
        'kernel | #VE.RequestMMIO | INVALID_OPERAND R11=0x30', // size 3
        OK_REPORT,
        'vmm | UART output so far: "OK\\n"',
        'vmm | guest reports: every value it read back is what the devices answered, and both bad sizes got INVALID_OPERAND',
        IO_DONE,
        SHUTDOWN,
      ]);
      expect(recs[1]).toMatchObject({ reason: 2, plugin: 'kvm.io', fields: { direction: '0x1', size: '0x1', port: '0x3f8', count: '0x1', dataOffset: '0x1000' } });
      expect(recs[15]).toMatchObject({ reason: 6, plugin: 'kvm.request-mmio', fields: { physAddr: '0xd0000008', data: '0x1122334455667788', len: '0x8', isWrite: '0x1' } });
      expect(recs[22]).toMatchObject({ kind: 'kernel', plugin: 'kvm.request-mmio', guest: { r10: '0x8000000000000000' } });
      expect(summary).toMatchObject({
        kind: 'summary', tdvmcalls: 12, kernelAnswered: 4, exits: { KVM_EXIT_IO: 5, KVM_EXIT_MMIO: 3, KVM_EXIT_SHUTDOWN: 1 },
        failures: [], vcpuStates: ['finished'],
      });
    });

    it('text: one readable line per exit with the decoded struct', () => {
      const r = seamkit('run', 'io-mmio');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('[vcpu0] TDVMCALL Instruction.IO -> KVM_EXIT_IO (2) via kvm.io: IN port 0x3fd, 1 byte(s) (direction=0x0 size=0x1 port=0x3fd count=0x1 dataOffset=0x1000)\n');
      expect(r.stdout).toContain('[vcpu0] TDVMCALL #VE.RequestMMIO -> KVM_EXIT_MMIO (6) via kvm.request-mmio: MMIO write 0xd0000008, 8 byte(s): 0x1122334455667788');
      expect(r.stdout).toContain('[vcpu0] TDVMCALL Instruction.IO answered in the kernel model by kvm.io -> guest R10=0x0 (SUCCESS) R11=0x20\n');
      expect(r.stdout).toContain('[vcpu0] TDVMCALL #VE.RequestMMIO answered in the kernel model by kvm.request-mmio -> guest R10=0x8000000000000000 (INVALID_OPERAND) R11=0x30\n');
      expect(r.stdout).toMatch(/userspace exits KVM_EXIT_IO x5, KVM_EXIT_MMIO x3, KVM_EXIT_SHUTDOWN x1\n/);
    });
  });

  describe('map-gpa', () => {
    it('--json: 6 MiB private -> shared -> private in three 2 MiB KVM_EXIT_HYPERCALL chunks each way; a misaligned MapGPA gets ALIGN_ERROR, R11 = the GPA', () => {
      const { code, recs, summary } = runJson('map-gpa');
      expect(code).toBe(0);
      const chunk = (kind: string, from: number, to: string): string =>
        `${kind} | MapGPA | KVM_HC_MAP_GPA_RANGE 0x${from.toString(16)}..0x${(from + 0x20_0000).toString(16)} (512 pages, 2 MiB) to ${to}`;
      expect(recs.map(brief)).toEqual([
        'exit | Instruction.IO | OUT port 0x31, 4 byte(s): 0x1',
        'vmm | host view of the marked pages: zeros (the guest\'s private data is not in the VMM\'s memory)',
        IO_DONE,
        chunk('exit', 0x40_0000, 'shared'), chunk('kvm-exit', 0x60_0000, 'shared'), chunk('kvm-exit', 0x80_0000, 'shared'),
        'complete | MapGPA | SUCCESS R11=0x10001',
        'exit | Instruction.IO | OUT port 0x31, 4 byte(s): 0x2',
        'vmm | host view of the marked pages: what the guest wrote through its shared mapping',
        'vmm | the VMM writes its own marks (0x686f737400000000 | i) for the guest to read',
        IO_DONE,
        chunk('exit', 0x40_0000, 'private'), chunk('kvm-exit', 0x60_0000, 'private'), chunk('kvm-exit', 0x80_0000, 'private'),
        'complete | MapGPA | SUCCESS R11=0x10001',
        'exit | Instruction.IO | OUT port 0x31, 4 byte(s): 0x3',
        'vmm | host view of the marked pages: zeros again (converting to private discarded the shared pages)',
        IO_DONE,
        'kernel | MapGPA | ALIGN_ERROR R11=0x800000400800',
        OK_REPORT,
        'vmm | guest reports: its private data was gone after each conversion, it read the VMM\'s data through the shared mapping, and the misaligned MapGPA got ALIGN_ERROR with R11 = its GPA',
        IO_DONE,
        SHUTDOWN,
      ]);
      expect(recs[3]).toMatchObject({ reason: 3, plugin: 'kvm.map-gpa', fields: { args: ['0x400000', '0x200', '0x0', '0x0', '0x0', '0x0'], ret: '0x0', flags: '0x1' } });
      expect(recs[12]).toMatchObject({ kind: 'kvm-exit', reason: 3, fields: { args: ['0x600000', '0x200', '0x10', '0x0', '0x0', '0x0'] } });
      expect(recs[18]).toMatchObject({ plugin: 'kvm.map-gpa', guest: { r10: '0x8000000000000002' } });
      expect(summary).toMatchObject({ tdvmcalls: 7, kernelAnswered: 1, exits: { KVM_EXIT_IO: 4, KVM_EXIT_HYPERCALL: 6, KVM_EXIT_SHUTDOWN: 1 }, failures: [] });
    });

    it('--trace: a line for each TD exit, with the EPT violations of the pages the guest accepts', () => {
      const r = seamkit('run', 'map-gpa', '--trace');
      expect(r.code).toBe(0);
      // 4 marked pages accepted twice: each TDG.MEM.PAGE.ACCEPT takes an EPT violation (KVM adds the page).
      expect(r.stdout.match(/TD exit: TDH\.VP\.ENTER returned 0x30 \(VMX exit reason 48\) EPT_VIOLATION\n/g)).toHaveLength(8);
      expect(r.stdout.match(/TD exit: TDH\.VP\.ENTER returned 0x4d \(VMX exit reason 77\) TDCALL\n/g)).toHaveLength(7);
      expect(r.stdout).toContain('[vcpu0] KVM_EXIT_HYPERCALL (3) MapGPA continues via kvm.map-gpa: KVM_HC_MAP_GPA_RANGE 0x800000..0xa00000 (512 pages, 2 MiB) to private (args=[0x800000,0x200,0x10,0x0,0x0,0x0] ret=0x0 flags=0x1)\n');
    });
  });

  describe('debug-td', () => {
    it('--json: the VMM reads the breakpoint\'s GPRs with KVM_GET_REGS and changes RBX / RBP with KVM_SET_REGS; the guest sees the change', () => {
      const { code, recs, summary } = runJson('debug-td');
      expect(code).toBe(0);
      expect(recs.map(brief)).toEqual([
        'exit | Instruction.IO | OUT port 0x31, 4 byte(s): 0x10000001',
        'vmm | guest reports TDG.VP.INFO ATTRIBUTES 0x10000001: DEBUG is set',
        IO_DONE,
        'exit | Instruction.IO | OUT port 0x31, 4 byte(s): 0xdb',
        'vmm | breakpoint: KVM_GET_REGS (TDH.VP.RD, class 16) reads RAX=0x0 RBX=0x11111111 RCX=0xfc00 RBP=0x5eed0001 R10=0x0 R11=0x1e R12=0x4 R13=0x1 R14=0x31 R15=0xdb RIP=0xfffffffc',
        'vmm | KVM_SET_REGS (TDH.VP.WR) writes RBX=0x22222222 RBP=0xd0d00001',
        IO_DONE,
        'exit | Instruction.IO | OUT port 0x31, 4 byte(s): 0x22222222',
        'vmm | guest reports RBX=0x22222222: the value the VMM wrote',
        IO_DONE,
        'exit | Instruction.IO | OUT port 0x31, 4 byte(s): 0xd0d00001',
        'vmm | guest reports RBP=0xd0d00001: the value the VMM wrote',
        IO_DONE,
        OK_REPORT,
        'vmm | guest reports: every check passed',
        IO_DONE,
        SHUTDOWN,
      ]);
      expect(recs[4]).toMatchObject({ data: { rbx: '0x11111111', rbp: '0x5eed0001', r15: '0xdb' } });
      expect(summary).toMatchObject({ tdvmcalls: 5, exits: { KVM_EXIT_IO: 5, KVM_EXIT_SHUTDOWN: 1 }, failures: [], vcpuStates: ['finished'] });
    });

    it('text', () => {
      const r = seamkit('run', 'debug-td');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('[vcpu0]   vmm: KVM_SET_REGS (TDH.VP.WR) writes RBX=0x22222222 RBP=0xd0d00001\n');
      expect(r.stdout).toContain('[vcpu0]   vmm: guest reports RBP=0xd0d00001: the value the VMM wrote\n');
    });
  });

  describe('attest', () => {
    it('--json: GetQuote to the in-process QGS, HLT until the notify MSI, the guest checks SUCCESS and reports on port 0x31', () => {
      const { code, recs, summary } = runJson('attest');
      expect(code).toBe(0);
      const lines = recs.map(brief);
      const sized = lines.map((l) => l.replace(/quote \d+ bytes/, 'quote N bytes'));
      const mrtd = String(summary['mrtd']);
      expect(mrtd).toMatch(/^[0-9a-f]{96}$/);
      expect(sized).toEqual([
        'exit | SetupEventNotifyInterrupt',
        'complete | SetupEventNotifyInterrupt | SUCCESS R11=0x10004',
        'exit | MapGPA | KVM_HC_MAP_GPA_RANGE 0x100000..0x104000 (4 pages, 16 KiB) to shared',
        'complete | MapGPA | SUCCESS R11=0x10001',
        'exit | GetQuote',
        'complete | GetQuote | SUCCESS R11=0x10002',
        'kernel | Instruction.HLT | SUCCESS R11=0xc',
        'kvm-exit | KVM_EXIT_INTR | KVM_RUN returned -EINTR: the vCPU halted and nothing pending wakes it yet',
        'vmm | GetQuote completed: KVM_SIGNAL_MSI vector 0x51 to APIC ID 0 wakes the halted vCPU',
        OK_REPORT,
        'vmm | guest reports its GetQuote buffer holds status SUCCESS: quote N bytes (DCAP v4 TD quote)',
        `vmm | quote MRTD ${mrtd} (the TD's own)`,
        'vmm | quote REPORTDATA a9e3cd96709b63be554a6d08d9dd332a994e4662d2be47342785d2dc61794f4d97d3fcbe4c7a0af65d1f7704cf7a1ba330bc188f57feb12f0c843abee7aa130c (what the guest asked for)',
        IO_DONE,
        SHUTDOWN,
        'vmm | the quote verifies with this run\'s test root CA (not Intel\'s): TCB status UpToDate',
      ]);
      expect(recs[0]).toMatchObject({ reason: 40, fields: { vector: '0x51' } });
      expect(recs[4]).toMatchObject({ reason: 40, plugin: 'tdx.get-quote', fields: { gpa: '0x100000', size: '0x4000' } });
      const size = recs[10]!['data'] as { quoteBytes: number };
      expect(size.quoteBytes).toBeGreaterThan(4000);
      expect(summary).toMatchObject({
        tdvmcalls: 5, kernelAnswered: 1, exits: { KVM_EXIT_TDX: 2, KVM_EXIT_HYPERCALL: 1, KVM_EXIT_IO: 1, KVM_EXIT_SHUTDOWN: 1 },
        failures: [], vcpuStates: ['finished'], halted: [],
      });
    });

    it('has the MRTD of `seamkit quote` (the same TD image) and prints the quote size, MRTD and REPORTDATA in text', () => {
      const r = seamkit('run', 'attest');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\[vcpu0\] {3}vmm: guest reports its GetQuote buffer holds status SUCCESS: quote \d{4} bytes \(DCAP v4 TD quote\)\n/);
      const mrtd = /TD MRTD\s+([0-9a-f]{96})\n/.exec(r.stdout)![1]!;
      expect(r.stdout).toContain(`vmm: quote MRTD ${mrtd} (the TD's own)\n`);
      expect(r.stdout).toMatch(/vmm: quote REPORTDATA [0-9a-f]{128} \(what the guest asked for\)\n/);
      expect(JSON.parse(seamkit('quote', '--out', '/dev/null', '--json').stdout)).toMatchObject({ mrtd });
    });

    it('fails (exit 1) with the guest\'s own verdict when GetQuote is not there (--plugins fatal)', () => {
      const { code, recs, summary } = runJson('attest', '--plugins', 'fatal');
      expect(code).toBe(1);
      expect(recs.map(brief)).toContain('exit | Instruction.IO | OUT port 0x31, 4 byte(s): 0xbad00039');
      expect(summary['failures']).toEqual(['guest reports 0xbad00039: the attestation flow failed at SetupEventNotifyInterrupt, GetQuote, quote status, notification interrupt']);
    });
  });

  it('every new scenario is deterministic: the same records on every run', () => {
    for (const name of ['io-mmio', 'map-gpa', 'debug-td']) expect(runJson(name).recs).toEqual(runJson(name).recs);
  });
});

describe('the built seamkit CLI: help and implicit conversion', () => {
  it.each([
    [['--help'], ['-h, --help']],
    [['run', '--help'], ['--vcpus N', '--memory SIZE', '--plugins LIST', '--trace', '--json', '--report FILE', '-h, --help']],
    [['quote', '--help'], ['--out FILE', '--report-data HEX', '--pki DIR', '--qgs SOCKET', '--json', '-h, --help']],
    [['qgs', '--help'], ['--socket PATH', '--pki DIR', '-h, --help']],
    [['abi', '--help'], ['--json', '-h, --help']],
    [['bench', '--help'], ['--json', '--ops N', '--reps N', '-h, --help']],
  ])('`seamkit %j` lists every option', (args, options) => {
    const r = seamkit(...args);
    expect(r.code).toBe(0);
    for (const o of options) expect(r.stdout).toContain(`\n  ${o}`);
  });

  it('converts memory on KVM_EXIT_MEMORY_FAULT for a user guest module (implicit conversion)', () => {
    const file = fileURLToPath(new URL('../../../examples/reference-vmm/greeting.mjs', import.meta.url));
    const { code, recs, summary } = runJson(file);
    expect(code).toBe(0);
    expect(recs.map(brief)).toEqual([
      'kvm-exit | KVM_EXIT_MEMORY_FAULT | shared access to private memory at 0x200000, 4 KiB (flags 0x0): convert it to shared',
      'exit | Instruction.IO | OUT port 0x80, 4 byte(s): 0x11',
      'vmm | the guest says "hello from the TD"',
      IO_DONE,
      SHUTDOWN,
    ]);
    expect(summary).toMatchObject({ scenario: 'greeting.mjs', exits: { KVM_EXIT_MEMORY_FAULT: 1, KVM_EXIT_IO: 1, KVM_EXIT_SHUTDOWN: 1 } });
  });

  it('exits 1 with a clear message when a guest module\'s own VMM code throws', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'seamkit-vmm-')), 'bad-vmm.mjs');
    writeFileSync(file, 'export function* guest() {}\nexport const vmm = () => ({ setup() { throw new Error(\'setup bug\'); } });\n');
    const r = seamkit('run', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`seamkit: guest module ${file} failed: setup bug\n`);
  });
});
