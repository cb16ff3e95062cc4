/** A decoded page_info operand ("level | GPA"). */
export interface PageInfo {
  /** SEPT level, bits 2:0. */
  readonly level: number;
  /** GPA, bits 51:12. */
  readonly gpa: number;
}

/**
 * Decodes the page_info operand of SEPT/page leaves: bits 2:0 level, 11:3 reserved (0),
 * 51:12 GPA, 63:52 reserved (0). Returns undefined if a reserved bit is set.
 */
export function decodePageInfo(value: bigint): PageInfo | undefined {
  if ((value & 0xfff0_0000_0000_0ff8n) !== 0n) return undefined;
  return { level: Number(value & 7n), gpa: Number(value & 0x000f_ffff_ffff_f000n) };
}
