import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromGenerator, type GuestGenerator, type GuestProgram } from '@seamkit/seam-cpu';
import { CliError } from './CliError.js';
import type { Scenario } from './scenarios/Scenario.js';

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor as new () => GuestGenerator;

/**
 * Loads a user guest module: a JavaScript file (ESM or CommonJS) that exports either a whole
 * {@link Scenario} as its default export, or a `guest` export (a generator function, which is
 * wrapped with `fromGenerator`, or a step-form {@link GuestProgram}) with optional `modules`
 * (DI modules with the plugins it needs), `vcpus`, `image`, `handlers`, `sharedMemory`,
 * `attributes`, `kvm` (kernel options), `vmm` (a function returning the module's VMM side, as the
 * built-in scenarios have: it gets a host to write notes to the trace), `name` and `description`.
 * @throws CliError (exit code 1) when the file is missing, fails to load, or exports no guest
 */
export async function loadGuestModule(path: string): Promise<Scenario> {
  const file = resolve(path);
  if (!existsSync(file)) throw new CliError(`guest module ${path} does not exist`, 1);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`guest module ${path} failed to load: ${err instanceof Error ? err.message : String(err)}`, 1);
  }
  const def = (mod['default'] ?? {}) as Record<string, unknown>;
  const src: Record<string, unknown> = typeof def === 'object' && def !== null && 'guest' in def ? def : mod;
  const guest = src['guest'];
  if (typeof guest !== 'function') {
    throw new CliError(`guest module ${path} exports no guest: export a generator function or a step-form program as "guest" (or a scenario object as default)`, 1);
  }
  const program: GuestProgram = guest instanceof GeneratorFunction ? fromGenerator(guest as GuestGenerator) : (guest as GuestProgram);
  return {
    name: typeof src['name'] === 'string' ? src['name'] : basename(file),
    description: typeof src['description'] === 'string' ? src['description'] : `guest module ${path}`,
    guest: program,
    ...(typeof src['vcpus'] === 'number' ? { vcpus: src['vcpus'] } : {}),
    ...(Array.isArray(src['modules']) ? { modules: src['modules'] as Scenario['modules'] & object } : {}),
    ...(src['image'] instanceof Uint8Array ? { image: src['image'] } : {}),
    ...(typeof src['handlers'] === 'object' && src['handlers'] !== null ? { handlers: src['handlers'] as Scenario['handlers'] & object } : {}),
    ...(Array.isArray(src['sharedMemory']) ? { sharedMemory: src['sharedMemory'] as Scenario['sharedMemory'] & object } : {}),
    ...(typeof src['attributes'] === 'bigint' ? { attributes: src['attributes'] } : {}),
    ...(typeof src['kvm'] === 'object' && src['kvm'] !== null ? { kvm: src['kvm'] as Scenario['kvm'] & object } : {}),
    ...(typeof src['vmm'] === 'function' ? { vmm: src['vmm'] as Scenario['vmm'] & object } : {}),
  };
}
