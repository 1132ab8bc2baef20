import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { availableBearerIds } from '../bearer/registry.js';
import { checkDefinitionFile } from '../definition/load-definition.js';
import { formatDiagnostic, type ServiceDefinition } from '../definition/model.js';
import { implementationCandidates } from '../service/implementation.js';
import { generateModule, moduleFileName, sourceLabel, type GeneratedModule } from '../codegen/codegen.js';
import { parseHeader } from '../codegen/header.js';
import { CODEGEN_TARGETS, type CodegenTarget } from '../codegen/type-mapping.js';
import { PeerwayError } from '../errors.js';
import { printLine, reportError, EXIT_OK } from './common.js';

interface CodegenCliOptions {
  out?: string;
  target: CodegenTarget | 'both';
}

export function codegenCommand(setExit: (code: number) => void): Command {
  return new Command('codegen')
    .description('generate a typed TypeScript module per service from definition files: its types, a typed client and a typed implementation interface')
    .argument('[files...]', 'service definition XML files')
    .option('-o, --out <dir>', 'directory to write the modules to (created if missing); one flat module per service (required)')
    .addOption(
      new Option('--target <target>', 'node: for the Node client and service implementations; browser: for the browser client (peerway/browser); both')
        .choices([...CODEGEN_TARGETS, 'both'])
        .default('node'),
    )
    .addHelpText(
      'after',
      '\nEach service gets OUT/<name in kebab-case>.ts (node) and/or OUT/<name>.browser.ts (browser), importing only\n' +
        "types from 'peerway' / 'peerway/browser'. Its header names the definition and its sha256: peerway check\n" +
        '--generated OUT warns when a definition changed since. Files whose content would not change are not rewritten.\n' +
        'Example: peerway codegen examples/climate.xml --out src/generated\n' +
        'Codegen overwrites only modules it wrote (they carry its header), never a file of yours, and never writes where the\n' +
        'runner looks for an implementation (climate.ts next to climate.xml): give --out a directory of its own.\n' +
        'Exit code 0 when every module was written (or already up to date); 2 for missing arguments, a bad definition, or an\n' +
        '--out that cannot or must not be written, with nothing written.',
    )
    .showHelpAfterError('(run peerway codegen --help for usage)')
    .action(async (files: string[], opts: CodegenCliOptions) => {
      try {
        const out = checkUsage(files, opts);
        const modules = await generateAll(files, out, opts.target);
        const before = await existingModules(out, modules);
        await writeModules(out, modules, before);
        setExit(EXIT_OK);
      } catch (err) {
        setExit(reportError('codegen', err));
      }
    });
}

const SYNOPSIS = 'peerway codegen FILE.xml… --out DIR (e.g. peerway codegen examples/climate.xml --out src/generated)';

/**
 * The output directory, once both halves of the command line are there: one message for what is missing,
 * with the synopsis, instead of commander's terse one.
 * @throws PeerwayError `USAGE`
 */
function checkUsage(files: string[], opts: CodegenCliOptions): string {
  const missing = [...(files.length === 0 ? ['no definition files'] : []), ...(opts.out === undefined ? ['no --out <dir> for the modules'] : [])];
  if (missing.length > 0 || opts.out === undefined) throw new PeerwayError('USAGE', `${missing.join(' and ')} given: ${SYNOPSIS}`);
  if (opts.out.trim() === '') throw new PeerwayError('USAGE', `--out is empty: give the directory the modules go to: ${SYNOPSIS}`);
  return opts.out;
}

/**
 * Every definition parsed and every module generated before anything is written: a bad file leaves the
 * output directory as it was. Definition problems are printed as `file:line:col: message` on stderr.
 */
