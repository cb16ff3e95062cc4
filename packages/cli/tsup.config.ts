import { seamkitBuild } from '../../tsup.base.js';

export default seamkitBuild({ entry: { index: 'src/index.ts', bin: 'src/bin.ts' } });
