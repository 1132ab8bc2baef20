import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/harness.js';

/**
 * A TypeScript project outside the repository, set up as a user's would be: `peerway` in its node_modules
 * (a link to this checkout, so `import … from 'peerway'` resolves through package.json `exports` to dist/,
 * as an installed package does) and Node's types. Removed when the test ends.
 */
export function tempProject(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-codegen-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'peerway'), 'dir');
  symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), path.join(dir, 'node_modules', '@types', 'node'), 'dir');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'codegen-user', private: true, type: 'module' }, null, 2));
  return dir;
}

/**
 * The compiler options generated code must pass: `--strict` with `module: nodenext`, and the stricter
 * options projects commonly add on top, so no user setting turns a generated module into errors.
 */
export const STRICT_OPTIONS = {
  strict: true,
  module: 'nodenext',
  moduleResolution: 'nodenext',
  target: 'es2022',
  verbatimModuleSyntax: true,
  isolatedModules: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitReturns: true,
  noImplicitOverride: true,
  noUnusedLocals: true,
  noPropertyAccessFromIndexSignature: true,
  noFallthroughCasesInSwitch: true,
  skipLibCheck: true,
  types: ['node'],
};

export interface TscDiagnostic {
  /** Relative to the project directory, `/`-separated. */
  file: string;
  line: number;
  code: string;
  message: string;
}

/**
 * Runs the real `tsc -p dir` (the repository's TypeScript) and returns its diagnostics. Bounded in time:
 * a compiler that hangs fails the test instead of the suite.
 */
export function runTsc(dir: string, timeoutMs = 90_000): Promise<{ code: number | null; diagnostics: TscDiagnostic[]; output: string }> {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tsc did not finish within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const diagnostics: TscDiagnostic[] = [];
      for (const m of output.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)) {
        diagnostics.push({ file: m[1].split(path.sep).join('/'), line: Number(m[2]), code: m[3], message: m[4] });
      }
      resolve({ code, diagnostics, output });
    });
  });
}
