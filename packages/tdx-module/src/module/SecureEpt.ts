import type { Ept } from '@seamkit/seam-cpu';
import { SEPT_FREE, SEPT_MAPPED } from '../abi/states.js';

/** A leaf entry of the secure EPT (4 KiB mapping). */
export interface SeptLeaf {
  /** SEPT entry state (SEPT_*). */
  state: number;
  /** Host physical address of the private page. */
  hpa: number;
}

/**
 * The secure EPT of one TD: non-leaf tables per level and 4 KiB leaf entries with their states.
 * Levels follow the TDX numbering: 0 = 4 KiB leaf, 1 = page table, 2 = page directory,
 * 3 = PDPT, 4 = PML4 (5-level only); the root is part of the TDCS.
 */
export class SecureEpt implements Ept {
  /** Number of paging levels (4 or 5). */
  readonly levels: number;
  /** Non-leaf tables present, per level: index (GPA >> (12 + 9 * level)) to SEPT page HPA. */
  readonly tables: Map<number, number>[];
  /** 4 KiB leaves: guest frame number to entry. */
  readonly leaves = new Map<number, SeptLeaf>();

  /** @param levels - 4 (GPAW 48) or 5 (GPAW 52) */
  constructor(levels: number) {
    this.levels = levels;
    this.tables = Array.from({ length: levels }, () => new Map<number, number>());
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

  /**
   * Translates a guest frame number through the secure EPT ({@link @seamkit/seam-cpu!Ept.translate}).
   * Only MAPPED leaves translate.
   * @returns the host physical address of the private page, or -1 (EPT violation)
   */
  translate(gfn: number): number {
    const leaf = this.leaves.get(gfn);
    return leaf !== undefined && leaf.state === SEPT_MAPPED ? leaf.hpa : -1;
  }
}
