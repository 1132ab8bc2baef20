import { readFile, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { availableBearerIds } from '../bearer/registry.js';
import { checkDefinitionFile } from '../definition/load-definition.js';
import { fixTypographicQuotes } from '../definition/quote-hints.js';
import { formatDiagnostic } from '../definition/model.js';
import type { RuntimeDataNode } from '../definition/model.js';
import { printLine, reportError, EXIT_OK, EXIT_USAGE } from './common.js';

interface CheckCliOptions {
  fix?: boolean;
}

export function checkCommand(setExit: (code: number) => void): Command {
  return new Command('check')
    .description('validate service definition files; prints file:line:col: message for each problem')
    .argument('<files...>', 'service definition XML files')
    .option('--fix', 'rewrite typographic quotes (” “ ’) around attribute values to ASCII quotes, in place')
    .addHelpText('after', '\nExit code 0 when every file is valid, 2 when any has errors.')
    .action(async (files: string[], opts: CheckCliOptions) => {
      try {
        let failed = false;
        for (const file of files) {
          if (opts.fix) await fixFile(file);
          const { diagnostics, definition } = await checkDefinitionFile(file, { bearers: availableBearerIds() });
          for (const d of diagnostics) await printLine(formatDiagnostic(d));
          if (!definition || diagnostics.some((d) => d.severity === 'error')) {
            failed = true;
            continue;
          }
          const leaves = countLeaves(definition.runtimeData);
          await printLine(
            `${file}: ok: service ${definition.name}, ${definition.methods.size} method(s), ${definition.events.size} event(s), ${leaves} runtime-data value(s)` +
              (definition.routing ? `, ${definition.routing.routes.length} route(s)` : ''),
          );
          if (definition.routing) {
            const r = definition.routing.pos;
            await printLine(`${r.file}:${r.line}:${r.column}: note: <routing> applies when the service runs in a runner; it is ignored when the server loads it in-process (--service)`);
          }
        }
        setExit(failed ? EXIT_USAGE : EXIT_OK);
      } catch (err) {
        setExit(reportError('check', err));
      }
    });
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
