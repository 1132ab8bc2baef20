import type { ServiceDefinition } from '../definition/model.js';
import { emitBrowserHelpers, emitClient } from './emit-client.js';
import { emitService } from './emit-service.js';
import { emitEvents, emitRuntimeData, emitStructs } from './emit-types.js';
import { definitionHash, formatHeader } from './header.js';
import { checkNames, kebabCase, moduleNames } from './naming.js';
import { scalarLegend, type CodegenTarget } from './type-mapping.js';

/**
 * `peerway codegen`: one TypeScript module per service and target, from its parsed definition. Pure: the
 * same definition and options give the same bytes (no dates, no absolute paths, members sorted where
 * the XML's order means nothing), which is what lets a generated file be committed and checked for
 * staleness.
 */

export interface GenerateOptions {
  target: CodegenTarget;
  /**
   * The definition file as the header names it: relative to the directory the module is written to,
   * `/`-separated (see {@link sourceLabel}).
   */
  source: string;
}

export interface GeneratedModule {
  /** `climate.ts` (node) or `climate.browser.ts` (browser): flat, directly in the output directory. */
  fileName: string;
  text: string;
}

/**
 * What the definition says about the service besides its shape (`fullname`, `version`, Kanzi Connect's
 * `namespace` and `package`, the description), as comment lines wrapped at about 110 columns; none when
 * it says nothing. Whitespace is collapsed, so no text of the definition can end the comment.
 */
function aboutService(definition: ServiceDefinition): string[] {
  const facts: string[] = [];
  for (const key of ['fullname', 'version', 'namespace', 'package']) {
    const value = definition.attributes[key]?.trim();
    if (value) facts.push(`${key} ${value}`);
  }
  const description = definition.description?.trim();
  if (facts.length === 0 && !description) return [];
  const text = `Service ${definition.name}${facts.length > 0 ? ` (${facts.join(', ')})` : ''}${description ? `: ${description}` : ''}`;
  const lines: string[] = [];
  let line = '//';
  for (const word of text.split(/\s+/)) {
    if (line.length > 2 && line.length + 1 + word.length > 110) {
      lines.push(line);
      line = '//';
    }
    line += ` ${word}`;
  }
  lines.push(line, '');
  return lines;
}

/** The file name of a service's module for a target. */
export function moduleFileName(serviceName: string, target: CodegenTarget): string {
  return `${kebabCase(serviceName)}${target === 'browser' ? '.browser' : ''}.ts`;
}

/** The definition's path as a header names it: relative to `outDir`, with `/` separators. */
export function sourceLabel(relative: string): string {
  return relative.split('\\').join('/');
}

const IMPORTS: Record<CodegenTarget, string> = {
  node: "import type { CallContext, DataChange, PeerwayClient, RequestOptions, ServiceApi, ServiceEvent, ServiceImplementation, Session, StartSessionOptions, Subscription } from 'peerway';",
  browser: "import type { DataChange, PeerwayClient, RequestOptions, ServiceEvent, Session, Subscription, Watch } from 'peerway/browser';",
};

/**
 * The module for one service: header, imports (types only: the module adds no runtime dependency), the
 * definition's types, the typed client and, for node, the typed implementation interface.
 * @throws PeerwayError `DEFINITION_INVALID` when a struct name clashes with a generated name, or the
 *   runtime data has more paths than a type should hold.
 */
export function generateModule(definition: ServiceDefinition, options: GenerateOptions): GeneratedModule {
  const { target } = options;
  const names = moduleNames(definition.name);
  checkNames(definition, names);
  const xmlBaseName = options.source.slice(options.source.lastIndexOf('/') + 1);
  const lines = [
    ...formatHeader({ source: options.source, sha256: definitionHash(definition.source), target }),
    '',
    IMPORTS[target],
    '',
    ...aboutService(definition),
    ...scalarLegend(target).map((l) => `// ${l}`),
    '',
    ...emitStructs(definition, target),
    ...emitEvents(definition, names, target),
    ...emitRuntimeData(definition, names, target),
    ...emitClient(definition, names, target),
    ...(target === 'node' ? emitService(definition, names, xmlBaseName) : emitBrowserHelpers()),
  ];
  while (lines[lines.length - 1] === '') lines.pop();
  return { fileName: moduleFileName(definition.name, target), text: `${lines.join('\n')}\n` };
}
