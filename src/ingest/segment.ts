/**
 * A spool segment: one file of spooled lines, and how far this process has read, handed out and
 * confirmed it. Reading hands out whole lines only, however long a line is.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { QueuedLine } from './enrich.js';
import type { Uncertain } from './delivery.js';
import { batchIdOf, fromLine, writeAtomically } from './spool-files.js';

export interface Segment {
  key: string;
  id: string;
  path: string;
  /** Bytes already handed out by take(). */
  readOffset: number;
  /** Bytes delivered, or moved to another segment: what the next process skips (the .offset file). */
  confirmed: number;
  /** Bytes in the file. */
  size: number;
  /** Lines not yet handed out. */
  rows: number;
  /** Whether this process still appends to it. */
  appending: boolean;
  /** The ledger id of the batch it holds, when an exit left it with its commit unknown. */
  batchId?: string;
}

const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * A segment stops taking appends past this size, so that once delivered it can be removed: a file
 * is only removed whole, and du counts all of it until then.
 */
export function segmentBytes(maxSpoolBytes: number): number {
  return Math.min(32 * 1024 * 1024, Math.max(64 * 1024, Math.floor(maxSpoolBytes / 8)));
}

/** How far take() reached; confirmed with delivered() once those lines are committed. */
export interface SpoolMark {
  segment: Segment;
  offset: number;
}

/** What take() handed out; `uncertain` when it is a batch an exit left with its commit unknown. */
export interface Taken {
  rows: QueuedLine[];
  mark: SpoolMark | undefined;
  damaged: number;
  uncertain?: Uncertain;
}

/** How much one take() may hand out. */
export interface TakeLimit {
  rows: number;
  bytes: number;
}

/** Lines handed out so far by one take(), and their bytes on disk. */
interface HandedOut {
  rows: QueuedLine[];
  bytes: number;
}

/** Beside each segment: the bytes of it already delivered (written after each commit). */
function offsetPath(directory: string, segment: Pick<Segment, 'key' | 'id'>): string {
  return join(directory, `${segment.key}-${segment.id}.offset`);
}

/** Records how far a segment is delivered, atomically, for the process that takes it over. */
export function saveOffset(directory: string, segment: Segment, offset: number): void {
  writeAtomically(directory, offsetPath(directory, segment), String(offset));
}

/** Removes a segment's file and its offset file, whichever of them exist. */
export function removeSegmentFiles(directory: string, segment: Segment): void {
  for (const path of [segment.path, offsetPath(directory, segment)]) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}

/** A segment another process left, from the offset it had confirmed. */
export function openSegment(directory: string, key: string, id: string, path: string): Segment {
  const offsetFile = offsetPath(directory, { key, id });
  const saved = existsSync(offsetFile) ? Number(readFileSync(offsetFile, 'utf8')) : 0;
  const content = readFileSync(path);
  const readOffset = Number.isInteger(saved) && saved >= 0 && saved <= content.length ? saved : 0;
  let rows = 0;
  for (let index = content.indexOf(10, readOffset); index !== -1; index = content.indexOf(10, index + 1)) rows++;
  const size = statSync(path).size;
  const segment: Segment = { key, id, path, readOffset, confirmed: readOffset, size, rows, appending: false };
  const batchId = batchIdOf(id);
  return batchId === undefined ? segment : { ...segment, batchId };
}

/** Reads segments in turn, keeping the file of the one being read open. */
export class SegmentReader {
  private open: { segment: Segment; fd: number } | undefined;

  /**
   * Hands out up to `limit.rows` lines, and about `limit.bytes` (at least one line), from the
   * segments, in order, moving their read offsets. A segment that cannot be read is passed to
   * `unreadable` (its lines are lost) and skipped. `damaged` counts lines found broken on disk.
   *
   * A batch segment is handed out whole and alone, and only `atFront` (nothing is ahead of it in
   * memory), as `uncertain`: the caller asks the ledger about exactly those lines before writing them.
   */
  take(
    segments: readonly Segment[],
    limit: TakeLimit,
    unreadable: (segment: Segment, error: unknown) => void,
    atFront: boolean,
  ): { rows: QueuedLine[]; last: Segment | undefined; damaged: number; uncertain?: Uncertain } {
    const taken: HandedOut = { rows: [], bytes: 0 };
    let last: Segment | undefined;
    let damaged = 0;
    const limitReached = () => taken.rows.length >= limit.rows || taken.bytes >= limit.bytes;
    for (const segment of segments) {
      const batchId = segment.readOffset < segment.size ? segment.batchId : undefined;
      if (batchId !== undefined && (!atFront || taken.rows.length > 0)) break;
      const full = batchId === undefined ? limitReached : () => false; // a batch is taken whole
      while (!full() && segment.readOffset < segment.size) {
        let text: string | undefined;
        try {
          text = this.wholeLines(segment);
        } catch (error) {
          unreadable(segment, error);
          break;
        }
        if (text === undefined) break;
        damaged += this.handOut(segment, text, taken, full);
        last = segment;
      }
      if (batchId !== undefined)
        return { rows: taken.rows, last, damaged, uncertain: { id: batchId, count: taken.rows.length } };
      if (limitReached()) break;
    }
    return { rows: taken.rows, last, damaged };
  }

  /** Stops reading a segment (it is done with, or removed). */
  forget(segment?: Segment): void {
    if (!this.open || (segment && this.open.segment !== segment)) return;
    closeSync(this.open.fd);
    this.open = undefined;
  }

  /** Moves the lines of `text` into `rows` up to `max`; returns how many were damaged. */
  private handOut(segment: Segment, text: string, taken: HandedOut, full: () => boolean): number {
    let damaged = 0;
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1 && !full(); newline = text.indexOf('\n', start)) {
      const line = text.slice(start, newline);
      const item = fromLine(line);
      if (item) taken.rows.push(item);
      else damaged++;
      const bytes = Buffer.byteLength(line) + 1;
      taken.bytes += bytes;
      segment.readOffset += bytes;
      segment.rows--;
      start = newline + 1;
    }
    return damaged;
  }

  /** The next whole lines of a segment (however long a line is), or undefined at a torn end. */
  private wholeLines(segment: Segment): string | undefined {
    const fd = this.fileOf(segment);
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

  private fileOf(segment: Segment): number {
    if (this.open?.segment !== segment) {
      this.forget();
      this.open = { segment, fd: openSync(segment.path, 'r') };
    }
    return this.open.fd;
  }
}
