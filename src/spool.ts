/**
 * Spool: lines that cannot wait in memory (the database is away, or slower than the input) go to
 * append-only files on local disk and come back in order when the writer catches up. What is left at
 * exit, or by a process that crashed, is delivered by the next process that uses the same directory.
 *
 * Files, in the spool directory (one per application and target by default):
 *   live-<key>-<owner>-<id>.spool  a segment of a running process: one line per record,
 *                                  `<arrival ms>\t<run number or empty>\t<the line as it arrived>`
 *   left-<key>-<id>.spool          a segment a process left at exit: any process may claim it
 *   <key>-<id>.offset              bytes of that segment already delivered (written after each commit)
 * <owner> is host.pid.start-time, so a restarted container that reuses a pid still claims what its
 * predecessor left. <key> orders segments: oldest first. Every file appears by an atomic rename.
 * The spool never throws: a failure to write loses the lines concerned, and says so through onLoss.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { QueuedLine } from './enrich.js';
import { processStartTime } from './identity.js';

/** How far take() reached; confirmed with delivered() once those lines are committed. */
export interface SpoolMark {
  segment: Segment;
  offset: number;
}

interface Segment {
  key: string;
  id: string;
  path: string;
  /** Bytes already handed out by take(). */
  readOffset: number;
  /** Bytes in the file. */
  size: number;
  /** Lines not yet handed out. */
  rows: number;
  /** Whether this process still appends to it. */
  appending: boolean;
}

export type SpoolLoss = (lines: number, what: string, error: unknown) => void;

const WRITE_BATCH_BYTES = 256 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;

export class Spool {
  private readonly segments: Segment[] = [];
  private pending: string[] = [];
  private pendingBytes = 0;
  private pendingRows = 0;
  private appendFd: number | undefined;
  private readFd: { segment: Segment; fd: number } | undefined;
  private readonly owner = ownerName();

  constructor(
    private readonly directory: string,
    private readonly maxBytes: number,
    private readonly onLoss: SpoolLoss,
  ) {}

  /** Lines waiting on disk (or about to be written there). */
  get rows(): number {
    return this.pendingRows + this.segments.reduce((sum, segment) => sum + segment.rows, 0);
  }

  get bytes(): number {
    return this.pendingBytes + this.segments.reduce((sum, segment) => sum + segment.size - segment.readOffset, 0);
  }

  /** Claims segments left by processes that have ended; returns how many lines they hold. */
  claimLeftovers(): number {
    if (!existsSync(this.directory)) return 0;
    let claimed = 0;
    for (const name of readdirSync(this.directory).sort(byKey)) {
      const parsed = parseName(name);
      if (!parsed || (parsed.owner !== undefined && !ownerIsGone(parsed.owner))) continue;
      const path = join(this.directory, this.liveName(parsed.key, parsed.id));
      try {
        renameSync(join(this.directory, name), path);
      } catch {
        continue; // another process claimed it first
      }
      const segment = this.openExisting(parsed.key, parsed.id, path);
      claimed += segment.rows;
      this.insertInOrder(segment);
    }
    return claimed;
  }

  /** Queues a line for the disk; false when the spool is at its size cap (the caller counts the drop). */
  append(item: QueuedLine): boolean {
    const line = toLine(item);
    if (this.bytes + line.length > this.maxBytes) return false;
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.pendingRows++;
    if (this.pendingBytes >= WRITE_BATCH_BYTES) this.writePending();
    return true;
  }

  /** Writes queued lines to this process's live segment, synchronously (this also runs at exit). */
  writePending(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    const rows = this.pendingRows;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingRows = 0;
    try {
      const segment = this.appendSegment();
      const bytes = Buffer.from(text);
      writeAll(this.appendFd as number, bytes);
      segment.size += bytes.length;
      segment.rows += rows;
    } catch (error) {
      this.onLoss(rows, `could not be written to the spool in ${this.directory}`, error);
      this.stopAppending();
    }
  }

