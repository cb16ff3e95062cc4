/**
 * The few DER primitives the Intel SGX certificate extension needs (SEQUENCE, OBJECT IDENTIFIER,
 * OCTET STRING, INTEGER, ENUMERATED, BOOLEAN), writer and reader. Certificates and CRLs
 * themselves are built and parsed by @peculiar/x509; it has no public API for encoding an
 * arbitrary extension value, so the value of OID 1.2.840.113741.1.13.1 is assembled here.
 * @module
 */

/** DER tags used by the SGX extension. */
export const DER_TAG = {
  /** BOOLEAN */
  BOOLEAN: 0x01,
  /** INTEGER */
  INTEGER: 0x02,
  /** OCTET STRING */
  OCTET_STRING: 0x04,
  /** OBJECT IDENTIFIER */
  OID: 0x06,
  /** ENUMERATED */
  ENUMERATED: 0x0a,
  /** SEQUENCE (constructed) */
  SEQUENCE: 0x30,
} as const;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One TLV with a definite length. */
export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  let len: number[];
  if (n < 0x80) len = [n];
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = [0x80 | bytes.length, ...bytes];
  }
  return concat([Uint8Array.of(tag, ...len), content]);
}

/** SEQUENCE of the given encoded items. */
export function derSequence(...items: readonly Uint8Array[]): Uint8Array {
  return derTlv(DER_TAG.SEQUENCE, concat(items));
}

/** OBJECT IDENTIFIER from dotted notation. */
export function derOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map((a) => Number(a));
  const body: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const bytes = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    body.push(...bytes);
  }
  return derTlv(DER_TAG.OID, Uint8Array.from(body));
}

/** OCTET STRING. */
export function derOctetString(bytes: Uint8Array): Uint8Array {
  return derTlv(DER_TAG.OCTET_STRING, bytes);
}

function unsignedContent(value: number): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return Uint8Array.from(bytes);
}

/** INTEGER (non-negative, minimal two's complement). */
export function derInteger(value: number): Uint8Array {
  return derTlv(DER_TAG.INTEGER, unsignedContent(value));
}

/** ENUMERATED (non-negative). */
export function derEnumerated(value: number): Uint8Array {
  return derTlv(DER_TAG.ENUMERATED, unsignedContent(value));
}

/** BOOLEAN (DER: 0xFF for true). */
export function derBoolean(value: boolean): Uint8Array {
  return derTlv(DER_TAG.BOOLEAN, Uint8Array.of(value ? 0xff : 0));
}

/** A decoded TLV. */
export interface DerNode {
  /** The tag byte. */
  readonly tag: number;
  /** The content octets. */
  readonly content: Uint8Array;
  /** Offset just past this TLV in the input. */
  readonly end: number;
}

/**
 * Reads one TLV at `offset` (single-byte tags, definite lengths only).
 * @throws Error for truncated or indefinite-length input
 */
export function derRead(bytes: Uint8Array, offset = 0): DerNode {
  if (offset + 2 > bytes.length) throw new Error('DER: truncated header');
  const tag = bytes[offset]!;
  let len = bytes[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > bytes.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + bytes[p + i]!;
    p += n;
  }
  if (p + len > bytes.length) throw new Error('DER: truncated content');
  return { tag, content: bytes.subarray(p, p + len), end: p + len };
}

/** The TLVs inside a constructed value's content. */
export function derChildren(content: Uint8Array): DerNode[] {
  const out: DerNode[] = [];
  for (let p = 0; p < content.length; ) {
    const n = derRead(content, p);
    out.push(n);
    p = n.end;
  }
  return out;
}

/** Dotted notation of an OBJECT IDENTIFIER's content octets. */
export function derOidString(content: Uint8Array): string {
  if (content.length === 0) throw new Error('DER: empty OID');
  const first = content[0]!;
  const arcs = [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40];
  let v = 0;
  for (const b of content.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

/** Value of a non-negative INTEGER or ENUMERATED content (up to 2^53). */
export function derUnsigned(content: Uint8Array): number {
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}
