#!/usr/bin/env node
// npm run bench: builds (build output goes to stderr), then runs `seamkit bench --json`, which
// prints one JSON object per benchmark on stdout. Extra arguments go to `seamkit bench`.
// Use `npm run -s bench` to keep npm's own banner off stdout.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (process.env.SEAMKIT_SKIP_BUILD !== '1') {
  const b = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
const r = spawnSync(process.execPath, [`${root}packages/cli/dist/bin.js`, 'bench', '--json', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
