/**
 * Little-endian byte moves between 32-bit register halves and I/O data buffers, for the IO and
 * MMIO leaves (no allocation).
 * @module
 */

/** Writes the low `len` bytes of the 64-bit value `lo` / `hi` to `dst` at `off`. */
export function putBytes(dst: Uint8Array, off: number, len: number, lo: number, hi: number): void {
  for (let i = 0; i < len; i++) dst[off + i] = (i < 4 ? lo >>> (8 * i) : hi >>> (8 * (i - 4))) & 0xff;
}

/** The low 32 bits of the `len`-byte little-endian value at `src[off]` (zero-extended). */
export function bytesLo(src: Uint8Array, off: number, len: number): number {
  let v = 0;
  for (let i = 0; i < len && i < 4; i++) v |= src[off + i]! << (8 * i);
  return v >>> 0;
}

/** The high 32 bits of the `len`-byte little-endian value at `src[off]` (0 for `len` <= 4). */
export function bytesHi(src: Uint8Array, off: number, len: number): number {
  let v = 0;
  for (let i = 4; i < len; i++) v |= src[off + i]! << (8 * (i - 4));
  return v >>> 0;
}
