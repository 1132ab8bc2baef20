import { DefinitionError } from '../../src/definition/definition-error.js';
import { formatDiagnostic } from '../../src/definition/model.js';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { availableBearerIds } from '../../src/bearer/registry.js';

/** Parses `xml` (lines joined with \n) expecting failure; returns the formatted diagnostics. */
export function errorsOf(lines: string[] | string, file = 'test.xml'): string[] {
  const xml = Array.isArray(lines) ? lines.join('\n') : lines;
  try {
    parseDefinition(xml, file, { bearers: availableBearerIds() });
  } catch (err) {
    if (err instanceof DefinitionError) return err.diagnostics.map(formatDiagnostic);
    throw err;
  }
  throw new Error('expected the definition to be rejected');
}

/** Wraps body lines in a `<service name="S">` element; body line n is file line n + 1. */
export function service(...body: string[]): string[] {
  return ['<service name="S">', ...body, '</service>'];
}
