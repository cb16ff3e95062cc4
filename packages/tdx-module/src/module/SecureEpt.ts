import type { Ept } from '@seamkit/seam-cpu';
import {
  SEPT_BLOCKED, SEPT_FREE, SEPT_MAPPED, SEPT_NL_BLOCKED, SEPT_NL_MAPPED, SEPT_PENDING, SEPT_PENDING_BLOCKED,
} from '../abi/states.js';

/** A leaf entry of the secure EPT (4 KiB mapping). */
export interface SeptLeaf {
  /** SEPT entry state (SEPT_*). */
  state: number;
  /** Host physical address of the private page. */
  hpa: number;
  /**
   * TD epoch sampled by TDH.MEM.RANGE.BLOCK (the module keeps it as the page's PAMT.BEPOCH);
   * absent while the entry was never blocked.
   */
  bepoch?: number;
}

/** Architectural value of a FREE SEPT entry as reported in RCX: only SUPPRESS_VE (bit 63). */
export const SEPT_ENTRY_FREE_ARCH = 1n << 63n;

/** RWX permission bits of an architectural SEPT entry. */
const SEPT_RWX = 7n;

/**
 * The secure EPT of one TD: non-leaf tables per level and 4 KiB leaf entries with their states.
 * Levels follow the TDX numbering: 0 = 4 KiB leaf, 1 = page table, 2 = page directory,
 * 3 = PDPT, 4 = PML4 (5-level only); the root is part of the TDCS.
 *
 * The entry at level L (L >= 1) that covers a GPA is NL_MAPPED when `tables[L]` holds the SEPT
 * page it points to, NL_BLOCKED when that entry is also in `blockedTables[L]`, and FREE otherwise.
 * Leaf entries exist at level 0 only: the module maps private memory at 4 KiB, as KVM does.
 */
export class SecureEpt implements Ept {
  /** Number of paging levels (4 or 5). */
  readonly levels: number;
  /** Non-leaf tables present, per level: index (GPA >> (12 + 9 * level)) to SEPT page HPA. */
  readonly tables: Map<number, number>[];
  /**
   * Non-leaf entries in state NL_BLOCKED, per level: index to the TD epoch TDH.MEM.RANGE.BLOCK
   * sampled (the BEPOCH of the SEPT page they point to).
   */
  readonly blockedTables: Map<number, number>[];
  /** 4 KiB leaves: guest frame number to entry. */
  readonly leaves = new Map<number, SeptLeaf>();
  #blockedTableCount = 0;

  /** @param levels - 4 (GPAW 48) or 5 (GPAW 52) */
  constructor(levels: number) {
    this.levels = levels;
    this.tables = Array.from({ length: levels }, () => new Map<number, number>());
    this.blockedTables = Array.from({ length: levels }, () => new Map<number, number>());
  }

  /** Table index of `gpa` at `level`. */
  static index(gpa: number, level: number): number {
    return Math.floor(gpa / 2 ** (12 + 9 * level));
  }

  /**
   * Walks down to `level` for `gpa`. Returns -1 if every table above `level` exists, otherwise
   * the level whose table is missing.
   */
  walk(gpa: number, level: number): number {
    for (let l = this.levels - 1; l > level; l--) {
      if (!this.tables[l]!.has(SecureEpt.index(gpa, l))) return l;
    }
    return -1;
  }

  /** State of the 4 KiB leaf at `gpa` (SEPT_FREE if none). */
  leafState(gpa: number): number {
    return this.leaves.get(Math.floor(gpa / 4096))?.state ?? SEPT_FREE;
  }

  /** State (SEPT_*) of the entry at `level` covering `gpa`: a leaf state at level 0, NL_* or FREE above. */
  entryState(gpa: number, level: number): number {
    if (level === 0) return this.leafState(gpa);
    const idx = SecureEpt.index(gpa, level);
    if (!this.tables[level]!.has(idx)) return SEPT_FREE;
    return this.blockedTables[level]!.has(idx) ? SEPT_NL_BLOCKED : SEPT_NL_MAPPED;
  }

