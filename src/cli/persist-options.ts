import { Option, type Command } from 'commander';
import type { Logger } from '../logger.js';
import { defaultDataDir, FilePersistentStore, type PersistentStore } from '../service/persistent-store.js';

export interface PersistCliOptions {
  dataDir?: string;
  /** false with --no-persist */
  persist: boolean;
}

/**
 * `--data-dir DIR` and `--no-persist`: where the runtime data marked `persistent="1"` of the services a
 * runner or server hosts is kept (one `<service>.json` per service that has any).
 */
export function addPersistOptions(cmd: Command, hosted: string): Command {
  return cmd
    .addOption(
      new Option('--data-dir <dir>', `directory keeping the persistent="1" runtime data of ${hosted}, one <service>.json each, written within 1 s of a change (default: $XDG_STATE_HOME/peerway, else ~/.local/state/peerway)`).env(
        'PEERWAY_DATA_DIR',
      ),
    )
    .option('--no-persist', 'keep nothing: persistent="1" runtime data starts from its defaults every time');
}

/** The store the options ask for, or undefined with --no-persist. */
export function persistenceFrom(opts: PersistCliOptions, log: Logger): PersistentStore | undefined {
  if (!opts.persist) return undefined;
  // An empty PEERWAY_DATA_DIR means "not set", not the current directory.
  return new FilePersistentStore(opts.dataDir || defaultDataDir(), log);
}
