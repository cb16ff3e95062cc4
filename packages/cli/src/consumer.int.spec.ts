import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('the published packages', () => {
  it('pack with only what users need and work in a consumer project from ESM, CommonJS and TypeScript', () => {
    const script = fileURLToPath(new URL('../../../scripts/consumer-test.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect({ status: r.status, lines: r.stdout.split('\n').filter(Boolean) }, r.stderr).toEqual({
      status: 0,
      lines: ['esm ok', 'cjs ok', 'typescript ok', 'bin ok'],
    });
  }, 180_000);
});
