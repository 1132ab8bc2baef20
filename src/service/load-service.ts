import { availableBearerIds } from '../bearer/registry.js';
import { loadDefinitionFile } from '../definition/load-definition.js';
import type { ParseOptions } from '../definition/parse-definition.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { PeerwayError } from '../errors.js';
import { IMPLEMENTATION_EXTENSIONS, findImplementation, loadImplementation } from './implementation.js';
import { ServiceRuntime } from './service-runtime.js';

/**
 * Loads a service from its definition XML and its implementation module (the sibling file with the same
 * base name, or `implFile`), ready to start. Errors name the file and the fix.
 */
export async function loadService(
  xmlFile: string,
  implFile?: string,
  logger: Logger = silentLogger(),
  /** Size and nesting limits of the definition (defaults: 1 MiB, 256 levels). */
  limits: Pick<ParseOptions, 'maxBytes' | 'maxDepth'> = {},
): Promise<ServiceRuntime> {
  const definition = await loadDefinitionFile(xmlFile, { bearers: availableBearerIds(), ...limits });
  const file = findImplementation(xmlFile, implFile);
  if (!file) {
    const base = xmlFile.replace(/\.xml$/i, '');
    throw new PeerwayError(
      'CONFIG_INVALID',
      `no implementation for ${xmlFile}: looked for ${IMPLEMENTATION_EXTENSIONS.map((e) => base + e).join(', ')}; create one (default export { methods, start?, stop? }) or pass --impl FILE`,
    );
  }
  const impl = await loadImplementation(file, definition);
  return new ServiceRuntime(definition, impl, logger.child({ service: definition.name }));
}
