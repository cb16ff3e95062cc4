import fc from 'fast-check';
import { PAGE_SIZE, RAX, RegisterFile, type LogicalProcessor } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import * as L from '../abi/leaves.js';
import {
  HKID_ASSIGNED, HKID_FLUSHED, HKID_FREE, PT_EPT, PT_REG, PT_TDCX, PT_TDR, PT_TDVPR, SEPT_BLOCKED, SEPT_MAPPED,
  SEPT_PENDING, SEPT_PENDING_BLOCKED, TD_BLOCKED, TD_HKID_ASSIGNED, TD_KEYS_CONFIGURED, TD_TEARDOWN,
} from '../abi/states.js';
import {
  bootPlatform, buildTd, moduleSnapshot, onePerPackage, writeTdParams, type Platform,
} from '../testing/buildTd.js';
import type { Td } from './Td.js';

/**
 * Property test: random sequences of SEAMCALLs (the build, secure-EPT runtime and teardown
 * leaves, with real and malformed operands, on random LPs), checking after every step that
 * - a call that did not succeed changed nothing (deep snapshot of the module and of physical
 *   memory use), warnings included;
 * - the PAMT agrees with the TDs' and vCPUs' records (every TD page is recorded where its type
 *   says, and every recorded page is in the PAMT with that type and owner), child counts match;
 * - HKIDs are consistent: a TD's KOT entry follows its life cycle, and no live HKID has two TDs.
 */

const GPAS = [0, 0x1000, 0x2000, 0x20_0000, 0x4000_0000, 0x4000_1000, 0x8000_0000, 2 ** 47 + 0x1000, 0x1008, 2 ** 40];

interface World {
  readonly p: Platform;
  /** Pages ever handed to the module (candidates for "not free" operands and RECLAIM). */
  readonly pages: number[];
  readonly tdrs: number[];
  readonly tdvprs: number[];
}

/** Picks from `xs` with `n` (or `fallback` if empty). */
function pick<T>(xs: readonly T[], n: number, fallback: T): T {
  return xs.length === 0 ? fallback : xs[n % xs.length]!;
}

function call(lp: LogicalProcessor, leaf: number, rcx: bigint, rdx = 0n, r8 = 0n, r9 = 0n): bigint {
  const regs = new RegisterFile();
  regs.set(1, rcx);
  regs.set(2, rdx);
  regs.set(8, r8);
  regs.set(9, r9);
  regs.setNumber(RAX, leaf);
  lp.seamcall(regs);
  return regs.get(RAX);
}

