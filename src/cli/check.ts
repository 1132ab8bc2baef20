import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { availableBearerIds } from '../bearer/registry.js';
import { checkDefinitionFile } from '../definition/load-definition.js';
import { fixTypographicQuotes } from '../definition/quote-hints.js';
import { formatDiagnostic } from '../definition/model.js';
import type { RuntimeDataNode, ServiceDefinition } from '../definition/model.js';
import { unreachableRoutes, unreliableSizeWarnings } from '../routing/route-warnings.js';
import { PeerwayError } from '../errors.js';
import { loadPolicy } from '../policy/policy-file.js';
import { formatCoverage, Policy } from '../policy/policy.js';
import { IMPLEMENTATION_EXTENSIONS, findImplementation, implementationCandidates, loadImplementation } from '../service/implementation.js';
import { inspectGeneratedFiles } from '../codegen/generated-files.js';
import { collect, positiveIntArg, printLine, reportError, EXIT_OK, EXIT_USAGE } from './common.js';

interface CheckCliOptions {
  fix?: boolean;
  xmlOnly?: boolean;
  policy?: string;
  maxDefinitionBytes?: number;
  generated?: string[];
}

export function checkCommand(setExit: (code: number) => void): Command {
  return new Command('check')
    .description('validate service definition files and the implementation next to each; prints file:line:col: message for each problem')
    .argument('[files...]', 'service definition XML files')
    .option('--fix', 'rewrite typographic quotes (” “ ’) around attribute values to ASCII quotes, in place')
    .option('--xml-only', 'check the XML alone, not the implementation next to it')
    .option('--policy <file.yaml>', 'also check an access policy file, and report the names it does not know and the operations it does not decide for these services')
    .option('--max-definition-bytes <n>', 'largest definition accepted (default 1048576, as on the server and runner)', positiveIntArg)
    .option('--generated <dir>', 'also check the modules peerway codegen wrote to this directory: a warning for each one older than its definition (repeatable)', collect<string>)
    .addHelpText(
      'after',
      '\nA service with methods needs an implementation next to its XML (same base name, ' +
        IMPLEMENTATION_EXTENSIONS.join(' ') +
        '; for MyService_interface.xml also MyService with those extensions) that loads and implements exactly the declared methods.\n' +
        'Warnings (routes that can never be chosen, generated modules older than their definition, …) do not change the exit code.\n' +
        'Exit code 0 when every file is valid, 2 when any has errors.',
    )
    .action(async (files: string[], opts: CheckCliOptions) => {
      try {
        if (files.length === 0 && !opts.generated) throw new PeerwayError('USAGE', 'nothing to check: give definition files, --generated DIR, or both');
        let failed = false;
        const definitions: ServiceDefinition[] = [];
        for (const file of files) {
          if (opts.fix) await fixFile(file);
          const { diagnostics, definition } = await checkDefinitionFile(file, { bearers: availableBearerIds(), ...(opts.maxDefinitionBytes ? { maxBytes: opts.maxDefinitionBytes } : {}) });
          for (const d of diagnostics) await printLine(formatDiagnostic(d));
          if (!definition || diagnostics.some((d) => d.severity === 'error')) {
            failed = true;
            continue;
          }
          for (const d of [...unreachableRoutes(definition), ...unreliableSizeWarnings(definition)]) await printLine(formatDiagnostic(d));
          const impl = opts.xmlOnly ? { problems: [], summary: 'implementation not checked (--xml-only)' } : await checkImplementation(file, definition);
          for (const p of impl.problems) await printLine(p);
          if (impl.problems.length > 0) {
            failed = true;
            continue;
          }
          definitions.push(definition);
          const leaves = countLeaves(definition.runtimeData);
          await printLine(
            `${file}: ok: service ${definition.name}, ${definition.methods.size} method(s), ${definition.events.size} event(s), ${leaves} runtime-data value(s)` +
              (definition.routing ? `, ${definition.routing.routes.length} route(s)` : '') +
              `; ${impl.summary}`,
          );
          if (definition.routing) {
            const r = definition.routing.pos;
            await printLine(`${r.file}:${r.line}:${r.column}: note: <routing> applies when the service runs in a runner; it is ignored when the server loads it in-process (--service)`);
          }
        }
        if (opts.policy && !(await checkPolicy(opts.policy, definitions))) failed = true;
        for (const dir of opts.generated ?? []) if (!(await checkGenerated(dir))) failed = true;
        setExit(failed ? EXIT_USAGE : EXIT_OK);
      } catch (err) {
        setExit(reportError('check', err));
      }
    });
}

/**
 * Loads the implementation next to `xmlFile` as the runner would (findImplementation, loadImplementation)
 * and compares its methods with the declared ones. Problems are `FILE: error: message` lines naming the
 * implementation file (or the XML when there is none); a service without methods needs no implementation.
 */
