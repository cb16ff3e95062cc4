import { PAGE_SIZE } from '@seamkit/seam-cpu/abi';
import { PT_NDA } from '../abi/states.js';

/** PAMT entry of one 4 KiB page: its type and owning TDR. */
export interface PamtEntry {
  /** Page type (PT_*). */
  type: number;
  /** Physical address of the owning TDR page (the page itself for a TDR), or -1. */
  owner: number;
}

/**
 * The Physical Address Metadata Table: the page type and owner of every 4 KiB page inside a
 * TDMR. Pages outside every TDMR cannot be given to TDs. Entries exist only for pages that are
 * not PT_NDA, so memory use grows with pages in use, not with TDMR size.
 */
export class Pamt {
  readonly #tdmrs: { base: number; end: number; initialized: boolean }[] = [];
  readonly #entries = new Map<number, PamtEntry>();

  /** Registers a TDMR (from TDH.SYS.CONFIG). */
  addTdmr(base: number, size: number): void {
    this.#tdmrs.push({ base, end: base + size, initialized: false });
  }

  /** Number of TDMRs. */
  get tdmrCount(): number {
    return this.#tdmrs.length;
  }

  /** The TDMR starting at `base`, if any. */
  tdmrAt(base: number): {
    /** First byte of the TDMR. */ base: number;
    /** First byte after the TDMR. */ end: number;
    /** True once TDH.SYS.TDMR.INIT has initialized all of it. */ initialized: boolean;
  } | undefined {
    return this.#tdmrs.find((t) => t.base === base);
  }

  /** True when every TDMR is initialized. */
  get allInitialized(): boolean {
    return this.#tdmrs.every((t) => t.initialized);
  }

  /** True if `hpa` lies in an initialized TDMR. */
  covers(hpa: number): boolean {
    for (const t of this.#tdmrs) if (hpa >= t.base && hpa < t.end) return t.initialized;
    return false;
  }

  /** Type of the page at `hpa` (PT_NDA if none recorded). */
  typeOf(hpa: number): number {
    return this.#entries.get(hpa / PAGE_SIZE)?.type ?? PT_NDA;
  }

  /** Owner TDR of the page at `hpa`, or -1. */
  ownerOf(hpa: number): number {
    return this.#entries.get(hpa / PAGE_SIZE)?.owner ?? -1;
  }

  /** Records the page at `hpa` as `type`, owned by `owner`. */
  set(hpa: number, type: number, owner: number): void {
    if (type === PT_NDA) this.#entries.delete(hpa / PAGE_SIZE);
    else this.#entries.set(hpa / PAGE_SIZE, { type, owner });
  }

  /** Number of pages whose type is not PT_NDA. */
  get usedPages(): number {
    return this.#entries.size;
  }

  /** All used pages (for invariant checks): [hpa, entry]. */
  *entries(): IterableIterator<[number, PamtEntry]> {
    for (const [pfn, e] of this.#entries) yield [pfn * PAGE_SIZE, e];
  }
}
