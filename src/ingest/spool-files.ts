/**
 * The spool's files: the line format, the names that order segments and say whose they are, atomic
 * writes, and the checks that keep the directory private to its user.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processStartTime } from '../identity.js';
import type { QueuedLine } from './enrich.js';

/** Something the spool refused or could not do that costs no line now, e.g. a foreign file. */
export type SpoolWarning = (text: string) => void;

const PRIVATE_DIRECTORY = 0o700;
export const PRIVATE_FILE = 0o600;

/** Creates the directory private to this user, or checks that an existing one is. */
export function makePrivateDirectory(directory: string, warn: SpoolWarning): void {
  mkdirSync(directory, { recursive: true, mode: PRIVATE_DIRECTORY });
  if (!directoryIsPrivate(directory, warn)) throw new Error(`the spool directory ${directory} belongs to another user`);
}

/**
 * Whether the directory is ours: another user's directory is refused (it could read or plant
 * lines), and one of ours that others may read is made private.
 */
export function directoryIsPrivate(directory: string, warn: SpoolWarning): boolean {
  const stats = statSync(directory);
  if (process.getuid && stats.uid !== process.getuid()) {
    warn(`the spool directory ${directory} belongs to uid ${stats.uid}, not to this user: not used`);
    return false;
  }
  if ((stats.mode & 0o077) !== 0) chmodSync(directory, PRIVATE_DIRECTORY);
  return true;
}

/**
 * A temporary file is renamed within milliseconds of being written; one older than a minute was left
 * by a process killed in between, and holds nothing that counts.
 */
export function removeIfStaleTemporary(directory: string, name: string): void {
  if (!name.endsWith('.tmp')) return;
  const path = join(directory, name);
  if (Date.now() - lstatSync(path).mtimeMs > 60_000) rmSync(path, { force: true });
}

/** A segment planted by another user (or a link to elsewhere) is refused, and said so. */
export function ownedByUs(directory: string, name: string, warn: SpoolWarning): boolean {
  const stats = lstatSync(join(directory, name));
  if (stats.isFile() && (!process.getuid || stats.uid === process.getuid())) return true;
  const what = stats.isFile() ? `belongs to uid ${stats.uid}` : 'is not a regular file';
  warn(`the spool file ${join(directory, name)} ${what}: refused, not delivered`);
  return false;
}

export function toLine({ line, arrived, run }: QueuedLine): string {
  return `${arrived}\t${run ?? ''}\t${line}\n`;
}

/** The bytes a line takes in a segment. */
export const lineBytes = (item: QueuedLine) => Buffer.byteLength(toLine(item));

/** A spooled line, or undefined for a line damaged on disk. */
export function fromLine(text: string): QueuedLine | undefined {
  const first = text.indexOf('\t');
  const second = text.indexOf('\t', first + 1);
  const arrived = Number(text.slice(0, first));
  const run = text.slice(first + 1, second);
  if (first === -1 || second === -1 || !Number.isFinite(arrived) || !/^\d*$/.test(run)) return undefined;
  const line = text.slice(second + 1);
  return run === '' ? { line, arrived } : { line, arrived, run: Number(run) };
}

export function writeAll(fd: number, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset);
}

/** Writes under a temporary name that no reader lists, then renames: no one sees a half file. */
export function writeAtomically(directory: string, path: string, text: string): number {
  makePrivateDirectory(directory, () => undefined); // a directory of another user is a write failure

  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const bytes = Buffer.from(text);
  try {
    writeFileSync(temporary, bytes, { mode: PRIVATE_FILE });
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true }); // a disk-full write must not leave its half behind
    throw error;
  }
  return bytes.length;
}

let lastKey = 0;
/** Increasing keys: milliseconds, bumped when two segments are made in one millisecond. */
export function nextKey(): string {
  lastKey = Math.max(lastKey + 1, Date.now());
  return String(lastKey).padStart(16, '0');
}

export function previousKey(key: string): string {
  return String(Number(key) - 1).padStart(16, '0');
}