async function checkImplementation(xmlFile: string, definition: ServiceDefinition): Promise<{ problems: string[]; summary: string }> {
  const declared = [...definition.methods.keys()];
  const file = findImplementation(xmlFile);
  if (!file) {
    if (declared.length === 0) return { problems: [], summary: 'no methods, so no implementation needed' };
    return {
      problems: [
        `${xmlFile}: error: service ${definition.name} declares ${declared.length} method(s) and has no implementation: looked for ${implementationCandidates(xmlFile).join(', ')}; ` +
          'create one (default export { methods, start?, stop? }), or give --xml-only to check the XML alone',
      ],
      summary: '',
    };
  }
  // Shown as it sits next to the XML given, rather than as the absolute path findImplementation returns.
  const shown = path.join(path.dirname(xmlFile), path.basename(file));
  let methods: Record<string, unknown>;
  try {
    methods = (await loadImplementation(file, definition)).methods ?? {};
  } catch (err) {
    const message = (err as Error).message;
    const own = message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message.startsWith(`${file} `) ? message.slice(file.length + 1) : message.split(file).join(shown);
    return { problems: [`${shown}: error: ${own}`], summary: '' };
  }
  const missing = declared.filter((m) => typeof methods[m] !== 'function');
  if (missing.length > 0) {
    return {
      problems: [
        `${shown}: error: ${missing.length === 1 ? 'method' : 'methods'} ${missing.map((m) => `"${m}"`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} declared in ${xmlFile} ` +
          `but not implemented (calls would fail with NOT_IMPLEMENTED); add ${missing.length === 1 ? 'it' : 'them'} to "methods" in the default export`,
      ],
      summary: '',
    };
  }
  return { problems: [], summary: `implementation ${shown}` };
}

/**
 * `--policy`: the policy file's problems (`file:line:col`), then, for the definitions given, the names it
 * does not know and the operations no statement decides. False when the file has errors.
 */
async function checkPolicy(file: string, definitions: ServiceDefinition[]): Promise<boolean> {
  let policy: Policy;
  try {
    const model = await loadPolicy(file);
    for (const w of model.warnings) await printLine(formatDiagnostic(w));
    policy = new Policy(model);
  } catch (err) {
    if (!(err instanceof PeerwayError) || err.code !== 'CONFIG_INVALID') throw err;
    await printLine(err.message);
    return false;
  }
  for (const w of policy.unknownNames(definitions)) await printLine(formatDiagnostic(w));
  const gaps = formatCoverage(policy.coverage(definitions));
  for (const line of gaps) await printLine(`${file}: coverage: ${line}`);
  const declared = policy.model.identities.length;
  await printLine(`${file}: ok: policy (${policy.mode}), ${policy.model.statements.length} statement(s), ${declared} identit${declared === 1 ? 'y' : 'ies'} declared; ${gaps.length === 0 ? 'every operation of these services is decided' : `${gaps.length} gap(s) above`}`);
  return true;
}

/**
 * `--generated DIR`: each module codegen wrote there (found by its header), compared with the definition
 * its header names (relative to the module) by sha256. Out of date or orphaned modules are warnings; false
 * only when the directory cannot be read.
 */
async function checkGenerated(dir: string): Promise<boolean> {
  let found;
  try {
    found = await inspectGeneratedFiles(dir);
  } catch (err) {
    if (!(err instanceof PeerwayError) || err.code !== 'USAGE') throw err;
    await printLine(`${dir}: error: ${err.message}`);
    return false;
  }
  if (found.length === 0) await printLine(`${dir}: warning: no module written by peerway codegen here (none has its header)`);
  for (const f of found) {
    const where = `${f.file}:${f.line}:1`;
    const regenerate = `peerway codegen ${f.source} --out ${dir}${f.header.target === 'browser' ? ' --target browser' : ''}`;
    if (f.state === 'fresh') await printLine(`${f.file}: ok: generated from ${f.source}, up to date`);
    else if (f.state === 'stale') await printLine(`${where}: warning: out of date: ${f.source} changed since this module was generated from it (sha256 differs); regenerate: ${regenerate}`);
    else await printLine(`${where}: warning: generated from ${f.source}, which cannot be read (${f.problem}); regenerate it from where the definition is now, or delete it`);
  }
  return true;
}

async function fixFile(file: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return; // checkDefinitionFile reports the unreadable file
  }
  const fixed = fixTypographicQuotes(text);
  if (fixed.replaced > 0) {
    await writeFile(file, fixed.text);
    await printLine(`${file}: fixed ${fixed.replaced} typographic quote(s)`);
  }
}

function countLeaves(node: RuntimeDataNode): number {
  return node.kind === 'leaf' ? 1 : node.children.reduce((n, c) => n + countLeaves(c), 0);
}
