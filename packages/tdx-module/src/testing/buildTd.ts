/**
 * Test helpers (not exported from the package index): platform bring-up and TD build sequences
 * in the order Linux/KVM use them (packages/kvm/src/Kvm.ts #bringUp, Vm.tdxInitVm,
 * Vcpu.tdxInitVcpu / tdxInitMemRegion / Vm.tdxFinalizeVm), plus a deep snapshot of the module
 * state so tests can check that a failed SEAMCALL changed nothing.
 * @module
 */
import { SeamCpu, type GuestProgram, type LogicalProcessor, type SeamCpuOptions } from '@seamkit/seam-cpu';
import { PAGE_SIZE } from '@seamkit/seam-cpu/abi';
import { HKID_FREE } from '../abi/states.js';
import {
  TD_PARAMS_ATTRIBUTES, TD_PARAMS_CONFIG_FLAGS, TD_PARAMS_EPTP_CONTROLS, TD_PARAMS_MAX_VCPUS, TD_PARAMS_MRCONFIGID,
  TD_PARAMS_MROWNER, TD_PARAMS_MROWNERCONFIG, TD_PARAMS_SIZE, TD_PARAMS_TSC_FREQUENCY, TD_PARAMS_XFAM,
} from '../abi/structures.js';
import { TdxHost } from '../host/TdxHost.js';
import type { Td } from '../module/Td.js';
import { TdxModule, type TdxModuleOptions } from '../module/TdxModule.js';

/** 4 GiB of (sparse) physical memory: four 1 GiB TDMR steps, fast to initialize. */
export const TEST_MEMORY_BYTES = 4 * 2 ** 30;
/** 1 GiB. */
export const GIB = 2 ** 30;

/** TDX_SUCCESS, spelled out here so the helpers do not depend on the constants under test. */
const SUCCESS = 0n;
/** TDX_TDMR_ALREADY_INITIALIZED (reference §5.2). */
const TDMR_ALREADY_INITIALIZED = 0x00000a0300000000n;
/** TDX_KEY_CONFIGURED (a warning, reference §5.2). */
const KEY_CONFIGURED = 0x0000081500000000n;

/** Formats a status for messages. */
export function hex(v: bigint | number): string {
  return `0x${BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, '0')}`;
}

/** Throws unless `status` is TDX_SUCCESS (or one of `alsoOk`). */
export function expectOk(what: string, status: bigint, ...alsoOk: bigint[]): void {
  if (status !== SUCCESS && !alsoOk.includes(status)) throw new Error(`${what} failed with ${hex(status)}`);
}

/** A CPU with the TDX module loaded, nothing initialized yet. */
export interface Platform {
  readonly cpu: SeamCpu;
  readonly module: TdxModule;
  readonly host: TdxHost;
  /** Logical processors. */
  readonly lps: readonly LogicalProcessor[];
  /** LP 0, where the helpers issue package-independent SEAMCALLs. */
  readonly lp0: LogicalProcessor;
}

/** Installs a fresh TDX module on a fresh CPU (default: 2 LPs, 1 package, 4 GiB). */
export function installPlatform(cpu: SeamCpuOptions = {}, module: TdxModuleOptions = {}): Platform {
  const c = new SeamCpu({ memoryBytes: TEST_MEMORY_BYTES, ...cpu });
  const m = TdxModule.install(c, module);
  return { cpu: c, module: m, host: new TdxHost(), lps: c.lps, lp0: c.lps[0]! };
}

/**
 * Writes TDMR_INFO entries (base, size) and the array of their PAs into host memory, as Linux
 * does before TDH.SYS.CONFIG. Returns the PA of the array.
 */
export function writeTdmrList(p: Platform, tdmrs: readonly (readonly [number, number])[]): number {
  const mem = p.cpu.memory;
  const list = mem.allocPage();
  const listBytes = new DataView(new ArrayBuffer(8 * tdmrs.length));
  tdmrs.forEach(([base, size], i) => {
    const info = mem.allocPage();
    const b = new DataView(new ArrayBuffer(16));
    b.setBigUint64(0, BigInt(base), true);
    b.setBigUint64(8, BigInt(size), true);
    mem.write(info, new Uint8Array(b.buffer));
    listBytes.setBigUint64(i * 8, BigInt(info), true);
  });
  mem.write(list, new Uint8Array(listBytes.buffer));
  return list;
}

