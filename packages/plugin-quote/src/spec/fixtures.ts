/**
 * Test fixtures (not exported by the package): a TDREPORT built at the offsets of the
 * reference (tdx-module-abi.md section 8), with recognisable bytes in every field.
 */
import { createHash } from 'node:crypto';

/** Field values of {@link buildTdReport}. */
export interface TdReportFields {
  readonly reportData?: Uint8Array;
  readonly mrtd?: Uint8Array;
  readonly tdAttributes?: bigint;
  readonly xfam?: bigint;
  readonly teeTcbSvn?: Uint8Array;
  readonly type?: number;
}

const fill = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (seed + i * 7) & 0xff);

/** A 1024-byte TDREPORT_STRUCT with every field set to a distinct pattern and consistent hashes. */
export function buildTdReport(f: TdReportFields = {}): Uint8Array {
  const r = new Uint8Array(1024);
  const v = new DataView(r.buffer);
  r[0] = f.type ?? 0x81; // REPORTTYPE.TYPE
  r[2] = 1; // REPORTTYPE.VERSION
  r.set(fill(16, 0x10), 16); // CPUSVN
  r.set(f.reportData ?? fill(64, 0x40), 128); // REPORTDATA
  r.set(fill(32, 0xe0), 224); // MAC
  v.setBigUint64(256, 0x1ffn, true); // TEE_TCB_INFO.VALID
  r.set(f.teeTcbSvn ?? Uint8Array.of(1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 264); // TEE_TCB_SVN
  r.set(fill(48, 0x30), 280); // MRSEAM
  r.set(new Uint8Array(48), 328); // MRSIGNERSEAM (Intel module: 0)
  v.setBigUint64(376, 0n, true); // SEAM ATTRIBUTES
  v.setBigUint64(512, f.tdAttributes ?? 0x1000_0000n, true); // TD ATTRIBUTES: SEPT_VE_DISABLE
  v.setBigUint64(520, f.xfam ?? 0x7n, true); // XFAM
  r.set(f.mrtd ?? fill(48, 0x50), 528); // MRTD
  r.set(fill(48, 0x60), 576); // MRCONFIGID
  r.set(fill(48, 0x70), 624); // MROWNER
  r.set(fill(48, 0x80), 672); // MROWNERCONFIG
  for (let i = 0; i < 4; i++) r.set(fill(48, 0x90 + 16 * i), 720 + 48 * i); // RTMR0..3
  r.set(createHash('sha384').update(r.subarray(256, 256 + 239)).digest(), 32); // TEE_TCB_INFO_HASH (sizeof(tee_tcb_info_t) = 239)
  r.set(createHash('sha384').update(r.subarray(512, 1024)).digest(), 80); // TEE_INFO_HASH
  return r;
}
