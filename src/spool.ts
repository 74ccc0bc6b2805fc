/**
 * Spool: rows that do not fit in memory (the database is away, or slower than the input) go to
 * append-only files on local disk and come back in order when the writer catches up. What is left at
 * exit, or by a process that crashed, is delivered by the next process that uses the same directory.
 *
 * Files, in the spool directory (one per application by default):
 *   live-<key>-<pid>-<id>.spool   a segment owned by a running process (pid): one line per record,
 *                                 `<arrival ms>\t<run number or empty>\t<the line as it arrived>`
 *   left-<key>-<id>.spool         a segment a process left at exit: any process may claim it
 *   <key>-<id>.offset             bytes of that segment already delivered (written after each commit)
 * <key> orders segments: rows are replayed oldest segment first. A claim is an atomic rename.
 */
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
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { QueuedLine } from './enrich.js';

/** How far take() reached; confirmed with delivered() once those rows are committed. */
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
  /** Bytes written so far (for our own live segment) or the file's size. */
  size: number;
  rows: number;
  /** Whether this process still appends to it. */
  appending: boolean;
}

const WRITE_BATCH_BYTES = 256 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;

export class Spool {
  private readonly segments: Segment[] = [];
  private pending: string[] = [];
  private pendingBytes = 0;
  private pendingRows = 0;
  private appendFd: number | undefined;
  private readFd: { segment: Segment; fd: number } | undefined;
  private carry = '';

  constructor(
    private readonly directory: string,
    private readonly maxBytes: number,
  ) {}

  /** Rows waiting on disk (or about to be written there). */
  get rows(): number {
    return this.pendingRows + this.segments.reduce((sum, segment) => sum + segment.rows, 0);
  }

  get bytes(): number {
    return this.pendingBytes + this.segments.reduce((sum, segment) => sum + segment.size - segment.readOffset, 0);
  }