/** One LP of each package, in LP order. */
export function onePerPackage(p: Platform): LogicalProcessor[] {
  const seen = new Set<number>();
  return p.lps.filter((lp) => (seen.has(lp.packageId) ? false : (seen.add(lp.packageId), true)));
}

/** The global private HKID the helpers configure: the first TDX key id. */
export function globalHkidOf(p: Platform): number {
  return p.module.tdxKeyIdStart;
}

/** Runs TDH.SYS.TDMR.INIT on `base` until the TDMR is initialized. */
export function initTdmr(p: Platform, base: number, size: number): void {
  for (let i = 0; i < 1 + size / GIB; i++) {
    const r = p.host.tdhSysTdmrInit(p.lp0, base);
    if (r.status === TDMR_ALREADY_INITIALIZED) return;
    expectOk('TDH.SYS.TDMR.INIT', r.status);
    if (Number(r.rdx) >= base + size) return;
  }
  throw new Error('TDH.SYS.TDMR.INIT did not finish');
}

/**
 * The whole platform bring-up: SYS.INIT, LP.INIT on every LP, SYS.CONFIG with `tdmrs`
 * (default: one TDMR over all memory), KEY.CONFIG on one LP per package, TDMR.INIT.
 */
export function bringUp(p: Platform, tdmrs?: readonly (readonly [number, number])[]): void {
  const list = tdmrs ?? [[0, Math.floor(p.cpu.memory.size / GIB) * GIB] as const];
  expectOk('TDH.SYS.INIT', p.host.tdhSysInit(p.lp0));
  for (const lp of p.lps) expectOk('TDH.SYS.LP.INIT', p.host.tdhSysLpInit(lp));
  expectOk('TDH.SYS.CONFIG', p.host.tdhSysConfig(p.lp0, writeTdmrList(p, list), list.length, globalHkidOf(p)));
  for (const lp of onePerPackage(p)) expectOk('TDH.SYS.KEY.CONFIG', p.host.tdhSysKeyConfig(lp));
  for (const [base, size] of list) initTdmr(p, base, size);
}

/** A platform in SYS_READY with all memory in one initialized TDMR. */
export function bootPlatform(cpu: SeamCpuOptions = {}, module: TdxModuleOptions = {}): Platform {
  const p = installPlatform(cpu, module);
  bringUp(p);
  return p;
}

/** TD_PARAMS inputs (defaults are what KVM passes, with MAX_VCPUS = 8). */
export interface TdParamsInput {
  readonly attributes?: bigint;
  readonly xfam?: bigint;
  readonly maxVcpus?: number;
  /** Raw EPTP_CONTROLS; default: page-walk length matching `gpaw`, memory type WB (6). */
  readonly eptpControls?: bigint;
  /** Raw CONFIG_FLAGS; default: NO_RBP_MOD (bit 2), plus MAX_GPAW (bit 0) for GPAW 52. */
  readonly configFlags?: bigint;
  /** TSC frequency in units of 25 MHz (default 80 = 2 GHz). */
  readonly tscFrequency?: number;
  /** 48 (4-level EPT) or 52 (5-level EPT, MAX_GPAW); only used for the defaults. */
  readonly gpaw?: 48 | 52;
  readonly mrConfigId?: Uint8Array;
  readonly mrOwner?: Uint8Array;
  readonly mrOwnerConfig?: Uint8Array;
  /** TD_PARAMS.CPUID_CONFIG entries [EAX, EBX, ECX, EDX], in CPUID_CONFIG order (default: none, all 0). */
  readonly cpuidConfig?: readonly (readonly [number, number, number, number])[];
}

/** Bit 28 SEPT_VE_DISABLE (reference §2.4), what KVM supports. */
export const ATTR_SEPT_VE_DISABLE = 1n << 28n;
/** Bit 0 DEBUG. */
export const ATTR_DEBUG = 1n;
/** CONFIG_FLAGS bit 2, NO_RBP_MOD. */
export const CONFIG_NO_RBP_MOD = 1n << 2n;
/** CONFIG_FLAGS bit 0, MAX_GPAW. */
export const CONFIG_MAX_GPAW = 1n;

/** EPTP_CONTROLS for a page walk of `levels` levels (bits 5:3 = levels - 1), memory type WB. */
export function eptpFor(levels: number): bigint {
  return (BigInt(levels - 1) << 3n) | 6n;
}

