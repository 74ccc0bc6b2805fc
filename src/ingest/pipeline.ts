/**
 * The core, shared by the transport worker and the pipe-mode CLI:
 *
 *   line ─▶ RowBuffer (batch.ts) ─▶ parse + enrich (enrich.ts) ─▶ Delivery: one COPY per batch ─▶ PostgreSQL
 *              │  ▲                   (the next batch prepared meanwhile: ahead.ts)
 *              ▼  │ memory full, or a failed write (handoff.ts)
 *            disk spool (spool.ts)
 *
 * push() never throws and never waits: the caller keeps reading, so Pino never has to buffer in the
 * application's main thread. A batch is written when it is full or flushInterval after its first
 * row, whichever comes first. A failed batch goes back to the front of the buffer and is retried at
 * the pace of retry.ts; nothing is dropped except past the caps, and that is counted and reported
 * (drops.ts).
 */
import { errorText } from '../errors.js';
import { runIdentity } from '../identity.js';
import type { ResolvedOptions } from '../options.js';
import type { Reporter } from '../report.js';
import { tableNameOf } from '../write/ddl.js';
import { Writer } from '../write/writer.js';
import { BatchesAhead } from './ahead.js';
import { RowBuffer } from './batch.js';
import { Congestion } from './congestion.js';
import { flushWithin, withDeadline } from './deadline.js';
import { Delivery } from './delivery.js';
import { DropLedger, shedsFromSpool } from './drops.js';
import {
  createRowBuilder,
  rowContext,
  textRow,
  type LoggerConfig,
  type LogRow,
  type QueuedLine,
  type RowBuilder,
  type RowContext,
} from './enrich.js';
import { SpoolHandoff } from './handoff.js';
import { WriteLoop } from './loop.js';
import { Progress } from './progress.js';
import { RetryPace } from './retry.js';
import type { CloseResult, PipelineStats } from './stats.js';
import { withinMaxBytes } from './truncate.js';

export type { LoggerConfig } from './enrich.js';
export type { CloseResult, PipelineStats } from './stats.js';

