import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('examples/node-test', () => {
  it('runs under node:test against the built packages', () => {
    const file = fileURLToPath(new URL('./get-quote.test.mjs', import.meta.url));
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/# pass 2/);
    expect(r.stdout).toMatch(/# fail 0/);
    expect(r.status).toBe(0);
  }, 60_000);
});