/** The 1024 TD_PARAMS bytes. */
export function tdParamsBytes(params: TdParamsInput = {}): Uint8Array {
  const gpaw = params.gpaw ?? 48;
  const raw = new Uint8Array(TD_PARAMS_SIZE);
  const v = new DataView(raw.buffer);
  v.setBigUint64(TD_PARAMS_ATTRIBUTES, params.attributes ?? ATTR_SEPT_VE_DISABLE, true);
  v.setBigUint64(TD_PARAMS_XFAM, params.xfam ?? 7n, true);
  v.setUint16(TD_PARAMS_MAX_VCPUS, params.maxVcpus ?? 8, true);
  v.setBigUint64(TD_PARAMS_EPTP_CONTROLS, params.eptpControls ?? eptpFor(gpaw === 52 ? 5 : 4), true);
  v.setBigUint64(TD_PARAMS_CONFIG_FLAGS, params.configFlags ?? (CONFIG_NO_RBP_MOD | (gpaw === 52 ? CONFIG_MAX_GPAW : 0n)), true);
  v.setUint16(TD_PARAMS_TSC_FREQUENCY, params.tscFrequency ?? 80, true);
  if (params.mrConfigId) raw.set(params.mrConfigId, TD_PARAMS_MRCONFIGID);
  if (params.mrOwner) raw.set(params.mrOwner, TD_PARAMS_MROWNER);
  if (params.mrOwnerConfig) raw.set(params.mrOwnerConfig, TD_PARAMS_MROWNERCONFIG);
  (params.cpuidConfig ?? []).forEach((regs, i) => regs.forEach((reg, r) => v.setUint32(256 + i * 16 + r * 4, reg, true)));
  return raw;
}

/** Writes TD_PARAMS into a fresh host page and returns its PA. */
export function writeTdParams(p: Platform, params: TdParamsInput = {}): number {
  const page = p.cpu.memory.allocPage();
  p.cpu.memory.write(page, tdParamsBytes(params));
  return page;
}

/** The lowest free TDX HKID other than the global one. */
export function freeHkid(p: Platform): number {
  const m = p.module;
  for (let i = 0; i < m.kot.length; i++) {
    const hkid = m.tdxKeyIdStart + i;
    if (m.kot[i] === HKID_FREE && hkid !== m.globalHkid) return hkid;
  }
  throw new Error('no free HKID');
}

/** TDH.MNG.CREATE with a fresh TDR page and HKID. */
export function mngCreate(p: Platform, hkid = freeHkid(p)): { tdr: number; hkid: number } {
  const tdr = p.cpu.memory.allocPage();
  expectOk('TDH.MNG.CREATE', p.host.tdhMngCreate(p.lp0, tdr, hkid));
  return { tdr, hkid };
}

/** TDH.MNG.KEY.CONFIG on one LP of every package. */
export function keyConfig(p: Platform, tdr: number): void {
  for (const lp of onePerPackage(p)) expectOk('TDH.MNG.KEY.CONFIG', p.host.tdhMngKeyConfig(lp, tdr));
}

/** `n` TDH.MNG.ADDCX calls (default 6, a full TDCS). Returns the pages. */
export function addTdcs(p: Platform, tdr: number, n = 6): number[] {
  const pages: number[] = [];
  for (let i = 0; i < n; i++) {
    const page = p.cpu.memory.allocPage();
    expectOk('TDH.MNG.ADDCX', p.host.tdhMngAddcx(p.lp0, tdr, page));
    pages.push(page);
  }
  return pages;
}

/** CREATE, KEY.CONFIG on every package and the 6 TDCS pages: a TD ready for TDH.MNG.INIT. */
export function createTd(p: Platform, hkid?: number): { tdr: number; hkid: number } {
  const td = mngCreate(p, hkid);
  keyConfig(p, td.tdr);
  addTdcs(p, td.tdr);
  return td;
}

/** TDH.MNG.INIT with `params`. */
export function mngInit(p: Platform, tdr: number, params: TdParamsInput = {}): void {
  const r = p.host.tdhMngInit(p.lp0, tdr, writeTdParams(p, params));
  expectOk('TDH.MNG.INIT', r.status);
}

/** TDH.VP.CREATE and the 5 TDH.VP.ADDCX (on `lp`); returns the TDVPR PA. */
export function createVcpu(p: Platform, tdr: number, lp: LogicalProcessor = p.lp0, addcx = 5): number {
  const mem = p.cpu.memory;
  const tdvpr = mem.allocPage();
  expectOk('TDH.VP.CREATE', p.host.tdhVpCreate(lp, tdr, tdvpr));
  for (let i = 0; i < addcx; i++) expectOk('TDH.VP.ADDCX', p.host.tdhVpAddcx(lp, tdvpr, mem.allocPage()));
  return tdvpr;
}

