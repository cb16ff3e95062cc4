import { seamkitBuild } from '../../tsup.base.js';

export default seamkitBuild({ entry: { index: 'src/index.ts', abi: 'src/abi/index.ts' } });