/** One random step: prepares operands (allocating pages first), then issues one SEAMCALL. */
function step(w: World, op: number, a: number, b: number, c: number): { leaf: number; run: () => bigint } {
  const { p } = w;
  const mem = p.cpu.memory;
  const lp = p.lps[a % p.lps.length]!;
  const page = (): number => {
    if (b % 3 === 0 && w.pages.length > 0) return pick(w.pages, c, 0);
    const fresh = mem.allocPage();
    w.pages.push(fresh);
    return fresh;
  };
  const tdr = (): number => (c % 7 === 6 ? page() : pick(w.tdrs, b, 0x1000));
  const tdvpr = (): number => (c % 7 === 6 ? page() : pick(w.tdvprs, b, 0x1000));
  const gpa = (): number => GPAS[c % GPAS.length]!;
  const level = (): number => b % 4;
  const info = (): bigint => BigInt(gpa()) | BigInt(level());
  const B = BigInt;
  switch (op % 21) {
    case 0: {
      const pg = page();
      const hkid = b % 5 === 4 ? p.module.tdxKeyIdStart : p.module.tdxKeyIdStart + 1 + (c % 6);
      return { leaf: L.TDH_MNG_CREATE, run: () => { w.tdrs.push(pg); return call(lp, L.TDH_MNG_CREATE, B(pg), B(hkid)); } };
    }
    case 1: { const t = tdr(); return { leaf: L.TDH_MNG_KEY_CONFIG, run: () => call(lp, L.TDH_MNG_KEY_CONFIG, B(t)) }; }
    case 2: { const t = tdr(); const pg = page(); return { leaf: L.TDH_MNG_ADDCX, run: () => call(lp, L.TDH_MNG_ADDCX, B(pg), B(t)) }; }
    case 3: {
      const t = tdr();
      const params = writeTdParams(p, { maxVcpus: 1 + (c % 2) });
      return { leaf: L.TDH_MNG_INIT, run: () => call(lp, L.TDH_MNG_INIT, B(t), B(params)) };
    }
    case 4: { const t = tdr(); const pg = page(); return { leaf: L.TDH_VP_CREATE, run: () => { w.tdvprs.push(pg); return call(lp, L.TDH_VP_CREATE, B(pg), B(t)); } }; }
    case 5: { const v = tdvpr(); const pg = page(); return { leaf: L.TDH_VP_ADDCX, run: () => call(lp, L.TDH_VP_ADDCX, B(pg), B(v)) }; }
    case 6: { const v = tdvpr(); return { leaf: L.TDH_VP_INIT, run: () => call(lp, L.TDH_VP_INIT, B(v), 0n) }; }
    case 7: { const t = tdr(); const g = B(gpa()) | B(1 + (b % 3)); const pg = page(); return { leaf: L.TDH_MEM_SEPT_ADD, run: () => call(lp, L.TDH_MEM_SEPT_ADD, g, B(t), B(pg)) }; }
    case 8: {
      const t = tdr(); const g = B(gpa()); const pg = page();
      const src = mem.allocPage();
      mem.write(src, new Uint8Array(PAGE_SIZE).fill(a & 0xff));
      return { leaf: L.TDH_MEM_PAGE_ADD, run: () => call(lp, L.TDH_MEM_PAGE_ADD, g, B(t), B(pg), B(src)) };
    }
    case 9: { const t = tdr(); return { leaf: L.TDH_MR_FINALIZE, run: () => call(lp, L.TDH_MR_FINALIZE, B(t)) }; }
    case 10: { const t = tdr(); const g = B(gpa()) | B(b % 5 === 0 ? 1 : 0); const pg = page(); return { leaf: L.TDH_MEM_PAGE_AUG, run: () => call(lp, L.TDH_MEM_PAGE_AUG, g, B(t), B(pg)) }; }
    case 11: { const t = tdr(); const i = info(); return { leaf: L.TDH_MEM_RANGE_BLOCK, run: () => call(lp, L.TDH_MEM_RANGE_BLOCK, i, B(t)) }; }
    case 12: { const t = tdr(); return { leaf: L.TDH_MEM_TRACK, run: () => call(lp, L.TDH_MEM_TRACK, B(t)) }; }
    case 13: { const t = tdr(); const i = info(); return { leaf: L.TDH_MEM_RANGE_UNBLOCK, run: () => call(lp, L.TDH_MEM_RANGE_UNBLOCK, i, B(t)) }; }
    case 14: { const t = tdr(); const i = info(); return { leaf: L.TDH_MEM_PAGE_REMOVE, run: () => call(lp, L.TDH_MEM_PAGE_REMOVE, i, B(t)) }; }
    case 15: { const t = tdr(); const i = info(); return { leaf: L.TDH_MEM_SEPT_REMOVE, run: () => call(lp, L.TDH_MEM_SEPT_REMOVE, i, B(t)) }; }
    case 16: { const v = tdvpr(); return { leaf: b % 2 === 0 ? L.TDH_VP_FLUSH : L.TDH_VP_ENTER, run: () => call(lp, b % 2 === 0 ? L.TDH_VP_FLUSH : L.TDH_VP_ENTER, B(v)) }; }
    case 17: { const t = tdr(); return { leaf: L.TDH_MNG_VPFLUSHDONE, run: () => call(lp, L.TDH_MNG_VPFLUSHDONE, B(t)) }; }
    case 18: { const cmd = B(b % 5 === 4 ? 2 : b % 2); return { leaf: L.TDH_PHYMEM_CACHE_WB, run: () => call(lp, L.TDH_PHYMEM_CACHE_WB, cmd) }; }
    case 19: { const t = tdr(); return { leaf: L.TDH_MNG_KEY_FREEID, run: () => call(lp, L.TDH_MNG_KEY_FREEID, B(t)) }; }
    default: {
      const owned = [...p.module.pamt.entries()];
      const inTeardown = owned.filter(([, e]) => p.module.tds.get(e.owner)?.lifecycle === TD_TEARDOWN).map(([h]) => h);
      const target = b % 4 === 0 ? pick(w.tdrs, c, 0x1000) : b % 4 === 1 ? pick(inTeardown, c, 0x1000) : pick(owned.map(([h]) => h), c, 0x1000);
      if (b % 3 === 1) {
        const keyed = p.module.keyedPa(target, p.module.tdxKeyIdStart + (c % 8));
        return { leaf: L.TDH_PHYMEM_PAGE_WBINVD, run: () => call(lp, L.TDH_PHYMEM_PAGE_WBINVD, keyed) };
      }
      return { leaf: L.TDH_PHYMEM_PAGE_RECLAIM, run: () => call(lp, L.TDH_PHYMEM_PAGE_RECLAIM, B(target)) };
    }
  }
}