/** TDH.VP.INIT on `lp`. */
export function vpInit(p: Platform, tdvpr: number, lp: LogicalProcessor = p.lp0, initialRcx = 0n): void {
  expectOk('TDH.VP.INIT', p.host.tdhVpInit(lp, tdvpr, initialRcx));
}

/** The SEPT tables (levels `levels-1` .. 1) that `gpa` still lacks, added top down as KVM does. */
export function addSeptTables(p: Platform, tdr: number, gpa: number): number[] {
  const td = p.module.tds.get(tdr)!;
  const sept = td.sept!;
  const added: number[] = [];
  for (let level = sept.levels - 1; level >= 1; level--) {
    if (sept.tables[level]!.has(Math.floor(gpa / 2 ** (12 + 9 * level)))) continue;
    const page = p.cpu.memory.allocPage();
    expectOk('TDH.MEM.SEPT.ADD', p.host.tdhMemSeptAdd(p.lp0, tdr, gpa, level, page).status);
    added.push(page);
  }
  return added;
}

/**
 * TDH.MEM.PAGE.ADD of one 4 KiB page at `gpa` with `content` (zero padded) through a bounce page,
 * then, when `measure`, 16 TDH.MR.EXTEND over it (KVM_TDX_MEASURE_MEMORY_REGION). Returns the
 * HPA of the new private page.
 */
export function addPage(p: Platform, tdr: number, gpa: number, content: Uint8Array, measure = false): number {
  addSeptTables(p, tdr, gpa);
  const mem = p.cpu.memory;
  const bounce = mem.allocPage();
  const chunk = new Uint8Array(PAGE_SIZE);
  chunk.set(content.subarray(0, PAGE_SIZE));
  mem.write(bounce, chunk);
  const page = mem.allocPage();
  expectOk('TDH.MEM.PAGE.ADD', p.host.tdhMemPageAdd(p.lp0, tdr, gpa, page, bounce).status);
  mem.freePage(bounce);
  if (measure) {
    for (let off = 0; off < PAGE_SIZE; off += 256) expectOk('TDH.MR.EXTEND', p.host.tdhMrExtend(p.lp0, tdr, gpa + off).status);
  }
  return page;
}

/** One private page of the TD image. */
export interface ImagePage {
  readonly gpa: number;
  readonly content: Uint8Array;
  readonly measure?: boolean;
}

/** What {@link buildTd} builds. */
export interface BuildTdOptions {
  readonly params?: TdParamsInput;
  /** Number of vCPUs (default 1); vCPU i is created and initialized on LP i mod #LPs. */
  readonly vcpus?: number;
  /** Initial RCX (TD HOB) passed to TDH.VP.INIT for every vCPU. */
  readonly initialRcx?: bigint;
  readonly pages?: readonly ImagePage[];
  readonly program?: GuestProgram;
  /** Run TDH.MR.FINALIZE (default true). */
  readonly finalize?: boolean;
  readonly hkid?: number;
}

/** A TD built by {@link buildTd}. */
export interface BuiltTd {
  readonly tdr: number;
  readonly hkid: number;
  /** TDVPR PAs, in vCPU index order. */
  readonly tdvprs: readonly number[];
  /** LP each vCPU is associated with. */
  readonly vcpuLps: readonly LogicalProcessor[];
  /** HPA of the private page at each image GPA. */
  readonly pageHpa: ReadonlyMap<number, number>;
  /** The module's record of the TD. */
  readonly td: Td;
}