  /** Claims segments left by processes that ended; returns how many rows they hold. */
  claimLeftovers(): number {
    if (!existsSync(this.directory)) return 0;
    let claimed = 0;
    for (const name of readdirSync(this.directory).sort(byKey)) {
      const parsed = parseName(name);
      if (!parsed || (parsed.pid !== undefined && (parsed.pid === process.pid || isAlive(parsed.pid)))) continue;
      const path = join(this.directory, liveName(parsed.key, parsed.id));
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

  /** Queues a row for the disk; false when the spool is at its size cap (the caller counts the drop). */
  append(item: QueuedLine): boolean {
    const line = toLine(item);
    if (this.bytes + line.length > this.maxBytes) return false;
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.pendingRows++;
    if (this.pendingBytes >= WRITE_BATCH_BYTES) this.writePending();
    return true;
  }

  /** Writes queued rows to the live segment (synchronously: this also runs at exit). */
  writePending(): void {
    if (this.pending.length === 0) return;
    const segment = this.appendSegment();
    const text = this.pending.join('');
    const bytes = Buffer.byteLength(text);
    writeSync(this.appendFd as number, text);
    segment.size += bytes;
    segment.rows += this.pendingRows;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingRows = 0;
  }

  /**
   * Takes up to `max` of the oldest rows. `mark` says how far they reach; pass it to delivered() once
   * they are committed, so a crash after that point does not deliver them twice.
   */
  take(max: number): { rows: QueuedLine[]; mark: SpoolMark | undefined } {
    this.writePending();
    const taken: QueuedLine[] = [];
    let mark: SpoolMark | undefined;
    while (taken.length < max) {
      const segment = this.segments[0];
      if (!segment) break;
      if (segment.readOffset >= segment.size) {
        if (segment.appending) break;
        this.finish(segment);
        continue;
      }
      const fd = this.readerOf(segment);
      const remaining = segment.size - segment.readOffset;
      let text = '';
      // Read enough to hold at least one whole line, however long the line is.
      for (let size = Math.min(READ_CHUNK_BYTES, remaining); ; size = Math.min(size * 2, remaining)) {
        const chunk = Buffer.allocUnsafe(size);
        text = chunk.toString('utf8', 0, readSync(fd, chunk, 0, size, segment.readOffset));
        if (text.includes('\n') || size === remaining) break;
      }
      let start = 0;
      let newline = text.indexOf('\n');
      if (newline === -1) {
        // A torn last line: its writer crashed mid-write, so it never held a whole row.
        if (segment.appending) break;
        this.finish(segment);
        continue;
      }
      while (newline !== -1 && taken.length < max) {
        const line = text.slice(start, newline);
        const item = fromLine(line);
        if (item) taken.push(item);
        segment.readOffset += Buffer.byteLength(line) + 1;
        segment.rows--;
        start = newline + 1;
        newline = text.indexOf('\n', start);
      }
      mark = { segment, offset: segment.readOffset };
    }
    return { rows: taken, mark };
  }

  /** Records that everything up to the mark is committed. */
  delivered(mark: SpoolMark): void {
    const { segment, offset } = mark;
    if (!this.segments.includes(segment)) return;
    if (offset < segment.size || (segment.appending && this.pendingRows > 0)) {
      writeFileSync(this.offsetPath(segment), String(offset));
      return;
    }
    if (segment.appending && this.appendFd !== undefined) {
      // Our own segment is fully delivered: start a fresh one at the next append.
      closeSync(this.appendFd);
      this.appendFd = undefined;
      segment.appending = false;
    }
    this.finish(segment);
  }

  /**
   * At exit: writes `rows` (taken earlier, not yet committed, so the oldest of all) to a segment
   * ahead of the others, and leaves every segment for the next process.
   */
  leave(unwritten: QueuedLine[]): void {
    this.writePending();
    if (unwritten.length > 0) {
      const first = this.segments[0];
      const key = first ? previousKey(first.key) : nextKey();
      const id = randomBytes(6).toString('hex');
      writeFileSync(join(this.directory, leftName(key, id)), unwritten.map(toLine).join(''));
    }
    this.closeFiles();
    for (const segment of this.segments.splice(0)) {
      if (segment.readOffset >= segment.size) {
        this.remove(segment);
        continue;
      }
      writeFileSync(this.offsetPath(segment), String(segment.readOffset));
      renameSync(segment.path, join(this.directory, leftName(segment.key, segment.id)));
    }
  }

  private appendSegment(): Segment {
    const last = this.segments[this.segments.length - 1];
    if (last?.appending && this.appendFd !== undefined) return last;
    mkdirSync(this.directory, { recursive: true });
    const key = nextKey();
    const id = randomBytes(6).toString('hex');
    const path = join(this.directory, liveName(key, id));
    this.appendFd = openSync(path, 'a');
    const segment: Segment = { key, id, path, readOffset: 0, size: 0, rows: 0, appending: true };
    this.segments.push(segment);
    return segment;
  }

  private openExisting(key: string, id: string, path: string): Segment {
    const offsetFile = join(this.directory, `${key}-${id}.offset`);
    const readOffset = existsSync(offsetFile) ? Number(readFileSync(offsetFile, 'utf8')) || 0 : 0;
    const content = readFileSync(path);
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
    if (this.appendFd !== undefined) closeSync(this.appendFd);
    this.appendFd = undefined;
    for (const segment of this.segments) segment.appending = false;
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
  if (first === -1 || second === -1 || !Number.isFinite(arrived)) return undefined;
  return run === ''
    ? { line: text.slice(second + 1), arrived }
    : { line: text.slice(second + 1), arrived, run: Number(run) };
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

const liveName = (key: string, id: string) => `live-${key}-${process.pid}-${id}.spool`;
const leftName = (key: string, id: string) => `left-${key}-${id}.spool`;

function parseName(name: string): { key: string; id: string; pid: number | undefined } | undefined {
  const live = /^live-(\d{16})-(\d+)-([0-9a-f]+)\.spool$/.exec(name);
  if (live) return { key: live[1] as string, pid: Number(live[2]), id: live[3] as string };
  const left = /^left-(\d{16})-([0-9a-f]+)\.spool$/.exec(name);
  if (left) return { key: left[1] as string, pid: undefined, id: left[2] as string };
  return undefined;
}

function byKey(a: string, b: string): number {
  return (parseName(a)?.key ?? a).localeCompare(parseName(b)?.key ?? b);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
