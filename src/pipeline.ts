/**
 * The core, shared by the transport worker and the pipe-mode CLI:
 *
 *   line ─▶ parse + enrich (enrich.ts) ─▶ RowBuffer (batch.ts) ─▶ Writer: one COPY per batch ─▶ PostgreSQL
 *
 * push() never throws and never waits: the caller keeps reading, so Pino never has to buffer in the
 * application's main thread. A batch is written when it is full or flushInterval after its first
 * row, whichever comes first. A failed batch goes back to the front of the buffer and is retried
 * with capped exponential backoff; nothing is dropped except past the buffer's caps, and that is
 * counted and reported.
 */
import { RowBuffer } from './batch.js';
import { createRowBuilder, textRow, type LogRow } from './enrich.js';
import { errorText } from './errors.js';
import { machineName, outwardIpv4, processRunKey } from './identity.js';
import { createLevelNamer } from './levels.js';
import type { ResolvedOptions } from './options.js';
import type { Reporter } from './report.js';
import { Writer } from './write/writer.js';

/** What Pino tells its transports about the logger (pino-abstract-transport's expectPinoConfig). */
export interface LoggerConfig {
  levels?: { values?: Record<string, number> } | Record<string, number>;
  messageKey?: string;
  errorKey?: string;
}

export interface PipelineStats {
  received: number;
  written: number;
  /** Batches that failed and were tried again. */
  retried: number;
  dropped: number;
  buffered: number;
  runNumber: number | undefined;
  lastError: string | undefined;
}

export interface CloseResult {
  /** Rows that could not be written before the deadline. */
  undelivered: number;
  stats: PipelineStats;
}

const MAX_BATCH_BYTES = 8 * 1024 * 1024;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