/** The full KVM build sequence: INIT_VM, INIT_VCPU per vCPU, INIT_MEM_REGION, FINALIZE_VM. */
export function buildTd(p: Platform, options: BuildTdOptions = {}): BuiltTd {
  const { tdr, hkid } = createTd(p, options.hkid);
  mngInit(p, tdr, options.params);
  const tdvprs: number[] = [];
  const vcpuLps: LogicalProcessor[] = [];
  for (let i = 0; i < (options.vcpus ?? 1); i++) {
    const lp = p.lps[i % p.lps.length]!;
    const tdvpr = createVcpu(p, tdr, lp);
    vpInit(p, tdvpr, lp, options.initialRcx ?? 0n);
    tdvprs.push(tdvpr);
    vcpuLps.push(lp);
  }
  const pageHpa = new Map<number, number>();
  for (const page of options.pages ?? []) pageHpa.set(page.gpa, addPage(p, tdr, page.gpa, page.content, page.measure ?? false));
  if (options.program !== undefined) p.module.bindGuestProgram(tdr, options.program);
  if (options.finalize ?? true) expectOk('TDH.MR.FINALIZE', p.host.tdhMrFinalize(p.lp0, tdr));
  return { tdr, hkid, tdvprs, vcpuLps, pageHpa, td: p.module.tds.get(tdr)! };
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Everything the module keeps, as plain data: platform state, KOT, PAMT, every TD (TDR, TDCS,
 * secure EPT, the running MRTD digest) and every vCPU (state, association, guest registers),
 * plus how many physical pages are in use. Two snapshots are deep-equal iff nothing changed.
 */
export function moduleSnapshot(p: Platform): unknown {
  const m = p.module;
  const tdmrs: unknown[] = [];
  for (let base = 0; base < p.cpu.memory.size; base += GIB) {
    const t = m.pamt.tdmrAt(base);
    if (t !== undefined) tdmrs.push({ ...t, progress: m.tdmrProgress(base) });
  }
  return {
    sysState: m.sysState,
    lpInitDone: [...m.lpInitDone],
    keyConfiguredPackages: [...m.keyConfiguredPackages].sort(),
    globalHkid: m.globalHkid,
    kot: Array.from(m.kot),
    kotWbinvd: Array.from(m.kotWbinvd),
    cacheWb: m.cacheWb.map((w) => ({ intrPoint: w.intrPoint, hkidFlushed: Array.from(w.hkidFlushed) })),
    tdmrs,
    pamt: [...m.pamt.entries()].map(([hpa, e]) => [hpa, e.type, e.owner]).sort((a, b) => a[0]! - b[0]!),
    tds: [...m.tds].map(([tdr, td]) => ({
      tdr,
      hkid: td.hkid,
      lifecycle: td.lifecycle,
      keyConfiguredPackages: [...td.keyConfiguredPackages].sort(),
      fatal: td.fatal,
      tdcsPages: [...td.tdcsPages],
      childCount: td.childCount,
      opState: td.opState,
      attributes: td.attributes,
      xfam: td.xfam,
      maxVcpus: td.maxVcpus,
      numVcpus: td.numVcpus,
      configFlags: td.configFlags,
      tscFrequency: td.tscFrequency,
      gpaw: td.gpaw,
      noRbpMod: td.noRbpMod,
      debug: td.debug,
      numAssocVcpus: td.numAssocVcpus,
      tdEpoch: td.tdEpoch,
      mr: [td.mrConfigId, td.mrOwner, td.mrOwnerConfig, td.mrtd, ...td.rtmr].map(toHex),
      mrtdRunning: td.mrtdHash?.copy().digest('hex'),
      sept: td.sept && {
        levels: td.sept.levels,
        tables: td.sept.tables.map((t) => [...t].sort((a, b) => a[0] - b[0])),
        leaves: [...td.sept.leaves].map(([gfn, l]) => [gfn, l.state, l.hpa, l.bepoch ?? -1]).sort((a, b) => a[0]! - b[0]!),
        blockedTables: td.sept.blockedTables.map((t) => [...t].sort((a, b) => a[0] - b[0])),
      },
      hasMemory: td.memory !== undefined,
      program: td.program,
      notifyEnables: td.notifyEnables,
      tdCtls: td.tdCtls,
      cpuidValues: td.cpuidValues && Array.from(td.cpuidValues),
    })),
    vcpus: [...m.vcpus].map(([tdvpr, v]) => ({
      tdvpr,
      td: v.td.tdrPa,
      state: v.state,
      tdcxPages: [...v.tdcxPages],
      index: v.index,
      lp: v.lp,
      lastExit: v.lastExit,
      regs: v.regs.snapshot(),
      savedBitmap: v.savedBitmap,
      hasGuest: v.guest !== undefined,
      code: v.code,
      pendNmi: v.pendNmi,
      cpuidVe: v.cpuidVe,
      veInfo: { ...v.veInfo },
      vmcs: [...v.vmcs].sort((a, b) => a[0] - b[0]),
      tdcallRestart: v.tdcallRestart,
      extExitQual: v.extExitQual,
    })),
    touchedPages: p.cpu.memory.touchedPages,
  };
}
