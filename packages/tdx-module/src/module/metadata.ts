import {
  MD_CLASS_SHIFT, MD_CONTEXT_MASK, MD_ELEMENT_SIZE_SHIFT, MD_FIELD_CODE_MASK, MD_FIELD_ID_NA, MD_INC_SIZE,
  MD_SINGLE_ELEMENT_MUST_BE_ZERO,
} from '../abi/metadata.js';
import * as S from '../abi/status.js';
import type { Td } from './Td.js';
import type { TdVcpu } from './TdVcpu.js';
import type { TdxModule } from './TdxModule.js';

/**
 * Who accesses a metadata field: the host VMM (SEAMCALL), with the production or the debug masks
 * (debug masks apply when the TD has ATTRIBUTES.DEBUG), or the guest TD itself (TDCALL).
 */
export type MdAccessor = 'host' | 'guest';

/** The objects a metadata access reads from and writes to. */
export interface MdRefs {
  /** The module (global fields). */
  readonly m: TdxModule;
  /** The TD (TD- and vCPU-scope fields). */
  readonly td?: Td;
  /** The vCPU (vCPU-scope fields). */
  readonly vcpu?: TdVcpu;
  /** True when the TD is a DEBUG TD: the host gets the debug masks. */
  readonly debug: boolean;
}

/**
 * One entry of a metadata table, as in the module's auto-generated lookup tables: a field id
 * (of element 0), a number of fields with a number of elements each, read/write masks per
 * accessor, and the accessors of the simulated state. Element `i` of the entry (field
 * `i / numElems`, element `i % numElems`) has field code `fieldCode + i * stride`.
 */
export interface MdField {
  /** Field name (for tables and errors). */
  readonly name: string;
  /** Field id of element 0 as the module spells it (with context and element size codes). */
  readonly id: bigint;
  /** Number of fields in the entry. */
  readonly numFields: number;
  /** Number of elements per field. */
  readonly numElems: number;
  /** Host read mask, production TD. */
  readonly hostRd: bigint;
  /** Host write mask, production TD. */
  readonly hostWr: bigint;
  /** Host read mask, DEBUG TD. */
  readonly debugRd: bigint;
  /** Host write mask, DEBUG TD. */
  readonly debugWr: bigint;
  /** Guest (TDCALL) read mask. */
  readonly guestRd: bigint;
  /** Guest (TDCALL) write mask. */
  readonly guestWr: bigint;
  /** Reads element `index` of the entry. */
  read(r: MdRefs, index: number): bigint;
  /**
   * Validates and stores `value` (already merged with the old value under the write mask) into
   * element `index`. Returns a failing status, having changed nothing, or undefined once stored.
   */
  write?(r: MdRefs, index: number, value: bigint): bigint | undefined;
}

/** Options of {@link mdField}: masks default to 0 (not accessible), counts to 1. */
export interface MdFieldSpec {
  /** Host read mask, production TD (also the debug read mask unless `debugRd` is given). */
  readonly hostRd?: bigint;
  /** Host write mask, production TD (also the debug write mask unless `debugWr` is given). */
  readonly hostWr?: bigint;
  /** Host read mask, DEBUG TD. */
  readonly debugRd?: bigint;
  /** Host write mask, DEBUG TD. */
  readonly debugWr?: bigint;
  /** Guest read mask. */
  readonly guestRd?: bigint;
  /** Guest write mask. */
  readonly guestWr?: bigint;
  /** Number of fields (default 1). */
  readonly numFields?: number;
  /** Elements per field (default 1). */
  readonly numElems?: number;
  /** Reads element `index`. */
  readonly read: (r: MdRefs, index: number) => bigint;
  /** Validates and stores element `index` (see {@link MdField.write}). */
  readonly write?: (r: MdRefs, index: number, value: bigint) => bigint | undefined;
}

/** All ones: a mask that allows every bit of the element. */
export const ALL = 0xffff_ffff_ffff_ffffn;

/** Mask of the value bits of an element with size code `sizeCode` (1, 2, 4 or 8 bytes). */
export function elementSizeMask(sizeCode: number): bigint {
  return sizeCode >= 3 ? ALL : (1n << BigInt(8 << sizeCode)) - 1n;
}

/** Builds an {@link MdField}; every mask is cut to the element size. */
export function mdField(name: string, id: bigint, spec: MdFieldSpec): MdField {
  const size = elementSizeMask(Number((id >> MD_ELEMENT_SIZE_SHIFT) & 3n));
  const hostRd = (spec.hostRd ?? 0n) & size;
  const hostWr = (spec.hostWr ?? 0n) & size;
  return {
    name, id, numFields: spec.numFields ?? 1, numElems: spec.numElems ?? 1,
    hostRd, hostWr,
    debugRd: spec.debugRd === undefined ? hostRd : spec.debugRd & size,
    debugWr: spec.debugWr === undefined ? hostWr : spec.debugWr & size,
    guestRd: (spec.guestRd ?? 0n) & size, guestWr: (spec.guestWr ?? 0n) & size,
    read: spec.read,
    ...(spec.write === undefined ? {} : { write: spec.write }),
  };
}

/** True for the null field id (all ones, whatever the context code): "give me the first field". */
export function isNullFieldId(id: bigint): boolean {
  return (id | MD_CONTEXT_MASK) === MD_FIELD_ID_NA;
}

/** Where an element lives in a table. */
interface Slot {
  readonly pos: number;
  readonly index: number;
}

/** Result of a metadata read. */
export interface MdReadResult {
  /** Completion status. */
  readonly status: bigint;
  /** The value (0 on failure). */
  readonly value: bigint;
}

/** Result of a metadata read through {@link MdTable.read}. */
export interface MdTableReadResult extends MdReadResult {
  /** The id of the next element the accessor may read (MD_FIELD_ID_NA on failure or after the last). */
  readonly next: bigint;
}

