import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { QGS_MSG_ERROR } from '../abi/qgs.js';
import { encodeGetQuoteRequest, encodeGetQuoteResponse } from './qgsMessages.js';
import { QgsResponseReader } from './QgsResponseReader.js';

const CAP = 8192 - 24; // an 8 KiB guest buffer, as the Linux tdx-guest driver uses

/** A GET_QUOTE_RESP with selected fields overwritten (offsets include the 4-byte prefix). */
function response(quote: Uint8Array, edit: (v: DataView) => void = () => undefined): Uint8Array {
  const b = encodeGetQuoteResponse(quote);
  edit(new DataView(b.buffer));
  return b;
}

function feed(bytes: Uint8Array, capacity = CAP, chunk = bytes.length): ReturnType<QgsResponseReader['push']> {
  const r = new QgsResponseReader(capacity);
  for (let i = 0; i < bytes.length; i += chunk) r.push(bytes.subarray(i, i + chunk));
  return r.end();
}

describe('QGS wire format (QEMU tdx-quote-generator.c)', () => {
  it('should encode GET_QUOTE_REQ as QEMU: BE length, header {1, 1, type 0, size, 0}, report_size, id_list_size 0, report', () => {
    const report = Uint8Array.from({ length: 1024 }, (_, i) => i & 0xff);
    const b = encodeGetQuoteRequest(report);
    const v = new DataView(b.buffer);
    expect(b.length).toBe(4 + 24 + 1024);
    expect([...b.subarray(0, 4)]).toEqual([0, 0, 0x04, 0x18]); // 1048, big-endian
    expect([v.getUint16(4, true), v.getUint16(6, true), v.getUint32(8, true), v.getUint32(12, true), v.getUint32(16, true)]).toEqual([1, 1, 0, 1048, 0]);
    expect([v.getUint32(20, true), v.getUint32(24, true)]).toEqual([1024, 0]);
    expect(b.subarray(28)).toEqual(report);
  });

  it('should encode GET_QUOTE_RESP: header {1, 1, type 1, size, error}, selected_id_size 0, quote_size, quote', () => {
    const b = encodeGetQuoteResponse(Uint8Array.of(9, 8, 7), 0x12003);
    const v = new DataView(b.buffer);
    expect([v.getUint32(0, false), v.getUint16(4, true), v.getUint16(6, true), v.getUint32(8, true), v.getUint32(12, true), v.getUint32(16, true)]).toEqual([27, 1, 1, 1, 27, 0x12003]);
    expect([v.getUint32(20, true), v.getUint32(24, true), ...b.subarray(28)]).toEqual([0, 3, 9, 8, 7]);
  });
});

