import { describe, expect, it } from 'vitest';
import { CpuFault } from './CpuFault.js';
import { cpuError } from './errors.js';
import { SeamkitError, errorFactory } from './SeamkitError.js';

describe('SeamkitError', () => {
  it('should carry the code, the errno and the cause, and prefix the message with the code', () => {
    const cause = new Error('root');
    const e = new SeamkitError('SEAMKIT_ERR_X', 'went wrong', 22, { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('SEAMKIT_ERR_X');
    expect(e.errno).toBe(22);
    expect(e.cause).toBe(cause);
    expect(e.message).toBe('SEAMKIT_ERR_X: went wrong');
  });

  describe('.is', () => {
    it('should recognise seamkit errors, subclasses included', () => {
      expect(SeamkitError.is(new SeamkitError('A', 'b'))).toBe(true);
      expect(SeamkitError.is(new CpuFault(13, 'x'))).toBe(true);
    });

    it('should recognise an error from another copy of the package by its brand', () => {
      const foreign = Object.defineProperty(new Error('x'), Symbol.for('@seamkit/SeamkitError'), { value: true });
      expect(SeamkitError.is(foreign)).toBe(true);
    });

    it('should reject anything else', () => {
      for (const v of [new Error('x'), { code: 'SEAMKIT_ERR_X' }, null, undefined, 'SEAMKIT_ERR_X', 42]) {
        expect(SeamkitError.is(v)).toBe(false);
      }
    });
  });
});

describe('errorFactory', () => {
  const make = errorFactory({ SEAMKIT_ERR_T_TWO: 'first %s, second %s', SEAMKIT_ERR_T_NONE: 'plain' } as const);

  it('should fill %s placeholders in order', () => {
    const e = make('SEAMKIT_ERR_T_TWO', [1, 'b']);
    expect(e.code).toBe('SEAMKIT_ERR_T_TWO');
    expect(e.message).toBe('SEAMKIT_ERR_T_TWO: first 1, second b');
    expect(e.errno).toBeUndefined();
  });

  it('should pass errno and cause through', () => {
    const cause = new Error('c');
    const e = make('SEAMKIT_ERR_T_NONE', [], 5, cause);
    expect([e.errno, e.cause]).toEqual([5, cause]);
  });

  it('should build the seam-cpu codes', () => {
    expect(cpuError('SEAMKIT_ERR_CPU_BAD_LP', [7, 2]).message).toBe(
      'SEAMKIT_ERR_CPU_BAD_LP: logical processor 7 does not exist (the CPU has 2)',
    );
  });
});

describe('CpuFault', () => {
  it('should code #GP (vector 13) as SEAMKIT_ERR_CPU_FAULT_GP', () => {
    const f = new CpuFault(13, 'bad operand');
    expect([f.code, f.vector, f.isGP, f.isUD, f.name]).toEqual(['SEAMKIT_ERR_CPU_FAULT_GP', 13, true, false, 'CpuFault']);
  });
});
