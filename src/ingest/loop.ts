/**
 * Batching and flush timing, and what a failure does: a batch is written when it is full, or
 * flushInterval after its first row, or at once when a flush or the exit asks; a failed write puts
 * its rows back in front, moves memory to the spool, reports, and waits out the retry pace.
 */
import { randomUUID } from 'node:crypto';
import type { ResolvedOptions } from '../options.js';
import type { Writer } from '../write/writer.js';
import type { BatchesAhead } from './ahead.js';
import type { RowBuffer } from './batch.js';
import { BatchInterrupted, type Delivery, type Uncertain } from './delivery.js';
import type { DropLedger } from './drops.js';
import type { QueuedLine } from './enrich.js';
import type { SpoolHandoff } from './handoff.js';
import type { Progress } from './progress.js';
import type { RetryPace } from './retry.js';

const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** What the loop works on, owned by the pipeline. */
interface LoopParts {
  options: ResolvedOptions;
  writer: Writer;
  buffer: RowBuffer;
  spool: SpoolHandoff;
  progress: Progress;
  drops: DropLedger;
  retry: RetryPace;
  ahead: BatchesAhead;
  delivery: Delivery;
  counters: { written: number; retried: number };
  /** Rows done with (committed, or counted as dropped). */
  settle: (count: number) => void;
  /** Reports a database failure (naming the database, never its password). */
  failOnDatabase: (what: string, error: unknown) => void;
  fail: (what: string, error: unknown) => void;
  /** A batch was committed: a failure before it is over. */
  recovered: () => void;
  warn: (text: string) => void;
  /** The message key of the logger, for the rows that record drops. */
  messageKey: () => string;
}

export class WriteLoop {
  /** Set by close(): no more connecting, shorter waits. */
  closing = false;
  /** Set once close() has handed everything unwritten to the spool. */
  left = false;
  /** The batch being written: at the exit deadline its fate is unknown (see unsettled()). */
  private inFlight: QueuedLine[] = [];
  private connectWanted = false;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  /** A batch that failed in a way that may have committed: checked in the ledger before anything else. */
  private uncertain: Uncertain | undefined;

  constructor(private readonly parts: LoopParts) {}

  /** Starts connecting (and allocating the run number) without waiting for the first record. */
  start(): void {
    this.connectWanted = true;
    this.kick();
  }

  /** After a push: writes now if a batch is full, else within flushInterval. */
  pushed(): void {
    const { buffer, spool, options } = this.parts;
    if (buffer.length + spool.rows >= options.batchSize) this.kick();
    else this.armTimer();
  }

  /**
   * At the exit deadline, what of the batch being written is not known to be committed: its lines,
   * the first `uncertain.count` of which are being written under the ledger id `uncertain.id`. They
   * are spooled with that id, so the next start asks the ledger before writing them again.
   */
  unsettled(): { lines: QueuedLine[]; uncertain: Uncertain | undefined } {
    const state = this.parts.delivery.inFlight;
    // Between attempts, a batch whose commit is unknown and that the spool could not take waits at
    // the front of the buffer, which follows these lines.
    const waiting = this.inFlight.length === 0 ? this.uncertain : undefined;
    return { lines: this.inFlight.slice(state?.committed ?? 0), uncertain: state?.writing ?? waiting };
  }

  /** Before the exit: no timer, no new connection. */
  close(): void {
    this.closing = true;
    clearTimeout(this.timer);
  }

  /** Writes whatever is due, unless a write is already under way. */
  kick(): void {
    if (this.writing) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = true;
    this.writeWhileDue()
      .catch((error: unknown) => this.parts.fail('the writer stopped unexpectedly', error))
      .finally(() => {
        this.writing = false;
        if (this.parts.buffer.length + this.parts.spool.rows === 0) return;
        if (this.closing || this.parts.progress.due) this.kick();
        else this.armTimer();
      });
  }

