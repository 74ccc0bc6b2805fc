/** What a user would measure on disk. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The size of a directory's files, as du counts them (files may vanish while it looks). */
export function diskUse(directory: string): number {
  let bytes = 0;
  for (const name of readdirSync(directory)) {
    try {
      bytes += statSync(join(directory, name)).size;
    } catch {
      // removed between the listing and the look
    }
  }
  return bytes;
}