/** Result of a metadata write. */
export interface MdWriteResult {
  /** Completion status. */
  readonly status: bigint;
  /** The previous value, under the read mask (0 on failure). */
  readonly old: bigint;
}

/**
 * A metadata context's lookup table (global, TD or vCPU scope), in the module's table order,
 * which is also the order the "next field id" of a read walks in. Lookup is by class code and
 * field code, as `md_find_entry_idx` does; a single-element id's context, size, inc_size and
 * write-mask-valid bits and bit 63 are ignored.
 */
export class MdTable {
  /** The entries, in order. */
  readonly fields: readonly MdField[];
  readonly #slots = new Map<number, Slot>();

  /** @param fields - entries in the module's order */
  constructor(fields: readonly MdField[]) {
    this.fields = fields;
    fields.forEach((f, pos) => {
      const cls = Number((f.id >> MD_CLASS_SHIFT) & 0x3fn);
      const code = Number(f.id & MD_FIELD_CODE_MASK);
      const stride = (f.id & MD_INC_SIZE) !== 0n ? 2 : 1;
      for (let index = 0; index < f.numFields * f.numElems; index++) {
        this.#slots.set(cls * 0x100_0000 + code + index * stride, { pos, index });
      }
    });
  }

  #slot(id: bigint): Slot | undefined {
    const cls = Number((id >> MD_CLASS_SHIFT) & 0x3fn);
    return this.#slots.get(cls * 0x100_0000 + Number(id & MD_FIELD_CODE_MASK));
  }

  /** The field id of element `index` of entry `pos`. */
  elementId(pos: number, index: number): bigint {
    const f = this.fields[pos]!;
    const stride = (f.id & MD_INC_SIZE) !== 0n ? 2n : 1n;
    return f.id + BigInt(index) * stride;
  }

  /** The id of the first element, after the one at (`pos`, `index`), that `who` may read; MD_FIELD_ID_NA if none. */
  next(pos: number, index: number, who: MdAccessor, debug: boolean): bigint {
    let p = pos;
    let i = index + 1;
    while (p < this.fields.length) {
      const f = this.fields[p]!;
      if (i < f.numFields * f.numElems && readMask(f, who, debug) !== 0n) return this.elementId(p, i);
      p++;
      i = 0;
    }
    return MD_FIELD_ID_NA;
  }

  /** The id of the first element `who` may read (the answer to a null field id). */
  first(who: MdAccessor, debug: boolean): bigint {
    return this.next(0, -1, who, debug);
  }

  /**
   * Reads one element (`md_read_element`): FIELD_ID_INCORRECT for a malformed or unknown id,
   * FIELD_NOT_READABLE when the accessor's read mask is 0. Returns the value under the read mask
   * and, in `next`, the id of the next readable element (for the version-1 leaves).
   */
  read(id: bigint, who: MdAccessor, r: MdRefs): MdTableReadResult {
    const slot = (id & MD_SINGLE_ELEMENT_MUST_BE_ZERO) === 0n ? this.#slot(id) : undefined;
    if (slot === undefined) return { status: S.TDX_METADATA_FIELD_ID_INCORRECT, value: 0n, next: MD_FIELD_ID_NA };
    const f = this.fields[slot.pos]!;
    const rd = readMask(f, who, r.debug);
    if (rd === 0n) return { status: S.TDX_METADATA_FIELD_NOT_READABLE, value: 0n, next: MD_FIELD_ID_NA };
    return { status: S.TDX_SUCCESS, value: f.read(r, slot.index) & rd, next: this.next(slot.pos, slot.index, who, r.debug) };
  }

  /**
   * Writes one element (`md_*_write_element`): FIELD_ID_INCORRECT for a malformed or unknown id;
   * FIELD_NOT_WRITABLE when write mask & requested mask is 0; FIELD_VALUE_NOT_VALID when a bit
   * outside the write mask but inside the requested mask would change, or the field's own check
   * fails. Only the bits in write mask & requested mask change; the old value comes back under
   * the read mask. A failure changes nothing.
   */
  write(id: bigint, value: bigint, mask: bigint, who: MdAccessor, r: MdRefs): MdWriteResult {
    const slot = (id & MD_SINGLE_ELEMENT_MUST_BE_ZERO) === 0n ? this.#slot(id) : undefined;
    if (slot === undefined) return { status: S.TDX_METADATA_FIELD_ID_INCORRECT, old: 0n };
    const f = this.fields[slot.pos]!;
    const wr = writeMask(f, who, r.debug);
    const combined = wr & mask;
    if (combined === 0n || f.write === undefined) return { status: S.TDX_METADATA_FIELD_NOT_WRITABLE, old: 0n };
    const old = f.read(r, slot.index);
    const forbidden = mask & ~wr;
    if (((old ^ value) & forbidden) !== 0n) return { status: S.TDX_METADATA_FIELD_VALUE_NOT_VALID, old: 0n };
    const bad = f.write(r, slot.index, (old & ~combined) | (value & combined));
    if (bad !== undefined) return { status: bad, old: 0n };
    return { status: S.TDX_SUCCESS, old: old & readMask(f, who, r.debug) };
  }
}

function readMask(f: MdField, who: MdAccessor, debug: boolean): bigint {
  return who === 'guest' ? f.guestRd : debug ? f.debugRd : f.hostRd;
}

function writeMask(f: MdField, who: MdAccessor, debug: boolean): bigint {
  return who === 'guest' ? f.guestWr : debug ? f.debugWr : f.hostWr;
}

/** Reads 8-byte element `index` of a byte array (little-endian), e.g. one qword of a measurement. */
export function qwordOf(bytes: Uint8Array, index: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(index * 8, true);
}