  /**
   * Puts lines back in front of everything spooled (they are older): used when the database fails,
   * so that what waited in memory survives a crash. Returns false if they could not be written.
   */
  spillFront(lines: QueuedLine[]): boolean {
    if (lines.length === 0) return true;
    const first = this.segments[0];
    const key = first ? previousKey(first.key) : nextKey();
    const id = randomBytes(6).toString('hex');
    const path = join(this.directory, this.liveName(key, id));
    try {
      const bytes = writeAtomically(this.directory, path, lines.map(toLine).join(''));
      this.segments.unshift({ key, id, path, readOffset: 0, size: bytes, rows: lines.length, appending: false });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Takes up to `max` of the oldest lines. `mark` says how far they reach: pass it to delivered()
   * once they are committed. `damaged` counts lines found unreadable on disk (and skipped).
   */
  take(max: number): { rows: QueuedLine[]; mark: SpoolMark | undefined; damaged: number } {
    this.writePending();
    const taken: QueuedLine[] = [];
    let mark: SpoolMark | undefined;
    let damaged = 0;
    for (const segment of [...this.segments]) {
      while (taken.length < max && segment.readOffset < segment.size) {
        let text: string | undefined;
        try {
          text = this.readLines(segment);
        } catch (error) {
          this.onLoss(segment.rows, `were in a spool file that could not be read (${segment.path})`, error);
          this.finish(segment);
          break;
        }
        if (text === undefined) break;
        let start = 0;
        for (
          let newline = text.indexOf('\n');
          newline !== -1 && taken.length < max;
          newline = text.indexOf('\n', start)
        ) {
          const line = text.slice(start, newline);
          const item = fromLine(line);
          if (item) taken.push(item);
          else damaged++;
          segment.readOffset += Buffer.byteLength(line) + 1;
          segment.rows--;
          start = newline + 1;
        }
        mark = { segment, offset: segment.readOffset };
      }
      if (taken.length >= max) break;
    }
    return { rows: taken, mark, damaged };
  }

  /** Records that everything up to the mark is committed; removes segments that are done. */
  delivered(mark: SpoolMark): void {
    for (const segment of this.segments.slice(0, this.segments.indexOf(mark.segment))) {
      if (segment.readOffset >= segment.size && !segment.appending) this.finish(segment);
    }
    const { segment, offset } = mark;
    if (!this.segments.includes(segment)) return;
    if (offset < segment.size || (segment.appending && this.pendingRows > 0)) {
      this.saveOffset(segment, offset);
      return;
    }
    if (segment.appending) this.stopAppending(); // fully delivered: the next append starts a new segment
    this.finish(segment);
  }

  /**
   * At exit: writes `unwritten` (lines taken earlier and not committed, so the oldest of all) ahead
   * of the other segments, and leaves every segment for the next process.
   */
  leave(unwritten: QueuedLine[]): void {
    this.writePending();
    if (unwritten.length > 0) {
      const first = this.segments.find((segment) => segment.readOffset < segment.size);
      const key = first ? previousKey(first.key) : nextKey();
      const id = randomBytes(6).toString('hex');
      try {
        writeAtomically(this.directory, join(this.directory, leftName(key, id)), unwritten.map(toLine).join(''));
      } catch (error) {
        this.onLoss(unwritten.length, `could not be written to the spool in ${this.directory} at exit`, error);
      }
    }
    this.closeFiles();
    for (const segment of this.segments.splice(0)) {
      if (segment.readOffset >= segment.size) {
        this.remove(segment);
        continue;
      }
      try {
        this.saveOffset(segment, segment.readOffset);
        renameSync(segment.path, join(this.directory, leftName(segment.key, segment.id)));
      } catch (error) {
        // Still there under its live name: the next start claims it once this process is gone.
        this.onLoss(0, `could not be handed over in ${this.directory}`, error);
      }
    }
  }

  private liveName(key: string, id: string): string {
    return `live-${key}-${this.owner}-${id}.spool`;
  }

  /** The next whole lines of a segment (however long a line is), or undefined at a torn end. */
  private readLines(segment: Segment): string | undefined {
    const fd = this.readerOf(segment);
    const remaining = segment.size - segment.readOffset;
    for (let size = Math.min(READ_CHUNK_BYTES, remaining); ; size = Math.min(size * 2, remaining)) {
      const chunk = Buffer.allocUnsafe(size);
      const text = chunk.toString('utf8', 0, readSync(fd, chunk, 0, size, segment.readOffset));
      const lastNewline = text.lastIndexOf('\n');
      if (lastNewline !== -1) return text.slice(0, lastNewline + 1);
      if (size === remaining) {
        // A torn last line: its writer died mid-write, so it never held a whole record.
        segment.readOffset = segment.size;
        return undefined;
      }
    }
  }

  private appendSegment(): Segment {
    const last = this.segments[this.segments.length - 1];
    if (last?.appending && this.appendFd !== undefined) return last;
    mkdirSync(this.directory, { recursive: true });
    const key = nextKey();
    const id = randomBytes(6).toString('hex');
    const path = join(this.directory, this.liveName(key, id));
    this.appendFd = openSync(path, 'a');
    const segment: Segment = { key, id, path, readOffset: 0, size: 0, rows: 0, appending: true };
    this.segments.push(segment);
    return segment;
  }

  private stopAppending(): void {
    if (this.appendFd !== undefined) closeSync(this.appendFd);
    this.appendFd = undefined;
    for (const segment of this.segments) segment.appending = false;
  }

  private openExisting(key: string, id: string, path: string): Segment {
    const offsetFile = join(this.directory, `${key}-${id}.offset`);
    const saved = existsSync(offsetFile) ? Number(readFileSync(offsetFile, 'utf8')) : 0;
    const content = readFileSync(path);
    const readOffset = Number.isInteger(saved) && saved >= 0 && saved <= content.length ? saved : 0;
    let rows = 0;
    for (let index = content.indexOf(10, readOffset); index !== -1; index = content.indexOf(10, index + 1)) rows++;
    return { key, id, path, readOffset, size: statSync(path).size, rows, appending: false };
  }

  private insertInOrder(segment: Segment): void {
    const at = this.segments.findIndex((other) => other.key > segment.key);
    if (at === -1) this.segments.push(segment);
    else this.segments.splice(at, 0, segment);
  }

  private readerOf(segment: Segment): number {
    if (this.readFd?.segment !== segment) {
      if (this.readFd) closeSync(this.readFd.fd);
      this.readFd = { segment, fd: openSync(segment.path, 'r') };
    }
    return this.readFd.fd;
  }

  private finish(segment: Segment): void {
    if (this.readFd?.segment === segment) {
      closeSync(this.readFd.fd);
      this.readFd = undefined;
    }
    this.segments.splice(this.segments.indexOf(segment), 1);
    this.remove(segment);
  }

  private remove(segment: Segment): void {
    for (const path of [segment.path, this.offsetPath(segment)]) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  }

  private closeFiles(): void {
    if (this.readFd) closeSync(this.readFd.fd);
    this.readFd = undefined;
    this.stopAppending();
  }

  private saveOffset(segment: Segment, offset: number): void {
    writeAtomically(this.directory, this.offsetPath(segment), String(offset));
  }

  private offsetPath(segment: Segment): string {
    return join(this.directory, `${segment.key}-${segment.id}.offset`);
  }
}

function toLine({ line, arrived, run }: QueuedLine): string {
  return `${arrived}\t${run ?? ''}\t${line}\n`;
}

/** A spooled line, or undefined for a line damaged on disk. */
function fromLine(text: string): QueuedLine | undefined {
  const first = text.indexOf('\t');
  const second = text.indexOf('\t', first + 1);
  const arrived = Number(text.slice(0, first));
  const run = text.slice(first + 1, second);
  if (first === -1 || second === -1 || !Number.isFinite(arrived) || !/^\d*$/.test(run)) return undefined;
  const line = text.slice(second + 1);
  return run === '' ? { line, arrived } : { line, arrived, run: Number(run) };
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset);
}

/** Writes under a temporary name that no reader lists, then renames: no one sees a half file. */
function writeAtomically(directory: string, path: string, text: string): number {
  mkdirSync(directory, { recursive: true });
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const bytes = Buffer.from(text);
  writeFileSync(temporary, bytes);
  renameSync(temporary, path);
  return bytes.length;
}

let lastKey = 0;
/** Increasing keys: milliseconds, bumped when two segments are made in one millisecond. */
function nextKey(): string {
  lastKey = Math.max(lastKey + 1, Date.now());
  return String(lastKey).padStart(16, '0');
}

function previousKey(key: string): string {
  return String(Number(key) - 1).padStart(16, '0');
}

const leftName = (key: string, id: string) => `left-${key}-${id}.spool`;

/** host.pid.start-time of this process (dots and dashes in the host name made safe). */
function ownerName(): string {
  return `${hostname().replace(/[^A-Za-z0-9]/g, '_')}.${process.pid}.${processStartTime()}`;
}

function parseName(name: string): { key: string; id: string; owner: string | undefined } | undefined {
  const live = /^live-(\d{16})-([\w]+\.\d+\.\d+)-([0-9a-f]+)\.spool$/.exec(name);
  if (live) return { key: live[1] as string, owner: live[2] as string, id: live[3] as string };
  const left = /^left-(\d{16})-([0-9a-f]+)\.spool$/.exec(name);
  if (left) return { key: left[1] as string, owner: undefined, id: left[2] as string };
  return undefined;
}

function byKey(a: string, b: string): number {
  return (parseName(a)?.key ?? a).localeCompare(parseName(b)?.key ?? b);
}

/**
 * Whether the process that owned a live segment has ended: same host, and no process with that pid
 * and start time. Segments of other hosts (a shared directory) are never taken.
 */
function ownerIsGone(owner: string): boolean {
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
