/**
 * Spool: lines that cannot wait in memory (the database is away, or slower than the input) go to
 * append-only files on local disk and come back in order when the writer catches up. What is left at
 * exit, or by a process that crashed, is delivered by the next process that uses the same directory.
 *
 * Files, in the spool directory (one per application and target by default):
 *   live-<key>-<owner>-<id>.spool  a segment of a running process: one line per record,
 *                                  `<arrival ms>\t<run number or empty>\t<the line as it arrived>`
 *   left-<key>-<id>.spool          a segment a process left at exit: any process may claim it
 * An <id> of 32 hex digits is the ledger id of a batch whose commit is unknown (it was being written
 * at the exit, or failed ambiguously): its lines are taken back alone, and the ledger asked first.
 *   <key>-<id>.offset              bytes of that segment already delivered (written after each commit)
 * <owner> is host.pid.start-time, so a restarted container that reuses a pid still claims what its
 * predecessor left. <key> orders segments: oldest first. Every file appears by an atomic rename.
 * The spool never throws: a failure to write loses the lines concerned, and says so through onLoss.
 *
 * Each line is on disk in one place only. Lines handed out by take() stay in their segment until
 * delivered() confirms them; when the caller moves them elsewhere instead (spillFront, leave), the
 * segment's confirmed offset moves past them in the same step. The byte count is the size of the
 * files, as du sees it, and segments are rotated so that delivered ones can be removed.
 *
 * Logs carry secrets: the directory is 0700, files 0600, and segments another user owns are refused.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Uncertain } from './delivery.js';
import type { QueuedLine } from './enrich.js';
import { claimLeftovers } from './spool-claim.js';
import {
  removeSegmentFiles,
  saveOffset,
  segmentBytes,
  SegmentReader,
  type Segment,
  type SpoolMark,
  type TakeLimit,
  type Taken,
} from './segment.js';
export type { SpoolMark, Taken } from './segment.js';
import {
  leftName,
  liveName,
  makePrivateDirectory,
  nextKey,
  ownerName,
  PRIVATE_FILE,
  previousKey,
  toLine,
  writeAll,
  frontParts,
  lineBytes,
  writeParts,
  type FrontPart,
  type SpoolWarning,
} from './spool-files.js';

export type SpoolLoss = (lines: number, what: string, error: unknown) => void;
export type { SpoolWarning } from './spool-files.js';

const WRITE_BATCH_BYTES = 256 * 1024;

export class Spool {
  private readonly segments: Segment[] = [];
  private pending: string[] = [];
  private pendingBytes = 0;
  private pendingRows = 0;
  private appendFd: number | undefined;
  private readonly reader = new SegmentReader();
  private readonly owner = ownerName();

  private readonly maxSegmentBytes: number;

  constructor(
    private readonly directory: string,
    private readonly maxBytes: number,
    private readonly onLoss: SpoolLoss,
    private readonly onWarning: SpoolWarning,
  ) {
    this.maxSegmentBytes = segmentBytes(maxBytes);
  }

  /** Lines waiting on disk (or about to be written there) that take() has not handed out. */
  get rows(): number {
    return this.pendingRows + this.segments.reduce((sum, segment) => sum + segment.rows, 0);
  }

  /** Whether the next lines to take are a batch whose commit is unknown (taken only into an empty buffer). */
  get batchWaiting(): boolean {
    return this.segments.find((segment) => segment.readOffset < segment.size)?.batchId !== undefined;
  }

  /** Bytes the spool's files take on disk, with what is about to be written. */
  get bytes(): number {
    return this.pendingBytes + this.segments.reduce((sum, segment) => sum + segment.size, 0);
  }

  /** Claims segments left by processes that have ended; returns how many lines they hold. */
  claimLeftovers(): number {
    const claimed = claimLeftovers(this.directory, this.owner, this.onWarning);
    for (const segment of claimed) this.insertInOrder(segment);
    return claimed.reduce((sum, segment) => sum + segment.rows, 0);
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
   * so that what waited in memory survives a crash. `lines` must hold every line take() handed out
   * that is not yet delivered (the caller's whole buffer): those are moved, not copied, so their old
   * segments are confirmed past them. Returns false, changing nothing, when they could not be
   * written or would take the spool past its size cap: then they stay in the caller's memory.
   */
  spillFront(lines: QueuedLine[], uncertain: Uncertain | undefined): boolean {
    if (lines.length === 0) return true;
    const parts = frontParts(this.frontName(), lines, uncertain);
    const bytes = lines.reduce((sum, line) => sum + lineBytes(line), 0);
    if (this.bytes - this.bytesFreedByMoving() + bytes > this.maxBytes) return false;
    let sizes: number[];
    try {
      sizes = writeParts(this.directory, parts, (part) => this.liveName(part.key, part.id));
    } catch {
      return false;
    }
    this.segments.unshift(...parts.map((part, index) => this.writtenSegment(part, sizes[index] as number)));
    this.confirmHandedOut();
    return true;
  }

  /** A live segment that writeParts() has just written. */
  private writtenSegment({ key, id, lines, batchId }: FrontPart, size: number): Segment {
    const path = join(this.directory, this.liveName(key, id));
    const segment: Segment = { key, id, path, readOffset: 0, confirmed: 0, size, rows: lines.length, appending: false };
    if (batchId !== undefined) segment.batchId = batchId;
    return segment;
  }

  /** Bytes of the segments that confirmHandedOut() would remove. */
  private bytesFreedByMoving(): number {
    return this.segments
      .filter((segment) => !segment.appending && segment.readOffset >= segment.size)
      .reduce((sum, segment) => sum + segment.size, 0);
  }

  /** Lines handed out have been moved elsewhere: their segments skip them from now on. */
  private confirmHandedOut(): void {
    for (const segment of [...this.segments]) {
      if (segment.readOffset <= segment.confirmed) continue;
      try {
        this.confirm(segment, segment.readOffset);
      } catch (error) {
        // The lines are in memory and in the new segment: only a crash before the next confirmation
        // could deliver them twice. Say so, and go on.
        this.onWarning(`could not record the delivered part of ${segment.path}: ${String(error)}`);
      }
    }
  }

  /**
   * Takes up to `max` of the oldest lines. `mark` says how far they reach: pass it to delivered()
   * once they are committed. `damaged` counts lines found unreadable on disk (and skipped).
   */
  take(limit: TakeLimit, atFront: boolean): Taken {
    this.writePending();
    const unreadable = (segment: Segment, error: unknown) => {
      this.onLoss(segment.rows, `were in a spool file that could not be read (${segment.path})`, error);
      this.finish(segment);
    };
    const { rows, last, damaged, uncertain } = this.reader.take([...this.segments], limit, unreadable, atFront);
    const taken = { rows, mark: last && { segment: last, offset: last.readOffset }, damaged };
    return uncertain && uncertain.count > 0 ? { ...taken, uncertain } : taken;
  }

  /** Records that everything up to the mark is committed; removes segments that are done. */
  delivered(mark: SpoolMark): void {
    // take() reached the mark's segment only after reading every segment before it to its end.
    for (const segment of this.segments.slice(0, this.segments.indexOf(mark.segment))) {
      if (segment.readOffset >= segment.size) this.confirm(segment, segment.size);
    }
    if (this.segments.includes(mark.segment)) this.confirm(mark.segment, mark.offset);
  }

  /** Moves a segment's confirmed offset; a segment confirmed to its end is removed. */
  private confirm(segment: Segment, offset: number): void {
    segment.confirmed = Math.max(segment.confirmed, offset);
    if (segment.confirmed < segment.size || (segment.appending && this.pendingRows > 0)) {
      saveOffset(this.directory, segment, segment.confirmed);
      return;
    }
    if (segment.appending) this.stopAppending(); // fully delivered: the next append starts a new segment
    this.finish(segment);
  }

  /**
   * At exit: writes `unwritten` (lines taken earlier and not committed, so the oldest of all) ahead
   * of the other segments, and leaves every segment for the next process. The lines of `unwritten`
   * that came from a segment are moved with the rest, so that segment skips them from then on.
   */
  leave(unwritten: QueuedLine[], uncertain: Uncertain | undefined): void {
    this.writePending();
    const moved = unwritten.length === 0 || this.writeLeftSegments(unwritten, uncertain);
    this.closeFiles();
    for (const segment of this.segments.splice(0)) {
      const skip = moved ? segment.readOffset : segment.confirmed;
      if (skip >= segment.size) {
        removeSegmentFiles(this.directory, segment);
        continue;
      }
      try {
        saveOffset(this.directory, segment, skip);
        renameSync(segment.path, join(this.directory, leftName(segment.key, segment.id)));
      } catch (error) {
        // Still there under its live name: the next start claims it once this process is gone.
        this.onLoss(0, `could not be handed over in ${this.directory}`, error);
      }
    }
  }

  /** Writes the unwritten lines ahead of every segment, as left segments (frontParts); false if it could not. */
  private writeLeftSegments(unwritten: QueuedLine[], uncertain: Uncertain | undefined): boolean {
    try {
      writeParts(this.directory, frontParts(this.frontName(), unwritten, uncertain), (part) =>
        leftName(part.key, part.id),
      );
      return true;
    } catch (error) {
      const fromMemory = unwritten.length; // those from a segment stay there; the count is an upper bound
      this.onLoss(fromMemory, `could not be written to the spool in ${this.directory} at exit`, error);
      return false;
    }
  }

  /** A key and id for a new segment that sorts before every other (its lines are the oldest). */
  private frontName(): { key: string; id: string } {
    const first = this.segments[0];
    return { key: first ? previousKey(first.key) : nextKey(), id: randomBytes(6).toString('hex') };
  }

  private liveName(key: string, id: string): string {
    return liveName(key, this.owner, id);
  }

  private appendSegment(): Segment {
    const last = this.segments[this.segments.length - 1];
    if (last?.appending && this.appendFd !== undefined) {
      if (last.size < this.maxSegmentBytes) return last;
      this.stopAppending();
    }
    makePrivateDirectory(this.directory, this.onWarning);
    const key = nextKey();
    const id = randomBytes(6).toString('hex');
    const path = join(this.directory, this.liveName(key, id));
    this.appendFd = openSync(path, 'a', PRIVATE_FILE);
    const segment: Segment = { key, id, path, readOffset: 0, confirmed: 0, size: 0, rows: 0, appending: true };
    this.segments.push(segment);
    return segment;
  }

  private stopAppending(): void {
    if (this.appendFd !== undefined) closeSync(this.appendFd);
    this.appendFd = undefined;
    for (const segment of this.segments) segment.appending = false;
  }

  private insertInOrder(segment: Segment): void {
    const at = this.segments.findIndex((other) => other.key > segment.key);
    if (at === -1) this.segments.push(segment);
    else this.segments.splice(at, 0, segment);
  }

  private finish(segment: Segment): void {
    this.reader.forget(segment);
    this.segments.splice(this.segments.indexOf(segment), 1);
    removeSegmentFiles(this.directory, segment);
  }

  private closeFiles(): void {
    this.reader.forget();
    this.stopAppending();
  }
}
