import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseTemporaryName } from '../common/temporary-names.js';

/** What removeLeftovers removed. */
export interface Leftovers {
  readonly files: readonly string[];
  readonly bytes: number;
}

/**
 * Removes the temporary files (common/temporary-names.ts) that earlier runs left behind (a
 * kill between writing and renaming): in `folders`, hms's own, every one (also as hms named
 * them before); beside each of `targets`, only `TARGET.hms-tmp-PID` of that very target.
 * Only regular files, and only those whose PID is not `pid` (this process): the caller holds
 * the state's lock, so no other hms writes there meanwhile; that a process of that PID lives
 * proves nothing (after a reboot, the PID of a killed run may be anybody's). A folder that
 * cannot be read is passed over.
 */
export function removeLeftovers(folders: readonly string[], targets: readonly string[], pid: number): Leftovers {
  const files: string[] = [];
  let bytes = 0;
  const remove = (path: string): void => {
    try {
      const s = lstatSync(path);
      if (!s.isFile()) return;
      rmSync(path);
      files.push(path);
      bytes += s.size;
    } catch {
      // gone meanwhile, or not ours to remove: left as it is
    }
  };
  for (const folder of new Set(folders)) {
    for (const name of list(folder)) {
      const t = parseTemporaryName(name);
      if (t !== undefined && t.pid !== pid) remove(join(folder, name));
    }
  }
  for (const target of new Set(targets)) {
    const folder = dirname(target);
    for (const name of list(folder)) {
      const t = parseTemporaryName(name);
      if (t !== undefined && !t.earlier && t.target === basename(target) && t.pid !== pid) remove(join(folder, name));
    }
  }
  return { files, bytes };
}

function list(folder: string): string[] {
  try {
    return readdirSync(folder);
  } catch {
    return [];
  }
}
