import { seamkitBuild } from '../../tsup.base.js';

export default seamkitBuild({
  entry: { index: 'src/index.ts', bin: 'src/bin.ts', 'bench/scalingWorker': 'src/bench/scalingWorker.ts' },
  // import.meta.url (the worker's path) in the CommonJS build too.
  shims: true,
});