export class Pipeline {
  private readonly buffer: RowBuffer;
  private readonly writer: Writer;
  private readonly spool: SpoolHandoff;
  private readonly drops = new DropLedger();
  private readonly retry = new RetryPace();
  private readonly progress = new Progress();
  private readonly loop: WriteLoop;
  private readonly congestion: Congestion;
  private readonly ahead: BatchesAhead;
  private readonly counters = { received: 0, written: 0, retried: 0, spooled: 0, sanitised: 0, truncated: 0 };
  private context: RowContext;
  private buildRow: RowBuilder;
  private lastError: string | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly reporter: Reporter,
  ) {
    this.context = rowContext(options, {});
    this.buildRow = createRowBuilder(this.context);
    this.buffer = new RowBuffer(options.maxBufferedRows, options.maxBufferedBytes);
    this.writer = new Writer({
      connection: options.connection,
      table: tableNameOf(options),
      createTable: options.createTable,
      run: runIdentity(options),
      timezone: options.timezone,
      onConnectionError: (error) => this.failOnDatabase('the database connection failed', error),
    });
    const lose = (lines: number, what: string, error: unknown) => this.lose(lines, what, error);
    this.spool = new SpoolHandoff(options, reporter, lose, () => this.writer.runNumber);
    this.congestion = new Congestion(options, this.buffer, this.spool, () => this.retry.failures > 0);
    this.ahead = new BatchesAhead(this.writer, (queued) => this.toRow(queued));
    this.loop = new WriteLoop({
      options,
      writer: this.writer,
      buffer: this.buffer,
      spool: this.spool,
      progress: this.progress,
      drops: this.drops,
      retry: this.retry,
      counters: this.counters,
      ahead: this.ahead,
      delivery: new Delivery(this.writer, this.ahead, this.counters, this.drops, reporter),
      settle: (count) => this.settle(count),
      failOnDatabase: (what, error) => this.failOnDatabase(what, error),
      fail: (what, error) => this.fail(what, error),
      recovered: () => this.recovered(),
      warn: (text) => this.reporter.warn(text),
      messageKey: () => this.context.messageKey,
    });
  }

  /** Adopts the logger's own levels, messageKey and errorKey (options given explicitly still win). */
  configure(config: LoggerConfig): void {
    this.context = rowContext(this.options, config);
    this.buildRow = createRowBuilder(this.context);
    this.ahead.drop(); // parsed with the old settings
  }

  /**
   * Starts connecting (and allocating the run number) without waiting for the first record, and
   * takes over what earlier processes left in the spool: those rows are written first.
   */
  start(): void {
    const claimed = this.spool.claimLeftovers();
    if (claimed > 0) {
      this.progress.enqueued += claimed;
      this.progress.flushAll();
      this.reporter.info(`delivering ${claimed} records left in the spool (${this.spool.directory}) by an earlier run`);
    }
    this.loop.start();
  }

  /**
   * Takes one line of log output. Never throws, never waits. `wholeBytes`: the size of the line as
   * it was written, when the reader kept only its start (pipe mode), for the truncation marker.
   */
  push(text: string, wholeBytes?: number): void {
    if (text === '') return;
    this.counters.received++;
    const row: QueuedLine = { line: this.withinMaxSize(text, wholeBytes), arrived: Date.now() };
    // Once rows are on disk, newer rows follow them there, so that order is kept.
    if ((this.spool.rows > 0 || !this.buffer.push(row)) && !this.toSpool(row)) return;
    this.progress.enqueued++;
    this.loop.pushed();
  }

  private toSpool(row: QueuedLine): boolean {
    const shed = shedsFromSpool(row.line, this.spool.bytes, this.options.maxSpoolBytes);
    if (!shed && this.spool.append(row)) {
      this.counters.spooled++;
      return true;
    }
    const reason = shed ? 'spool nearly full: DEBUG and INFO shed first' : 'spool full';
    this.drops.count(reason);
    const where = `${this.options.maxSpoolBytes} bytes in ${this.spool.directory}`;
    this.reporter.warn(`${reason} (${where}): records are being dropped`);
    return false;
  }

  private withinMaxSize(text: string, wholeBytes?: number): string {
    const { line, cutFrom } = withinMaxBytes(text, this.options.maxRecordBytes, wholeBytes);
    if (cutFrom === undefined) return line;
    this.counters.truncated++;
    this.reporter.warn(`a record of ${cutFrom} bytes was stored truncated to ${this.options.maxRecordBytes} bytes`);
    return line;
  }

  /** See congestion.ts: whether a reader that can wait should. */
  get congested(): boolean {
    return this.congestion.congested;
  }

  drained(): Promise<void> {
    return this.congestion.drained();
  }

  /**
   * Resolves once every row pushed before the call is committed (or counted as dropped); with
   * `orSpooled`, also once writing has failed and they are all safely in the spool on disk.
   */
  flush({ orSpooled = false } = {}): Promise<void> {
    const done = this.progress.waitForAll(orSpooled);
    this.retry.wake();
    this.loop.kick();
    return done;
  }

  /**
   * Writes what is buffered, waiting at most `deadlineMs` (less when the database is already known
   * to be unreachable), or, while `whileProgressing()` says so, until no batch has been committed for
   * `deadlineMs`; what is left then goes to the spool for the next start, synchronously.
   */
  async close(deadlineMs: number, { whileProgressing = (): boolean => false } = {}): Promise<CloseResult> {
    this.loop.close();
    const delivered = await this.flushWithin(deadlineMs, whileProgressing);
    const inFlight = this.loop.unsettled();
    const undelivered = inFlight.lines.length + this.buffer.length + this.spool.rows;
    this.leaveInSpool(undelivered, inFlight);
    const end = { clean: undelivered === 0 && delivered, counters: this.stats };
    await withDeadline(this.writer.close(end), 1_000, undefined);
    return { undelivered, stats: this.stats };
  }

  /** Writing can add rows (the report of a drop), so this flushes until nothing is left. */
  private flushWithin(deadlineMs: number, whileProgressing: () => boolean): Promise<boolean> {
    const flushAll = async (): Promise<void> => {
      while (!this.progress.done) await this.flush();
    };
    const unreachable = () => !this.writer.connected && this.retry.failures > 0;
    const progressing = { settled: () => this.progress.settled, extends: whileProgressing };
    return flushWithin(flushAll, deadlineMs, unreachable, progressing);
  }

  /** Hands everything unwritten to the spool (and removes spool files that are fully delivered). */
  private leaveInSpool(undelivered: number, inFlight: ReturnType<WriteLoop['unsettled']>): void {
    try {
      // A loss not yet recorded where the logs are goes to the spool as its row, for the next start.
      if (this.drops.unrecorded) this.loop.recordDrops();
      this.loop.left = true;
      const droppedBefore = this.drops.total;
      this.spool.leave([...inFlight.lines, ...this.buffer.drain()], inFlight.uncertain);
      // Those the spool could not keep are counted, and reported, as dropped.
      const kept = undelivered - (this.drops.total - droppedBefore);
      if (kept <= 0) return;
      this.reporter.error(
        `${kept} records were not delivered to the database before the exit deadline; ` +
          `they are in the spool (${this.spool.directory}) and will be delivered at the next start`,
      );
    } catch (error) {
      this.reporter.error(`${undelivered} records were not delivered and could not be spooled: ${errorText(error)}`);
    }
  }

  get stats(): PipelineStats {
    return {
      ...this.counters,
      dropped: this.drops.total,
      buffered: this.buffer.length + this.spool.rows,
      spoolBytes: this.spool.bytes,
      runNumber: this.writer.runNumber,
      lastError: this.lastError,
    };
  }

  /** Counts rows as done (written, or dropped as unwritable) and wakes whoever waits for them. */
  private settle(count: number): void {
    if (count === 0) return;
    this.progress.settle(count);
    this.spool.confirm(this.progress.settled);
    this.congestion.settled();
  }

  /** Lines the spool lost (it could not write them): counted as dropped, and settled. */
  private lose(lines: number, what: string, error: unknown): void {
    this.drops.count('spool failure', lines);
    this.fail(`${lines} records ${what}`, error);
    this.settle(lines);
  }

  /** Parse and enrich; an enrichment bug must not cost the record, which is then kept as text. */
  private toRow(queued: QueuedLine): LogRow {
    try {
      return this.buildRow(queued);
    } catch (error) {
      this.fail('a record could not be enriched; stored as text', error);
      return textRow(queued.line, this.context.staticTags.join(','), queued.arrived, queued.run);
    }
  }

  private recovered(): void {
    if (this.retry.failures === 0 && this.lastError === undefined) return;
    if (this.lastError !== undefined)
      this.reporter.info(`writing to the database again (run ${this.writer.runNumber})`);
    this.retry.succeeded();
    this.lastError = undefined;
  }

  /** Database errors name the database (never its password), so a wrong target is obvious. */
  private failOnDatabase(what: string, error: unknown): void {
    this.fail(`${what}: ${errorText(error)}; database ${this.options.connection.description}`, error, false);
    this.congestion.release();
  }

  private fail(what: string, error: unknown, appendError = true): void {
    this.lastError = errorText(error);
    this.reporter.error(appendError ? `${what}: ${this.lastError}` : what);
  }
}

export function createPipeline(options: ResolvedOptions, reporter: Reporter): Pipeline {
  return new Pipeline(options, reporter);
}