async function generateAll(files: string[], out: string, target: CodegenTarget | 'both'): Promise<GeneratedModule[]> {
  const targets = target === 'both' ? CODEGEN_TARGETS : [target];
  const definitions: ServiceDefinition[] = [];
  let failed = 0;
  for (const file of files) {
    if ((await stat(file).catch(() => undefined))?.isDirectory()) {
      process.stderr.write(`${file}: is a directory; give the definition files in it (${path.join(file, '*.xml')})\n`);
      failed++;
      continue;
    }
    const { diagnostics, definition } = await checkDefinitionFile(file, { bearers: availableBearerIds() });
    const errors = diagnostics.filter((d) => d.severity === 'error');
    for (const d of errors) process.stderr.write(`${formatDiagnostic(d)}\n`);
    if (!definition || errors.length > 0) failed++;
    else definitions.push(definition);
  }
  if (failed > 0) {
    throw new PeerwayError('DEFINITION_INVALID', `${failed} of ${files.length} definition file(s) have errors (listed above); nothing was written`);
  }
  const byFile = new Map<string, ServiceDefinition>();
  const modules: GeneratedModule[] = [];
  for (const definition of definitions) {
    for (const target of targets) {
      const fileName = moduleFileName(definition.name, target);
      const earlier = byFile.get(fileName);
      if (earlier !== undefined) {
        throw new PeerwayError(
          'USAGE',
          `${earlier.file} (service ${earlier.name}) and ${definition.file} (service ${definition.name}) would both be generated as ${path.join(out, fileName)}; generate them into different --out directories`,
        );
      }
      byFile.set(fileName, definition);
      refuseImplementationSlot(definition, path.join(out, fileName));
      modules.push(generateModule(definition, { target, source: sourceLabel(path.relative(path.resolve(out), path.resolve(definition.file))) }));
    }
  }
  return modules;
}

/**
 * A generated module must not sit where the runner looks for the service's implementation (`climate.ts`
 * next to `climate.xml`, as `--out` the definitions' own directory gives): it would be loaded as the
 * implementation, and a real one there would be overwritten.
 * @throws PeerwayError `USAGE`
 */
function refuseImplementationSlot(definition: ServiceDefinition, file: string): void {
  const resolved = path.resolve(file);
  if (!implementationCandidates(path.resolve(definition.file)).some((candidate) => path.resolve(candidate) === resolved)) return;
  throw new PeerwayError(
    'USAGE',
    `${file} is where the runner looks for the implementation of ${definition.name} (next to ${definition.file}), so the generated module cannot go there; ` +
      `give --out a directory of its own (e.g. --out ${path.join(path.dirname(file), 'generated')}); nothing was written`,
  );
}

/**
 * What each module's file holds now (undefined when it does not exist). Codegen overwrites only what it
 * wrote itself: a file without its header is someone's code (`peerway codegen climate.xml --out .` would
 * replace the implementation climate.ts next to climate.xml), so it stops before writing anything.
 * @throws PeerwayError `USAGE` naming the file and what to do.
 */
async function existingModules(out: string, modules: GeneratedModule[]): Promise<Map<string, string | undefined>> {
  const found = new Map<string, string | undefined>();
  for (const module of modules) {
    const file = path.join(out, module.fileName);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined && !parseHeader(text)) {
      throw new PeerwayError(
        'USAGE',
        `${file} exists and was not written by peerway codegen (it has no "// peerway-codegen" header line), so it is not overwritten; ` +
          `give --out a directory of its own (e.g. --out ${path.join(out, 'generated')}), or move the file away; nothing was written`,
      );
    }
    found.set(module.fileName, text);
  }
  return found;
}

async function writeModules(out: string, modules: GeneratedModule[], existing: Map<string, string | undefined>): Promise<void> {
  try {
    await mkdir(out, { recursive: true });
  } catch (err) {
    throw cannotWrite(out, err);
  }
  for (const module of modules) {
    const file = path.join(out, module.fileName);
    const before = existing.get(module.fileName);
    if (before === module.text) {
      await printLine(`unchanged ${file}`);
      continue;
    }
    try {
      await writeFile(file, module.text);
    } catch (err) {
      throw cannotWrite(file, err);
    }
    await printLine(`wrote ${file}`);
  }
}

function cannotWrite(target: string, err: unknown): PeerwayError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return new PeerwayError('USAGE', `cannot write ${target} (${code}); give --out a directory you can write to`, { cause: err });
}