/** Throws (through expect) when an invariant between the PAMT, the TD records and the KOT breaks. */
function checkInvariants(p: Platform): void {
  const m = p.module;
  const pamt = [...m.pamt.entries()];
  const childCount = new Map<number, number>();
  const hpaSeen = new Set<number>();
  for (const [hpa, e] of pamt) {
    expect(hpaSeen.has(hpa)).toBe(false);
    hpaSeen.add(hpa);
    const td = m.tds.get(e.owner);
    expect(td, `owner of 0x${hpa.toString(16)}`).toBeDefined();
    if (e.type === PT_TDR) {
      expect(e.owner).toBe(hpa);
      continue;
    }
    childCount.set(e.owner, (childCount.get(e.owner) ?? 0) + 1);
    if (td!.lifecycle === TD_TEARDOWN) continue;
    const recorded =
      e.type === PT_TDCX ? td!.tdcsPages.includes(hpa) || [...m.vcpus.values()].some((v) => v.td === td && v.tdcxPages.includes(hpa))
        : e.type === PT_TDVPR ? m.vcpus.get(hpa)?.td === td
          : e.type === PT_EPT ? (td!.sept?.tables ?? []).some((t) => [...t.values()].includes(hpa))
            : e.type === PT_REG ? [...(td!.sept?.leaves.values() ?? [])].some((l) => l.hpa === hpa)
              : false;
    expect(recorded, `PAMT type ${e.type} page 0x${hpa.toString(16)} recorded by its TD`).toBe(true);
  }
  const liveHkids = new Map<number, Td>();
  for (const [tdr, td] of m.tds) {
    expect(m.pamt.typeOf(tdr)).toBe(PT_TDR);
    expect(td.childCount, 'TDR.CHLDCNT').toBe(childCount.get(tdr) ?? 0);
    const k = td.hkid - m.tdxKeyIdStart;
    if (td.lifecycle !== TD_TEARDOWN) {
      expect(liveHkids.has(td.hkid)).toBe(false);
      liveHkids.set(td.hkid, td);
      const expected = td.lifecycle === TD_BLOCKED ? HKID_FLUSHED : HKID_ASSIGNED;
      expect(m.kot[k], `KOT of HKID ${td.hkid} in life cycle ${td.lifecycle}`).toBe(expected);
      expect([TD_HKID_ASSIGNED, TD_KEYS_CONFIGURED, TD_BLOCKED]).toContain(td.lifecycle);
      // Every recorded page is in the PAMT with the right type and owner.
      const own = (hpa: number, type: number): void => {
        expect([m.pamt.typeOf(hpa), m.pamt.ownerOf(hpa)], `recorded page 0x${hpa.toString(16)}`).toEqual([type, tdr]);
      };
      for (const pg of td.tdcsPages) own(pg, PT_TDCX);
      for (const t of td.sept?.tables ?? []) for (const hpa of t.values()) own(hpa, PT_EPT);
      for (const [gfn, l] of td.sept?.leaves ?? []) {
        own(l.hpa, PT_REG);
        expect([SEPT_PENDING, SEPT_MAPPED, SEPT_BLOCKED, SEPT_PENDING_BLOCKED]).toContain(l.state);
        expect(td.sept!.walk(gfn * PAGE_SIZE, 0), 'tables above a leaf').toBe(-1);
      }
    }
    const assoc = [...m.vcpus.values()].filter((v) => v.td === td && v.lp >= 0).length;
    expect(td.numAssocVcpus, 'NUM_ASSOC_VCPUS').toBe(assoc);
  }
  for (const [tdvpr, v] of m.vcpus) {
    expect(m.pamt.typeOf(tdvpr)).toBe(PT_TDVPR);
    expect(m.tds.get(v.td.tdrPa)).toBe(v.td);
    if (v.td.lifecycle !== TD_TEARDOWN) for (const pg of v.tdcxPages) expect(m.pamt.typeOf(pg)).toBe(PT_TDCX);
  }
  for (let k = 0; k < m.kot.length; k++) {
    const hkid = m.tdxKeyIdStart + k;
    if (m.kot[k] !== HKID_FREE && hkid !== m.globalHkid) expect(liveHkids.has(hkid), `KOT entry of HKID ${hkid} has a TD`).toBe(true);
    if (m.kot[k] !== HKID_FLUSHED) expect(m.kotWbinvd[k], `WBINVD bitmap of HKID ${hkid}`).toBe(0);
  }
}

