import { seamkitBuild } from '../../tsup.base.js';

// reflect-metadata must stay an import of its own (evaluated before @peculiar/x509, whose tsyringe
// needs the Reflect polyfill at load time), not be inlined after the external imports.
export default seamkitBuild({ external: ['reflect-metadata'] });
