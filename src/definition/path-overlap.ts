/**
 * Whether a runtime-data change at `changed` concerns a watcher of `watched`: one path contains the other
 * ('' is the root and contains everything). Used by the server to route updates and by clients to fan
 * them out to listeners.
 */
export function pathsOverlap(watched: string, changed: string): boolean {
  if (watched === '' || changed === '' || watched === changed) return true;
  return changed.startsWith(watched + '.') || watched.startsWith(changed + '.');
}