const stepArb = fc.record({ op: fc.nat({ max: 200 }), a: fc.nat({ max: 1000 }), b: fc.nat({ max: 1000 }), c: fc.nat({ max: 1000 }) });

describe('random SEAMCALL sequences', () => {
  it('should keep every invariant and change nothing on a failed call', () => {
    let steps = 0;
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 20, maxLength: 90 }), fc.nat({ max: 4 }), (seq, prebuilt) => {
        const p = bootPlatform({ logicalProcessors: 3, packages: 2 }, { tdxKeyIds: 8 });
        const w: World = { p, pages: [], tdrs: [], tdvprs: [] };
        // Start from a few TDs in different stages so the runtime and teardown leaves have targets.
        // TD 0 runnable, 1 initialized, 2 blocked (VPFLUSHDONE done), 3 in teardown (HKID freed).
        for (let i = 0; i < prebuilt; i++) {
          const b = buildTd(p, { vcpus: 1 + (i % 2), finalize: i !== 1, pages: [{ gpa: 0x1000, content: new Uint8Array([i]) }] });
          w.tdrs.push(b.tdr);
          w.tdvprs.push(...b.tdvprs);
          w.pages.push(...b.pageHpa.values());
          if (i >= 2) {
            b.tdvprs.forEach((v, j) => p.host.tdhVpFlush(b.vcpuLps[j]!, v));
            p.host.tdhMngVpflushdone(p.lp0, b.tdr);
          }
          if (i === 3) {
            for (const lp of onePerPackage(p)) p.host.tdhPhymemCacheWb(lp);
            p.host.tdhMngKeyFreeid(p.lp0, b.tdr);
          }
        }
        checkInvariants(p);
        for (const s of seq) {
          const { run, leaf } = step(w, s.op, s.a, s.b, s.c);
          const before = moduleSnapshot(p);
          const status = run();
          steps++;
          const exited = leaf === L.TDH_VP_ENTER && status >> 32n === 0n;
          if (status !== 0n && !exited) expect(moduleSnapshot(p), `leaf ${leaf} failed with 0x${status.toString(16)}`).toEqual(before);
          checkInvariants(p);
        }
      }),
      { numRuns: 70 },
    );
    expect(steps).toBeGreaterThan(1000);
  }, 60_000);
});
