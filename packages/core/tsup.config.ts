import { seamkitBuild } from '../../tsup.base.js';

export default seamkitBuild({ entry: { index: 'src/index.ts', testing: 'src/testing/index.ts' } });
