import { PeerwayError } from '../errors.js';
import { formatDiagnostic, type Diagnostic } from './model.js';

/**
 * Thrown when a service definition has errors. Carries every diagnostic found (not only the first) so a
 * user fixes the file in one round; the message is the diagnostics formatted one per line.
 */
export class DefinitionError extends PeerwayError {
  readonly diagnostics: Diagnostic[];

  constructor(diagnostics: Diagnostic[], options: { cause?: unknown } = {}) {
    super('DEFINITION_INVALID', diagnostics.map(formatDiagnostic).join('\n'), {
      details: { diagnostics },
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.diagnostics = diagnostics;
  }
}
