import { seamkitBuild } from '../../tsup.base.js';

export default seamkitBuild({ entry: { index: 'src/index.ts', uapi: 'src/uapi/index.ts' } });