export class Pipeline {
  private readonly buffer: RowBuffer;
  private readonly writer: Writer;
  private buildRow: (line: string) => LogRow;
  private readonly staticTags: string;
  private enqueued = 0;
  private settled = 0;
  private flushTarget = 0;
  private writing = false;
  private connectWanted = false;
  private closing = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiters: Array<{ target: number; resolve: () => void }> = [];
  private drainWaiters: Array<() => void> = [];
  private wakeRetry: (() => void) | undefined;
  private readonly counters = { received: 0, written: 0, retried: 0, dropped: 0 };
  private lastError: string | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly reporter: Reporter,
  ) {
    this.buffer = new RowBuffer(options.maxBufferedRows, options.maxBufferedBytes);
    this.staticTags = options.tags.join(',');
    this.buildRow = this.rowBuilder({});
    this.writer = new Writer({
      connection: options.connection,
      table: { schema: options.schema, table: options.table },
      createTable: options.createTable,
      run: {
        application: options.application,
        machineName: options.machineName ?? machineName(),
        ipAddress: options.ipAddress ?? outwardIpv4(),
        runKey: options.runKey ?? processRunKey(),
      },
      timezone: options.timezone,
      onConnectionError: (error) => this.failOnDatabase('the database connection failed', error),
    });
  }

  /** Adopts the logger's own levels, messageKey and errorKey (options given explicitly still win). */
  configure(config: LoggerConfig): void {
    this.buildRow = this.rowBuilder(config);
  }

  /** Starts connecting (and allocating the run number) without waiting for the first record. */
  start(): void {
    this.connectWanted = true;
    this.kick();
  }

  /** Takes one line of log output. Never throws, never waits. */
  push(line: string): void {
    if (line === '') return;
    this.counters.received++;
    let row: LogRow;
    try {
      row = this.buildRow(line);
    } catch (error) {
      // An enrichment bug must not cost the record: keep it as a text row.
      this.fail('a record could not be enriched; stored as text', error);
      row = textRow(line, this.staticTags);
    }
    if (!this.buffer.push(row)) {
      this.counters.dropped++;
      this.reporter.warn(
        `buffer full (${this.options.maxBufferedRows} rows or ${this.options.maxBufferedBytes} bytes): records are being dropped`,
      );
      return;
    }
    this.enqueued++;
    if (this.buffer.length >= this.options.batchSize) this.kick();
    else this.armTimer();
  }

  /** True when the buffer is nearly full: a reader that can wait (pipe mode) should, rather than drop. */
  get congested(): boolean {
    return (
      this.buffer.length >= this.options.maxBufferedRows * 0.9 ||
      this.buffer.bytes >= this.options.maxBufferedBytes * 0.9
    );
  }

  /** Resolves once the buffer is back under half of its caps. */
  drained(): Promise<void> {
    if (this.belowHalf()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private belowHalf(): boolean {
    return (
      this.buffer.length < this.options.maxBufferedRows / 2 && this.buffer.bytes < this.options.maxBufferedBytes / 2
    );
  }

  /** Resolves once every row pushed before the call is committed (or counted as dropped). */
  flush(): Promise<void> {
    const target = this.enqueued;
    if (this.settled >= target) return Promise.resolve();
    this.flushTarget = Math.max(this.flushTarget, target);
    const done = new Promise<void>((resolve) => this.waiters.push({ target, resolve }));
    this.wakeRetry?.();
    this.kick();
    return done;
  }

  /** Writes what is buffered, waiting at most `deadlineMs`; reports what could not be written. */
  async close(deadlineMs: number): Promise<CloseResult> {
    this.closing = true;
    clearTimeout(this.timer);
    const delivered = await withDeadline(
      this.flush().then(() => true),
      deadlineMs,
      false,
    );
    const undelivered = this.buffer.length;
    if (!delivered && undelivered > 0) {
      this.reporter.error(`${undelivered} records were not delivered to the database before the exit deadline`);
    }
    await withDeadline(this.writer.close(delivered), 1_000, undefined);
    return { undelivered, stats: this.stats };
  }

  get stats(): PipelineStats {
    return {
      ...this.counters,
      buffered: this.buffer.length,
      runNumber: this.writer.runNumber,
      lastError: this.lastError,
    };
  }

  private rowBuilder(config: LoggerConfig) {
    const levels = config.levels as { values?: Record<string, number> } | undefined;
    const loggerLevels = levels?.values ?? (config.levels as Record<string, number> | undefined) ?? {};
    return createRowBuilder({
      levelName: createLevelNamer({ ...loggerLevels, ...this.options.customLevels }),
      messageKey: this.options.messageKey ?? config.messageKey ?? 'msg',
      errorKey: this.options.errorKey ?? config.errorKey ?? 'err',
      staticTags: this.options.tags,
    });
  }

  private armTimer(): void {
    if (this.timer || this.writing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushTarget = Math.max(this.flushTarget, this.enqueued);
      this.kick();
    }, this.options.flushInterval);
    this.timer.unref();
  }

  private kick(): void {
    if (this.writing) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = true;
    this.writeWhileDue()
      .catch((error: unknown) => this.fail('the writer stopped unexpectedly', error))
      .finally(() => {
        this.writing = false;
        if (this.buffer.length === 0) return;
        if (this.closing || this.settled < this.flushTarget) this.kick();
        else this.armTimer();
      });
  }

  private async writeWhileDue(): Promise<void> {
    for (;;) {
      const batchDue =
        this.buffer.length > 0 && (this.buffer.length >= this.options.batchSize || this.settled < this.flushTarget);
      const connectDue = this.connectWanted && !this.writer.connected && !this.closing;
      if (!batchDue && !connectDue) return;
      const batch = batchDue ? this.buffer.take(this.options.batchSize, MAX_BATCH_BYTES) : [];
      try {
        await (batchDue ? this.writer.write(batch) : this.writer.connect());
      } catch (error) {
        this.buffer.putBack(batch);
        if (batchDue) this.counters.retried++;
        this.failOnDatabase(
          batchDue ? 'writing a batch failed; it will be retried' : 'cannot reach the database yet; records are kept',
          error,
        );
        await this.backoff();
        continue;
      }
      this.reportRecovery();
      this.counters.written += batch.length;
      this.settled += batch.length;
      this.resolveWaiters();
    }
  }

  /** Capped exponential backoff with jitter: first retry within 250 ms, then up to 5 s. */
  private backoff(): Promise<void> {
    this.failures++;
    const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.failures - 1));
    const delay = this.closing ? Math.min(ceiling, 500) : ceiling / 2 + Math.random() * (ceiling / 2);
    return new Promise((resolve) => {
      const timer = setTimeout(done, delay);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeRetry = done;
    });
  }

  private resolveWaiters(): void {
    if (this.drainWaiters.length > 0 && this.belowHalf()) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
    const pending = this.waiters.filter((waiter) => this.settled < waiter.target);
    for (const waiter of this.waiters) if (this.settled >= waiter.target) waiter.resolve();
    this.waiters = pending;
  }

  private reportRecovery(): void {
    if (this.failures === 0 && this.lastError === undefined) return;
    if (this.lastError !== undefined)
      this.reporter.info(`writing to the database again (run ${this.writer.runNumber})`);
    this.failures = 0;
    this.lastError = undefined;
  }

  /** Database errors name the database (never its password), so a wrong target is obvious. */
  private failOnDatabase(what: string, error: unknown): void {
    this.fail(`${what}: ${errorText(error)}; database ${this.options.connection.description}`, error, false);
  }

  private fail(what: string, error: unknown, appendError = true): void {
    this.lastError = errorText(error);
    this.reporter.error(appendError ? `${what}: ${this.lastError}` : what, error);
  }
}

export function createPipeline(options: ResolvedOptions, reporter: Reporter): Pipeline {
  return new Pipeline(options, reporter);
}

function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