describe(QgsResponseReader, () => {
  const quote = Uint8Array.from({ length: 1500 }, (_, i) => (i * 31) & 0xff);

  it.each([1, 3, 4, 5, 17, 28, 1000, 1 << 20])('should read a valid response delivered in chunks of %s bytes', (chunk) => {
    const r = feed(response(quote), CAP, chunk);
    expect(r).toEqual({ state: 'done', quote });
  });

  it('should accept the largest reply that fits QEMU\'s receive buffer (capacity - 4 - 24 bytes of quote), not one more', () => {
    expect(feed(response(new Uint8Array(CAP - 28))).state).toBe('done');
    expect(feed(response(new Uint8Array(CAP - 27)))).toMatchObject({ state: 'error', reason: expect.stringMatching(/length 8165 must be non-zero and at most 8164/) });
  });

  it('should wait for more bytes while the message is incomplete, and fail at EOF', () => {
    const b = response(quote);
    const r = new QgsResponseReader(CAP);
    expect(r.push(b.subarray(0, b.length - 1))).toEqual({ state: 'more' });
    expect(r.expected).toBe(b.length);
    expect(r.end()).toMatchObject({ state: 'error', reason: expect.stringMatching(/end of file/) });
  });

  it('should ignore bytes after the announced end of the message', () => {
    const b = response(quote);
    const withTrailer = new Uint8Array(b.length + 50).fill(0xee);
    withTrailer.set(b);
    expect(feed(withTrailer)).toEqual({ state: 'done', quote });
  });

  it.each<[string, Uint8Array, RegExp]>([
    ['length 0', response(quote, (v) => v.setUint32(0, 0, false)), /length 0 must be non-zero/],
    ['a length beyond the receive buffer', response(quote, (v) => v.setUint32(0, CAP, false)), /at most 8164/],
    ['a length of 2^32 - 1', response(quote, (v) => v.setUint32(0, 0xffffffff, false)), /at most/],
    ['major version 2', response(quote, (v) => v.setUint16(4, 2, true)), /version 2\.1/],
    ['minor version 0', response(quote, (v) => v.setUint16(6, 0, true)), /version 1\.0/],
    ['type GET_QUOTE_REQ', response(quote, (v) => v.setUint32(8, 0, true)), /type 0/],
    ['type GET_COLLATERAL_RESP', response(quote, (v) => v.setUint32(8, 3, true)), /type 3/],
    ['a header size beyond the buffer', response(quote, (v) => v.setUint32(12, 0x10000, true)), /size 65536 exceeds/],
    ['a QGS error code', response(new Uint8Array(0), (v) => v.setUint32(16, QGS_MSG_ERROR.INVALID_PARAMETER, true)), /error code 0x12003/],
    ['a selected id', response(quote, (v) => v.setUint32(20, 4, true)), /selected id size 4/],
    ['quote_size one too small', response(quote, (v) => v.setUint32(24, quote.length - 1, true)), /quote size 1499, should be 1500/],
    ['quote_size one too large', response(quote, (v) => v.setUint32(24, quote.length + 1, true)), /quote size 1501/],
    ['quote_size 2^32 - 1', response(quote, (v) => v.setUint32(24, 0xffffffff, true)), /quote size 4294967295/],
    ['a message shorter than the response header (QEMU would copy out of bounds)', Uint8Array.of(0, 0, 0, 10, 1, 0, 1, 0, 1, 0, 0, 0, 10, 0), /shorter than a GET_QUOTE_RESP/],
    ['a 20-byte message (header, then nothing)', (() => {
      const b = response(new Uint8Array(0)).subarray(0, 24);
      new DataView(b.buffer).setUint32(0, 20, false);
      new DataView(b.buffer).setUint32(12, 20, true);
      return b;
    })(), /shorter than a GET_QUOTE_RESP/],
    ['only a length prefix', Uint8Array.of(0, 0, 0, 40), /end of file/],
    ['nothing at all', new Uint8Array(0), /end of file/],
  ])('should fail on %s', (_what, bytes, reason) => {
    for (const chunk of [1, 7, Math.max(1, bytes.length)]) {
      expect(feed(bytes, CAP, chunk)).toMatchObject({ state: 'error', reason: expect.stringMatching(reason) });
    }
  });

  it('should apply QEMU\'s checks as the bytes arrive: a bad header fails before the rest is sent', () => {
    const b = response(quote, (v) => v.setUint16(4, 9, true));
    const r = new QgsResponseReader(CAP);
    expect(r.push(b.subarray(0, 19))).toEqual({ state: 'more' });
    expect(r.push(b.subarray(19, 20)).state).toBe('error');
    expect(r.received).toBe(20);
  });

  it('should never throw, never take more than the capacity, and only return quotes that fit (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          // Mostly-valid responses with a few bytes changed, so that deeper checks are reached.
          fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.array(fc.tuple(fc.nat(260), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })).map(([q, edits]) => {
            const b = encodeGetQuoteResponse(q);
            for (const [at, val] of edits) if (at < b.length) b[at] = val;
            return b;
          }),
        ),
        fc.integer({ min: 0, max: 512 }),
        fc.integer({ min: 1, max: 64 }),
        (bytes, capacity, chunk) => {
          const r = feed(bytes, capacity, chunk);
          if (r.state === 'done') {
            expect(r.quote.length).toBeLessThanOrEqual(Math.max(0, capacity - 28));
            expect(bytes.subarray(28, 28 + r.quote.length)).toEqual(r.quote);
          } else {
            expect(r.state).toBe('error');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
