import { closeSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Syncs the folder that holds `file`, so that the file's creation, or a rename over it,
 * survives a crash (the one implementation: zone files, journals, the audit checkpoint).
 */
export function syncFolderOf(file: string): void {
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