  /**
   * The architectural SEPT entry the module reports in RCX for the entry at `level` covering
   * `gpa`: FREE is SUPPRESS_VE only; otherwise the HPA it points to, with RWX set while the
   * entry is NL_MAPPED or MAPPED (blocked and pending entries have no permissions).
   */
  archEntry(gpa: number, level: number): bigint {
    if (level === 0) {
      const leaf = this.leaves.get(Math.floor(gpa / 4096));
      if (leaf === undefined) return SEPT_ENTRY_FREE_ARCH;
      return BigInt(leaf.hpa) | (leaf.state === SEPT_MAPPED ? SEPT_RWX : 0n);
    }
    const idx = SecureEpt.index(gpa, level);
    const hpa = this.tables[level]!.get(idx);
    if (hpa === undefined) return SEPT_ENTRY_FREE_ARCH;
    return BigInt(hpa) | (this.blockedTables[level]!.has(idx) ? 0n : SEPT_RWX);
  }

  /** Marks the non-leaf entry at `level` covering `gpa` NL_BLOCKED with BEPOCH `epoch`. */
  blockTable(gpa: number, level: number, epoch: number): void {
    const m = this.blockedTables[level]!;
    const idx = SecureEpt.index(gpa, level);
    if (!m.has(idx)) this.#blockedTableCount++;
    m.set(idx, epoch);
  }

  /** Returns the non-leaf entry at `level` covering `gpa` to NL_MAPPED. */
  unblockTable(gpa: number, level: number): void {
    if (this.blockedTables[level]!.delete(SecureEpt.index(gpa, level))) this.#blockedTableCount--;
  }

  /** Removes the non-leaf entry at `level` covering `gpa` (it becomes FREE). */
  removeTable(gpa: number, level: number): void {
    this.unblockTable(gpa, level);
    this.tables[level]!.delete(SecureEpt.index(gpa, level));
  }

  /** True if no entry of the SEPT page that the level-`level` entry covering `gpa` points to is in use. */
  tableIsEmpty(gpa: number, level: number): boolean {
    const first = SecureEpt.index(gpa, level) * 512;
    if (level === 1) {
      for (const gfn of this.leaves.keys()) if (gfn >= first && gfn < first + 512) return false;
      return true;
    }
    for (const idx of this.tables[level - 1]!.keys()) if (idx >= first && idx < first + 512) return false;
    return true;
  }

  /** True if a non-leaf entry on the path to the 4 KiB page `gfn` is NL_BLOCKED. */
  pathBlocked(gfn: number): boolean {
    if (this.#blockedTableCount === 0) return false;
    for (let l = 1; l < this.levels; l++) {
      if (this.blockedTables[l]!.has(Math.floor(gfn / 2 ** (9 * l)))) return true;
    }
    return false;
  }

  /**
   * Translates a guest frame number through the secure EPT ({@link @seamkit/seam-cpu!Ept.translate}).
   * Only MAPPED leaves under non-blocked tables translate.
   * @returns the host physical address of the private page, or -1 (EPT violation)
   */
  translate(gfn: number): number {
    const leaf = this.leaves.get(gfn);
    if (leaf === undefined || leaf.state !== SEPT_MAPPED) return -1;
    return this.#blockedTableCount === 0 || !this.pathBlocked(gfn) ? leaf.hpa : -1;
  }
}

/** True for the leaf states a guest access or TDG.MEM.PAGE.ACCEPT treats as pending (PENDING*). */
export function septIsPending(state: number): boolean {
  return state === SEPT_PENDING || state === SEPT_PENDING_BLOCKED;
}

/** True for the *BLOCKED states (BLOCKED, PENDING_BLOCKED, NL_BLOCKED). */
export function septIsBlocked(state: number): boolean {
  return state === SEPT_BLOCKED || state === SEPT_PENDING_BLOCKED || state === SEPT_NL_BLOCKED;
}
