/**
 * Taking over a spool directory's leftovers: segments that processes left at exit, and live segments
 * of processes that have ended (crashed, or killed). Each is renamed to this process's own live name
 * first, so that two processes starting at once never deliver the same segment.
 */
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { openSegment, removeSegmentFiles, type Segment } from './segment.js';
import {
  byKey,
  directoryIsPrivate,
  liveName,
  ownedByUs,
  ownerIsGone,
  parseName,
  removeIfStaleTemporary,
  type SpoolWarning,
} from './spool-files.js';

/** The segments with lines left to deliver, oldest first, now owned by `owner`. */
export function claimLeftovers(directory: string, owner: string, warn: SpoolWarning): Segment[] {
  if (!existsSync(directory) || !directoryIsPrivate(directory, warn)) return [];
  const claimed: Segment[] = [];
  for (const name of readdirSync(directory).sort(byKey)) {
    try {
      const segment = claim(directory, name, owner, warn);
      if (segment) claimed.push(segment);
    } catch (error) {
      // Another process starting at the same moment may take (or have taken) this one: go on.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return claimed;
}

/** Claims one leftover file, or returns undefined when it is not one (or holds no whole line). */
function claim(directory: string, name: string, owner: string, warn: SpoolWarning): Segment | undefined {
  removeIfStaleTemporary(directory, name);
  const parsed = parseName(name);
  if (!parsed || (parsed.owner !== undefined && !ownerIsGone(parsed.owner))) return undefined;
  if (!ownedByUs(directory, name, warn)) return undefined;
  const path = join(directory, liveName(parsed.key, owner, parsed.id));
  try {
    renameSync(join(directory, name), path);
  } catch {
    return undefined; // another process claimed it first
  }
  const segment = openSegment(directory, parsed.key, parsed.id, path);
  if (segment.rows > 0) return segment;
  removeSegmentFiles(directory, segment); // nothing whole left: at most a torn line, which never held a record
  return undefined;
}
