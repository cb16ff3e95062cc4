import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('the published packages', () => {
  it('pack with only what users need and work in a consumer project from ESM, CommonJS and TypeScript', () => {
    const script = fileURLToPath(new URL('../../../scripts/consumer-test.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['esm ok', 'cjs ok', 'typescript ok', 'bin ok']);
    expect(r.status).toBe(0);
  }, 180_000);
});
