import { availableBearerIds } from '../bearer/registry.js';
import { loadDefinitionFile } from '../definition/load-definition.js';
import type { ParseOptions } from '../definition/parse-definition.js';
import { formatDiagnostic } from '../definition/model.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { PeerwayError } from '../errors.js';
import { findImplementation, implementationCandidates, loadImplementation } from './implementation.js';
import { ServiceRuntime } from './service-runtime.js';

/**
 * Loads a service from its definition XML and its implementation module (the sibling file with the same
 * base name, `MyService.*` for a Kanzi Connect `MyService_interface.xml`, or `implFile`), ready to start.
 * The definition's warnings are logged. Errors name the file and the fix.
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
    throw new PeerwayError(
      'CONFIG_INVALID',
      `no implementation for ${xmlFile}: looked for ${implementationCandidates(xmlFile).join(', ')}; create one (default export { methods, start?, stop? }) or pass --impl FILE`,
    );
  }
  // Valid but worth knowing (e.g. Kanzi Connect attributes Peerway keeps but does not act on): said once
  // at start-up, and the service runs.
  for (const w of definition.warnings) logger.warn({ service: definition.name }, formatDiagnostic(w));
  const impl = await loadImplementation(file, definition);
  return new ServiceRuntime(definition, impl, logger.child({ service: definition.name }));
}
