/**
 * The spool directory as the writer would use it: whether it can be written, and what waits in it
 * to be delivered at the next start. Nothing is created or changed.
 */
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { errorText } from '../errors.js';
import { lastingSpoolDir } from '../ingest/handoff.js';
import type { ResolvedOptions } from '../options.js';
import { finding, type Finding } from './findings.js';

const SET_SPOOL_DIR = 'set --spool-dir (LOGWEAVER_SPOOL_DIR) to a private directory that lasts across restarts';

export function spoolFinding(options: ResolvedOptions): Finding {
  const directory = lastingSpoolDir(options);
  if (directory === undefined) {
    const text = 'no home directory: each start spools to a new temporary directory, which the next start never finds';
    return finding('spool', 'warn', text, [SET_SPOOL_DIR]);
  }
  if (!existsSync(directory)) return notYetMade(directory);
  const stats = statSync(directory);
  if (!stats.isDirectory()) return finding('spool', 'warn', `${directory} is not a directory`, [SET_SPOOL_DIR]);
  if (process.getuid && stats.uid !== process.getuid()) {
    const text = `${directory} belongs to uid ${stats.uid}, not to this user: the writer refuses it, and an outage loses records`;
    return finding('spool', 'warn', text, [SET_SPOOL_DIR]);
  }
  const unwritable = whyNotWritable(directory);
  if (unwritable !== undefined) return finding('spool', 'warn', `${directory}: ${unwritable}`, [SET_SPOOL_DIR]);
  return finding('spool', 'ok', `${directory} is writable; ${waiting(directory)}`);
}

/** A directory the writer makes when it first spools: whether it will be able to. */
function notYetMade(directory: string): Finding {
  let ancestor = dirname(directory);
  while (!existsSync(ancestor) && dirname(ancestor) !== ancestor) ancestor = dirname(ancestor);
  const reason = statSync(ancestor).isDirectory() ? whyNotWritable(ancestor) : `${ancestor} is not a directory`;
  if (reason === undefined) return finding('spool', 'ok', `${directory} does not exist yet: made when first needed`);
  return finding('spool', 'warn', `${directory} cannot be made (${reason}): an outage loses records`, [SET_SPOOL_DIR]);
}

function whyNotWritable(directory: string): string | undefined {
  try {
    accessSync(directory, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    return `not writable: ${errorText(error)}`;
  }
}

/** What waits in the directory: its segment files and their size (part of one may be delivered already). */
function waiting(directory: string): string {
  const names = readdirSync(directory);
  const segments = names.filter((name) => name.endsWith('.spool'));
  if (segments.length === 0) return 'nothing waits in it';
  let bytes = 0;
  for (const name of segments) bytes += statSync(join(directory, name)).size;
  return `${bytes} bytes in ${segments.length} segment file(s) wait to be delivered (by the next start, or the running writer)`;
}