export const leftName = (key: string, id: string) => `left-${key}-${id}.spool`;

/**
 * A batch whose commit is unknown (being written at an exit, or failed ambiguously before a spill)
 * goes to a segment of its own whose id is the batch's ledger id (32 hex digits; other segments have
 * 12), so that whoever takes it back asks the ledger before writing it again.
 */
export const batchSegmentId = (batchId: string) => batchId.replace(/-/g, '');

/** The lines of a segment to be written in front of the others, and its name's key and id. */
export interface FrontPart {
  key: string;
  id: string;
  lines: QueuedLine[];
  /** The ledger id of the batch it holds, when its commit is unknown. */
  batchId?: string;
}

/**
 * Lines to put in front of every segment, as the segments to write, oldest first: the first
 * `uncertain.count` (a batch whose commit is unknown) in a segment of their own named by its ledger
 * id, ahead of the rest. `front` names a segment that sorts before every existing one.
 */
export function frontParts(
  front: { key: string; id: string },
  lines: QueuedLine[],
  uncertain: { id: string; count: number } | undefined,
): FrontPart[] {
  const count = uncertain?.count ?? 0;
  const batch = uncertain && { key: previousKey(front.key), id: batchSegmentId(uncertain.id), batchId: uncertain.id };
  const parts: FrontPart[] = [
    ...(batch ? [{ ...batch, lines: lines.slice(0, count) }] : []),
    { ...front, lines: lines.slice(count) },
  ];
  return parts.filter((part) => part.lines.length > 0);
}

/**
 * Writes each part under the name `nameOf` gives it, atomically; all or nothing: when it throws,
 * none of them is left. Returns the bytes written per part.
 */
export function writeParts(directory: string, parts: FrontPart[], nameOf: (part: FrontPart) => string): number[] {
  const written: string[] = [];
  try {
    return parts.map((part) => {
      const path = join(directory, nameOf(part));
      const bytes = writeAtomically(directory, path, part.lines.map(toLine).join(''));
      written.push(path);
      return bytes;
    });
  } catch (error) {
    for (const path of written) rmSync(path, { force: true });
    throw error;
  }
}

/** The ledger id of a batch segment (see batchSegmentId), else undefined. */
export function batchIdOf(segmentId: string): string | undefined {
  const hex = /^([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/.exec(segmentId);
  return hex ? hex.slice(1).join('-') : undefined;
}

export const liveName = (key: string, owner: string, id: string) => `live-${key}-${owner}-${id}.spool`;

/** host.pid.start-time of this process (dots and dashes in the host name made safe). */
export function ownerName(): string {
  return `${hostname().replace(/[^A-Za-z0-9]/g, '_')}.${process.pid}.${processStartTime()}`;
}

export function parseName(name: string): { key: string; id: string; owner: string | undefined } | undefined {
  const live = /^live-(\d{16})-([\w]+\.\d+\.\d+)-([0-9a-f]+)\.spool$/.exec(name);
  if (live) return { key: live[1] as string, owner: live[2] as string, id: live[3] as string };
  const left = /^left-(\d{16})-([0-9a-f]+)\.spool$/.exec(name);
  if (left) return { key: left[1] as string, owner: undefined, id: left[2] as string };
  return undefined;
}

export function byKey(a: string, b: string): number {
  return (parseName(a)?.key ?? a).localeCompare(parseName(b)?.key ?? b);
}

/**
 * Whether the process that owned a live segment has ended: same host, and no process with that pid
 * and start time. Segments of other hosts (a shared directory) are never taken.
 */
export function ownerIsGone(owner: string): boolean {
  const [host, pid, start] = owner.split('.');
  if (host !== hostname().replace(/[^A-Za-z0-9]/g, '_')) return false;
  if (Number(pid) === process.pid) return start !== processStartTime();
  try {
    process.kill(Number(pid), 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const current = processStartTime(Number(pid));
  return current !== 'unknown' && current !== start; // when it cannot tell, a live pid keeps its files
}
