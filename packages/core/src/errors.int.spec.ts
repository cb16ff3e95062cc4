import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CORE_ERRORS, coreError } from '@seamkit/core';
import { KVM_ERRORS, kvmError } from '@seamkit/kvm';
import { CPU_ERRORS, cpuError, SeamkitError } from '@seamkit/seam-cpu';
import { MODULE_ERRORS, moduleError } from '@seamkit/tdx-module';
import { QUOTE_ERRORS, quoteError } from '@seamkit/plugin-quote';

/** Every package's error table, with its factory and the package name its rows must carry. */
const TABLES = [
  { pkg: '@seamkit/seam-cpu', table: CPU_ERRORS, factory: cpuError },
  { pkg: '@seamkit/tdx-module', table: MODULE_ERRORS, factory: moduleError },
  { pkg: '@seamkit/core', table: CORE_ERRORS, factory: coreError },
  { pkg: '@seamkit/kvm', table: KVM_ERRORS, factory: kvmError },
  { pkg: '@seamkit/plugin-quote', table: QUOTE_ERRORS, factory: quoteError },
] as const;

const docPath = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));
const doc = readFileSync(docPath, 'utf8');

/** Anchored rows of docs/errors.md: `| <a id="CODE"></a>`CODE` | package | when | errno |`. */
const ROW = /^\| <a id="(SEAMKIT_ERR_[A-Z0-9_]+)"><\/a>`(SEAMKIT_ERR_[A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/gm;
const rows = [...doc.matchAll(ROW)].map((m) => ({ id: m[1]!, label: m[2]!, pkg: m[3]!.trim(), when: m[4]!.trim() }));
const anchors = [...doc.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]!);

const codes = TABLES.flatMap(({ pkg, table }) => Object.keys(table).map((code) => ({ pkg, code })));

describe('docs/errors.md', () => {
  it('should have exactly one anchored row for every code of every error table', () => {
    for (const { pkg, code } of codes) {
      const matching = rows.filter((r) => r.id === code);
      expect(matching, `${code} (${pkg}) needs one anchored row in docs/errors.md`).toHaveLength(1);
      expect(matching[0]!.label, `${code}: anchor and code cell differ`).toBe(code);
      expect(matching[0]!.pkg, `${code}: Package column`).toBe(pkg);
      expect(matching[0]!.when, `${code}: When column`).not.toBe('');
    }
  });

  it('should only anchor codes that exist in an error table, in well-formed rows', () => {
    const known = new Set(codes.map((c) => c.code));
    for (const id of anchors) {
      expect(known.has(id), `docs/errors.md anchors ${id}, which no error table defines`).toBe(true);
    }
    expect(rows.map((r) => r.id)).toEqual(anchors);
  });
});

describe.each(TABLES)('$pkg error factory', ({ table, factory }) => {
  it('should create, for every code, a SeamkitError whose code is the key', () => {
    const create = factory as (code: string, args?: readonly unknown[], errno?: number) => SeamkitError;
    for (const code of Object.keys(table)) {
      const err = create(code, ['a', 'b', 'c', 'd'], 22);
      expect(err).toBeInstanceOf(Error);
      expect(SeamkitError.is(err)).toBe(true);
      expect(err.code).toBe(code);
      expect(err.errno).toBe(22);
      expect(err.message.startsWith(`${code}: `)).toBe(true);
    }
  });
});