  private armTimer(): void {
    if (this.timer || this.writing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.parts.progress.flushAll();
      this.kick();
    }, this.parts.options.flushInterval);
    this.timer.unref();
  }

  private async writeWhileDue(): Promise<void> {
    const { buffer, spool, options, progress, writer } = this.parts;
    for (;;) {
      const waiting = buffer.length + spool.rows;
      const batchDue = waiting > 0 && (waiting >= options.batchSize || progress.due);
      const connectDue = this.connectWanted && !writer.connected && !this.closing;
      if (!batchDue && !connectDue) return;
      if (batchDue) this.refillFromSpool();
      if (batchDue && this.uncertain && (await this.settleUncertain())) continue;
      if (batchDue) await this.writeNextBatch();
      else await this.connect();
    }
  }

  private async connect(): Promise<void> {
    try {
      await this.parts.writer.connect();
    } catch (error) {
      await this.failed(error, 'cannot reach the database yet; records are kept');
    }
  }

  private async writeNextBatch(): Promise<void> {
    const { buffer, options, delivery, counters, drops } = this.parts;
    const retry = this.uncertain;
    this.uncertain = undefined;
    const batch = buffer.take(retry?.count ?? options.batchSize, retry ? Infinity : MAX_BATCH_BYTES);
    if (batch.length === 0) return; // the spool had only damaged lines: counted, settled
    this.inFlight = batch;
    let committed: number;
    try {
      committed = await delivery.write(batch, retry?.id ?? randomUUID(), () => this.prepareNext());
    } catch (error) {
      this.inFlight = [];
      if (this.left) return; // close() has spooled this batch already
      const interrupted = error instanceof BatchInterrupted ? error : undefined;
      this.uncertain = interrupted?.uncertain;
      this.parts.settle(interrupted?.committed ?? 0);
      buffer.putBack(batch.slice(interrupted?.committed ?? 0));
      counters.retried++;
      await this.failed(interrupted?.cause ?? error, 'writing a batch failed; it will be retried');
      return;
    }
    this.inFlight = [];
    this.parts.recovered();
    // A drop's row goes into the buffer; while a batch of unknown fate waits for an empty buffer, it
    // waits too, or rows for drops could keep the buffer from ever emptying (the spool full meanwhile).
    if (committed > 0 && drops.unrecorded && !this.left && !this.parts.spool.batchWaiting) this.recordDrops();
    this.parts.settle(committed);
  }

  /** Once a batch is on its way, the server works on it while we prepare the next one. */
  private prepareNext(): void {
    setImmediate(() => this.parts.ahead.prepare(this.parts.buffer.peek(this.parts.options.batchSize, MAX_BATCH_BYTES)));
  }

  /**
   * After an ambiguous failure: asks the ledger whether the batch was committed after all. If so,
   * its lines are settled without writing them again (true); if not, they are written again under
   * the same id (false). While the database cannot be asked, waits out the retry pace (true).
   */
  private async settleUncertain(): Promise<boolean> {
    const { id, count } = this.uncertain as Uncertain;
    try {
      if (!(await this.parts.writer.wasCommitted(id))) return false;
    } catch (error) {
      await this.failed(error, 'cannot ask the database whether a failed batch was committed');
      return true;
    }
    const lines = this.parts.buffer.take(count, Infinity);
    this.uncertain = undefined;
    this.parts.counters.written += lines.length;
    this.parts.settle(lines.length);
    return true;
  }

  /**
   * After a failed write or connect: what waits in memory goes to the spool (so a flush that accepts
   * the spool is done), the failure is reported, and the next try waits for the retry pace.
   */
  private async failed(error: unknown, what: string): Promise<void> {
    if (!this.left) this.moveToSpool();
    this.parts.failOnDatabase(what, error);
    await this.parts.retry.wait(error, this.closing);
  }

  /**
   * A flush must not wait for an outage to end: once what memory holds is on disk it is done; if the
   * spool cannot take it (full, or not writable), it is done too, and says what waits in memory only.
   */
  private moveToSpool(): void {
    const { spool, buffer, progress } = this.parts;
    // A batch whose commit is unknown keeps its ledger id on disk, and comes back with it (refill).
    const spilled = spool.spill(buffer, this.uncertain);
    if (spilled) this.uncertain = undefined;
    if (!spilled && progress.waitingOrSpooled) {
      this.parts.warn(
        `${buffer.length} records wait in memory only while the database is away: the spool (${spool.directory}) ` +
          'cannot take them; a flush is answered without them',
      );
    }
    progress.allSpooled();
  }

  /** Records losses as rows, written with the next batch (at the front of memory, past its caps). */
  recordDrops(): void {
    const { buffer, spool, progress, drops } = this.parts;
    for (const row of drops.takeRows(this.parts.messageKey())) {
      if (spool.rows > 0 || !buffer.push(row)) buffer.refill([row]);
      progress.enqueued++;
    }
    progress.flushAll();
  }

  /** Moves the oldest spooled rows into memory when the buffer has room. */
  private refillFromSpool(): void {
    const { buffer, spool, options, progress, drops } = this.parts;
    // Two batches: the one written next, and the one prepared while it is written (ahead.ts); by
    // bytes as well as rows, so that large records never fill memory past its caps.
    const batches = 2 - Math.floor(buffer.length / options.batchSize);
    if (spool.rows === 0 || batches <= 0 || buffer.length > options.maxBufferedRows / 2) return;
    if (buffer.bytes > options.maxBufferedBytes / 2) return;
    const batch = { rows: options.batchSize, bytes: MAX_BATCH_BYTES };
    const { damaged, uncertain } = spool.refill(buffer, batches, batch, progress.settled);
    drops.count('damaged in the spool', damaged);
    this.parts.settle(damaged);
    // Left by an exit that could not wait for its commit: the ledger is asked before it is written.
    this.uncertain ??= uncertain;
  }
}
