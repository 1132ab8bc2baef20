import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PeerwayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

/**
 * Where the persistent runtime data of services (`persistent="1"`) is kept. One record per service: its
 * persistent values by runtime-data path, in JSON form (`toJsonValue`). The runner and the server use
 * {@link FilePersistentStore}; tests and embedders may pass any other (a database, memory).
 */
export interface PersistentStore {
  /**
   * The values saved for `service`, or undefined when there are none (nothing saved yet, or a record
   * that could not be used: the store reports why, keeps the bad record aside and the service starts
   * from its defaults). Never throws for a missing or damaged record.
   */
  load(service: string): Promise<Record<string, unknown> | undefined>;
  /** Replaces the record of `service`, durably, before resolving. @throws when it could not. */
  save(service: string, values: Record<string, unknown>): Promise<void>;
  /** Where the record of `service` lives, for log lines (a file path, a table name). */
  location(service: string): string;
}

/** What a persistent-data file says it is, so a stray JSON file is never taken for one. */
const FORMAT = 'peerway-persistent-runtime-data';
const VERSION = 1;

interface StoredFile {
  format: typeof FORMAT;
  version: typeof VERSION;
  service: string;
  saved: string;
  values: Record<string, unknown>;
}

/**
 * The data directory used when none is given: `$XDG_STATE_HOME/peerway`, else `~/.local/state/peerway`
 * (state that should survive restarts but is not configuration, in the XDG base directory sense).
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME;
  // XDG says a relative value is invalid and must be ignored.
  if (state && path.isAbsolute(state)) return path.join(state, 'peerway');
  return path.join(os.homedir(), '.local', 'state', 'peerway');
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'ENOENT';
const reason = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message.replace(/^\w+: /, '').replace(/, \w+ '.*'$/, '')}` : String((err as Error)?.message ?? err);
};

/**
 * One small JSON file per service, `DIR/<service>.json`. A save writes a temporary file next to it,
 * flushes it to disk (fsync), renames it over the old one and flushes the directory: the file is always
 * either the previous record or the new one, also when the process is killed (`kill -9`) or the machine
 * loses power mid-write. A file that cannot be read or is not a record is moved aside to
 * `<service>.json.bad-<time>` (never deleted) with a warning naming both files.
 */
export class FilePersistentStore implements PersistentStore {
  private sequence = 0;

  constructor(
    readonly dir: string,
    private readonly log: Logger = silentLogger(),
  ) {}

  location(service: string): string {
    return path.join(this.dir, `${service}.json`);
  }

  async load(service: string): Promise<Record<string, unknown> | undefined> {
    const file = this.location(service);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (isMissing(err)) return undefined;
      await this.setAside(file, service, `cannot be read (${reason(err)})`);
      return undefined;
    }
    const problem = recordProblem(text, service);
    if (typeof problem === 'string') {
      await this.setAside(file, service, problem);
      return undefined;
    }
    return problem.values;
  }

  async save(service: string, values: Record<string, unknown>): Promise<void> {
    const file = this.location(service);
    const temp = `${file}.${process.pid}-${++this.sequence}.tmp`;
    const record: StoredFile = { format: FORMAT, version: VERSION, service, saved: new Date().toISOString(), values };
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw new PeerwayError('CONFIG_INVALID', `cannot write ${file} (${reason(err)}): make the data directory writable, choose another with --data-dir DIR, or turn persistence off with --no-persist`, {
        cause: err,
        details: { file },
      });
    }
    await syncDirectory(this.dir);
  }

  /** Moves a damaged record out of the way, keeping it for a person to look at, and says so. */
  private async setAside(file: string, service: string, problem: string): Promise<void> {
    const aside = `${file}.bad-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      await rename(file, aside);
      this.log.warn({ service, file, keptAs: aside }, `persistent runtime data ${file} ${problem}; it was moved to ${aside} and ${service} starts from the defaults of its definition`);
    } catch (err) {
      this.log.warn(
        { service, file },
        `persistent runtime data ${file} ${problem}, and it could not be moved aside (${reason(err)}); ${service} starts from the defaults of its definition and the file will be replaced at the next change`,
      );
    }
  }
}

/** The record in `text`, or what is wrong with it. */
function recordProblem(text: string, service: string): StoredFile | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return `is not valid JSON (${(err as Error).message})`;
  }
  const record = parsed as Partial<StoredFile> | null;
  if (typeof record !== 'object' || record === null || Array.isArray(record) || record.format !== FORMAT) {
    return `is not a Peerway persistent-data file (no "format": "${FORMAT}")`;
  }
  if (record.version !== VERSION) return `has version ${JSON.stringify(record.version)}, which this Peerway does not read (it reads ${VERSION})`;
  if (record.service !== service) return `belongs to service ${JSON.stringify(record.service)}, not ${service}`;
  if (typeof record.values !== 'object' || record.values === null || Array.isArray(record.values)) return 'has no "values" object';
  return record as StoredFile;
}

/**
 * Flushes a directory's entries (the rename just done) to disk. Best effort: some platforms and file
 * systems cannot open or sync a directory, and the rename itself is already atomic.
 */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // not supported here: the record is still whole, only its durability on power loss is weaker
  }
}
