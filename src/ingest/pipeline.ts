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
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RowBuffer } from './batch.js';
import { createRowBuilder, textRow, type LogRow, type QueuedLine, type RowBuilder } from './enrich.js';
import { errorText } from '../errors.js';
import { machineName, outwardIpv4, processRunKey, processStartedAt } from '../identity.js';
import { createLevelNamer } from './levels.js';
import type { ResolvedOptions } from '../options.js';
import type { Reporter } from '../report.js';
import { Spool, type SpoolMark } from './spool.js';
import { isConfigurationError, isRowError, Writer, type Payload } from '../write/writer.js';

/** What Pino tells its transports about the logger (its PINO_CONFIG message to the worker). */
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
  /** Rows that went to the disk spool because memory was full. */
  spooled: number;
  /** Rows the database rejected, stored without their record column. */
  sanitised: number;
  /** Lines over maxRecordBytes, stored cut short with a marker. */
  truncated: number;
  dropped: number;
  buffered: number;
  /** Bytes of undelivered lines in this process's spool files. */
  spoolBytes: number;
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
/** Configuration errors (wrong password, no privilege, missing table) are retried at this slower pace. */
const CONFIGURATION_RETRY_MS = 15_000;
/** At exit with the database already unreachable, one more short try before spooling. */
const UNREACHABLE_CLOSE_MS = 1_500;

export class Pipeline {
  private readonly buffer: RowBuffer;
  private readonly writer: Writer;
  private buildRow: RowBuilder;
  private readonly staticTags: string;
  private enqueued = 0;
  private settled = 0;
  private flushTarget = 0;
  private writing = false;
  private connectWanted = false;
  private closing = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiters: Array<{ target: number; resolve: () => void; orSpooled: boolean }> = [];
  private drainWaiters: Array<() => void> = [];
  private wakeRetry: (() => void) | undefined;
  private readonly counters = {
    received: 0,
    written: 0,
    retried: 0,
    spooled: 0,
    sanitised: 0,
    truncated: 0,
    dropped: 0,
  };
  private readonly spool: Spool;
  private readonly spoolDir: string;
  /** Spool positions to confirm once `settled` reaches `through` (rows up to there are committed). */
  private spoolMarks: Array<{ through: number; mark: SpoolMark }> = [];
  /** The batch being written: at the exit deadline its fate is unknown, so it is spooled too. */
  private inFlight: QueuedLine[] = [];
  /** Set once close() has handed everything unwritten to the spool. */
  private left = false;
  private spoolWriteScheduled = false;
  /** A batch that failed in a way that may have committed: checked in the ledger before anything else. */
  private uncertain: { id: string; count: number } | undefined;
  private messageKey = 'msg';
  /** The next batch, prepared while the previous one was being written (see prepareAhead). */
  private ahead: { lines: QueuedLine[]; rows: LogRow[]; payload: Payload | undefined } | undefined;
  private readonly unreportedDrops = new Map<string, { count: number; first: number; last: number }>();
  private lastError: string | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly reporter: Reporter,
  ) {
    this.buffer = new RowBuffer(options.maxBufferedRows, options.maxBufferedBytes);
    this.spoolDir = options.spoolDir ?? defaultSpoolDir(options, reporter);
    this.spool = new Spool(
      this.spoolDir,
      options.maxSpoolBytes,
      (lines, what, error) => {
        for (let count = 0; count < lines; count++) this.countDrop('spool failure');
        this.fail(`${lines} records ${what}`, error);
        this.settle(lines);
      },
      (text) => this.reporter.warn(text),
    );
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
        startedAt: processStartedAt(),
      },
      timezone: options.timezone,
      onConnectionError: (error) => this.failOnDatabase('the database connection failed', error),
    });
  }

  /** Adopts the logger's own levels, messageKey and errorKey (options given explicitly still win). */
  configure(config: LoggerConfig): void {
    this.buildRow = this.rowBuilder(config);
    this.dropAhead(); // parsed with the old settings
  }

  /**
   * Starts connecting (and allocating the run number) without waiting for the first record, and
   * takes over what earlier processes left in the spool: those rows are written first.
   */
  start(): void {
    try {
      const claimed = this.spool.claimLeftovers();
      if (claimed > 0) {
        this.enqueued += claimed;
        this.flushTarget = this.enqueued;
        this.reporter.info(`delivering ${claimed} records left in the spool (${this.spoolDir}) by an earlier run`);
      }
    } catch (error) {
      this.fail(`cannot read the spool directory ${this.spoolDir}`, error);
    }
    this.connectWanted = true;
    this.kick();
  }

  /** Takes one line of log output. Never throws, never waits. */
  push(text: string): void {
    if (text === '') return;
    this.counters.received++;
    const line = text.length > this.options.maxRecordBytes / 3 ? this.withinMaxSize(text) : text;
    const row: QueuedLine = { line, arrived: Date.now() };
    // Once rows are on disk, newer rows follow them there, so that order is kept.
    if (this.spool.rows > 0 || !this.buffer.push(row)) {
      const shed = this.spool.bytes >= this.options.maxSpoolBytes * LOW_LEVEL_SPOOL_SHARE && isBelowWarning(line);
      if (shed || !this.spool.append(this.withRun([row])[0] as QueuedLine)) {
        const reason = shed ? 'spool nearly full: DEBUG and INFO shed first' : 'spool full';
        this.countDrop(reason);
        this.reporter.warn(
          `${reason} (${this.options.maxSpoolBytes} bytes in ${this.spoolDir}): records are being dropped`,
        );
        return;
      }
      this.counters.spooled++;
      this.scheduleSpoolWrite();
    }
    this.enqueued++;
    if (this.buffer.length + this.spool.rows >= this.options.batchSize) this.kick();
    else this.armTimer();
  }

  /**
   * A line over maxRecordBytes is kept as its first maxRecordBytes, marked, as a third-party text row
   * (a cut JSON record is no longer JSON): counted, and reported.
   */
  private withinMaxSize(line: string): string {
    const bytes = Buffer.byteLength(line);
    if (bytes <= this.options.maxRecordBytes) return line;
    this.counters.truncated++;
    this.reporter.warn(`a record of ${bytes} bytes was stored truncated to ${this.options.maxRecordBytes} bytes`);
    const kept = Buffer.from(line)
      .subarray(0, this.options.maxRecordBytes)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    return `${kept} …[truncated by logweaver-pino: ${bytes} bytes]`;
  }

  /** Spooled rows reach the disk within one turn of the event loop, so a crash loses at most that. */
  private scheduleSpoolWrite(): void {
    if (this.spoolWriteScheduled) return;
    this.spoolWriteScheduled = true;
    setImmediate(() => {
      this.spoolWriteScheduled = false;
      try {
        this.spool.writePending();
      } catch (error) {
        this.fail(`cannot write to the spool in ${this.spoolDir}`, error);
      }
    });
  }

  /**
   * True when a reader that can wait (pipe mode) should, rather than fill the spool: memory is
   * nearly full, or lines are already on disk, while the database is taking rows. While it is not,
   * waiting would only block the application, so lines go to the spool instead.
   */
  get congested(): boolean {
    if (this.failures > 0) return false;
    return (
      this.spool.rows > 0 ||
      this.buffer.length >= this.options.maxBufferedRows * 0.9 ||
      this.buffer.bytes >= this.options.maxBufferedBytes * 0.9
    );
  }

  /** Resolves once memory is back under half of its caps and the spool is empty, or writing fails. */
  drained(): Promise<void> {
    if (this.belowHalf()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private belowHalf(): boolean {
    return (
      this.spool.rows === 0 &&
      this.buffer.length < this.options.maxBufferedRows / 2 &&
      this.buffer.bytes < this.options.maxBufferedBytes / 2
    );
  }

  private wakeDrainWaiters(): void {
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  /**
   * Resolves once every row pushed before the call is committed (or counted as dropped); with
   * `orSpooled`, also once writing has failed and they are all safely in the spool on disk.
   */
  flush({ orSpooled = false } = {}): Promise<void> {
    const target = this.enqueued;
    if (this.settled >= target) return Promise.resolve();
    this.flushTarget = Math.max(this.flushTarget, target);
    const done = new Promise<void>((resolve) => this.waiters.push({ target, resolve, orSpooled }));
    this.wakeRetry?.();
    this.kick();
    return done;
  }

  /**
   * Writes what is buffered, waiting at most `deadlineMs` (less when the database is already known
   * to be unreachable); what is left then goes to the spool for the next start, synchronously.
   */
  async close(deadlineMs: number): Promise<CloseResult> {
    this.closing = true;
    clearTimeout(this.timer);
    const delivered = await this.flushWithin(deadlineMs);
    const undelivered = this.inFlight.length + this.buffer.length + this.spool.rows;
    this.leaveInSpool(undelivered);
    const end = { clean: undelivered === 0 && delivered, counters: this.stats };
    await withDeadline(this.writer.close(end), 1_000, undefined);
    return { undelivered, stats: this.stats };
  }

  /**
   * Waits for everything to be written, for at most `deadlineMs`, and for at most
   * UNREACHABLE_CLOSE_MS once the database is known to be unreachable: then waiting cannot help.
   */
  private flushWithin(deadlineMs: number): Promise<boolean> {
    const started = Date.now();
    return new Promise((resolve) => {
      const check = setInterval(() => {
        const elapsed = Date.now() - started;
        const unreachable = !this.writer.connected && this.failures > 0;
        if (elapsed >= deadlineMs || (unreachable && elapsed >= UNREACHABLE_CLOSE_MS)) finish(false);
      }, 50);
      const finish = (done: boolean) => {
        clearInterval(check);
        resolve(done);
      };
      // Writing can add rows (the report of a drop), so flush until nothing is left.
      const flushAll = async (): Promise<void> => {
        while (this.settled < this.enqueued) await this.flush();
      };
      void flushAll().then(() => finish(true));
    });
  }

  /** Hands everything unwritten to the spool (and removes spool files that are fully delivered). */
  private leaveInSpool(undelivered: number): void {
    try {
      // A loss not yet recorded where the logs are goes to the spool as its row, for the next start.
      if (this.unreportedDrops.size > 0) this.recordDrops();
      this.left = true;
      this.spool.leave(this.withRun([...this.inFlight, ...this.buffer.drain()]));
      if (undelivered === 0) return;
      this.reporter.error(
        `${undelivered} records were not delivered to the database before the exit deadline; ` +
          `they are in the spool (${this.spoolDir}) and will be delivered at the next start`,
      );
    } catch (error) {
      this.reporter.error(`${undelivered} records were not delivered and could not be spooled: ${errorText(error)}`);
    }
  }

  get stats(): PipelineStats {
    return {
      ...this.counters,
      buffered: this.buffer.length + this.spool.rows,
      spoolBytes: this.spool.bytes,
      runNumber: this.writer.runNumber,
      lastError: this.lastError,
    };
  }

  private rowBuilder(config: LoggerConfig) {
    const levels = config.levels as { values?: Record<string, number> } | undefined;
    const loggerLevels = levels?.values ?? (config.levels as Record<string, number> | undefined) ?? {};
    this.messageKey = this.options.messageKey ?? config.messageKey ?? 'msg';
    return createRowBuilder({
      levelName: createLevelNamer({ ...loggerLevels, ...this.options.customLevels }),
      messageKey: this.messageKey,
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
        if (this.buffer.length + this.spool.rows === 0) return;
        if (this.closing || this.settled < this.flushTarget) this.kick();
        else this.armTimer();
      });
  }

  private async writeWhileDue(): Promise<void> {
    for (;;) {
      const waiting = this.buffer.length + this.spool.rows;
      const batchDue = waiting > 0 && (waiting >= this.options.batchSize || this.settled < this.flushTarget);
      const connectDue = this.connectWanted && !this.writer.connected && !this.closing;
      if (!batchDue && !connectDue) return;
      if (batchDue) this.refillFromSpool();
      if (batchDue && this.uncertain) {
        try {
          if (await this.settleUncertain()) continue;
        } catch (error) {
          this.spillToSpool();
          this.failOnDatabase('cannot ask the database whether a failed batch was committed', error);
          await this.backoff(error);
          continue;
        }
      }
      const retry = batchDue ? this.uncertain : undefined;
      this.uncertain = undefined;
      const batch = batchDue
        ? this.buffer.take(retry?.count ?? this.options.batchSize, retry ? Infinity : MAX_BATCH_BYTES)
        : [];
      if (batchDue && batch.length === 0) continue; // the spool had only damaged lines: counted, settled
      this.inFlight = batch;
      let committed = 0;
      try {
        if (batchDue) committed = await this.writeBatch(batch, retry?.id);
        else await this.writer.connect();
      } catch (error) {
        this.inFlight = [];
        if (this.left) return; // close() has spooled this batch already
        const done = error instanceof BatchInterrupted ? error.committed : 0;
        if (error instanceof BatchInterrupted) this.uncertain = error.uncertain;
        this.settle(done);
        this.buffer.putBack(batch.slice(done));
        this.spillToSpool();
        if (batchDue) this.counters.retried++;
        const cause = error instanceof BatchInterrupted ? error.cause : error;
        this.failOnDatabase(
          batchDue ? 'writing a batch failed; it will be retried' : 'cannot reach the database yet; records are kept',
          cause,
        );
        await this.backoff(cause);
        continue;
      }
      this.inFlight = [];
      this.reportRecovery();
      if (committed > 0 && this.unreportedDrops.size > 0 && !this.left) this.recordDrops();
      this.settle(committed);
    }
  }

  private countDrop(reason: string): void {
    this.counters.dropped++;
    const now = Date.now();
    const drops = this.unreportedDrops.get(reason);
    if (drops) {
      drops.count++;
      drops.last = now;
    } else this.unreportedDrops.set(reason, { count: 1, first: now, last: now });
  }

  /**
   * Makes a loss visible where the logs are: once writing works, one row per reason, such as
   * `logweaver: 1234 records dropped (spool full) between T1 and T2`.
   */
  private recordDrops(): void {
    for (const [reason, { count, first, last }] of this.unreportedDrops) {
      const between = `${new Date(first).toISOString()} and ${new Date(last).toISOString()}`;
      const message = `logweaver: ${count} records dropped (${reason}) between ${between}`;
      const line = JSON.stringify({ level: 40, time: last, [this.messageKey]: message, tags: ['logweaver'] });
      const row: QueuedLine = { line, arrived: last };
      if (this.spool.rows > 0 || !this.buffer.push(row)) this.buffer.refill([row]);
      this.enqueued++;
      this.flushTarget = this.enqueued;
    }
    this.unreportedDrops.clear();
  }

  /** Lines headed for the spool keep this run's number, once there is one, whoever delivers them. */
  private withRun(lines: QueuedLine[]): QueuedLine[] {
    const run = this.writer.runNumber;
    return run === undefined ? lines : lines.map((line) => (line.run === undefined ? { ...line, run } : line));
  }

  /**
   * When writing fails, what waits in memory goes to the front of the spool, so that a crash during
   * an outage loses no more than what arrived since the last attempt. Lines that came from the spool
   * are moved with the rest (spillFront), so the positions noted when they were taken no longer apply.
   * Flushes that accept the spool are then done: everything pushed is on disk.
   */
  private spillToSpool(): void {
    if (this.left) return;
    if (this.buffer.length > 0) {
      const lines = this.buffer.drain();
      if (!this.spool.spillFront(this.withRun(lines))) {
        this.buffer.refill(lines); // no room on disk: they stay in memory
        return;
      }
      this.spoolMarks = [];
    }
    this.spool.writePending();
    this.resolveSpooledWaiters();
  }

  private resolveSpooledWaiters(): void {
    const spooled = this.waiters.filter((waiter) => waiter.orSpooled);
    if (spooled.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => !waiter.orSpooled);
    for (const waiter of spooled) waiter.resolve();
  }

  /** Counts rows as done (written, or dropped as unwritable) and wakes whoever waits for them. */
  private settle(count: number): void {
    if (count === 0) return;
    this.settled += count;
    this.confirmSpooled();
    this.resolveWaiters();
  }

  /**
   * Writes a batch; if the server rejects a row, bisects to find it so that every good row lands.
   * A rejected row is tried once more without its record column, then dropped, counted and reported.
   * Returns the rows settled; throws BatchInterrupted (with the rows settled so far) on other errors.
   */
  private async writeBatch(batch: QueuedLine[], id: string = randomUUID()): Promise<number> {
    const pending: Array<{ rows: LogRow[]; id: string; encoded?: Payload }> = [{ ...this.rowsOf(batch), id }];
    let committed = 0;
    while (pending.length > 0) {
      const part = pending.shift() as { rows: LogRow[]; id: string; encoded?: Payload };
      try {
        // Once this batch is on its way, the server works on it while we prepare the next one.
        const prepareAhead =
          part.rows.length === batch.length ? () => setImmediate(() => this.prepareAhead()) : undefined;
        await this.writer.write(part.rows, part.id, prepareAhead, part.encoded);
        this.counters.written += part.rows.length;
      } catch (error) {
        if (!isRowError(error)) {
          throw new BatchInterrupted(committed, error, { id: part.id, count: part.rows.length });
        }
        if (part.rows.length > 1) {
          const middle = Math.ceil(part.rows.length / 2);
          pending.unshift(
            { rows: part.rows.slice(0, middle), id: randomUUID() },
            { rows: part.rows.slice(middle), id: randomUUID() },
          );
          continue;
        }
        try {
          await this.writeRejectedRow(part.rows[0] as LogRow, error);
        } catch (failure) {
          throw new BatchInterrupted(committed, failure, undefined);
        }
      }
      committed += part.rows.length;
    }
    return committed;
  }

  /**
   * After an ambiguous failure: asks the ledger whether the batch was committed after all. If so,
   * its lines are settled without writing them again (true); if not, they are written again under
   * the same id (false). Throws when the database cannot be asked yet.
   */
  private async settleUncertain(): Promise<boolean> {
    const { id, count } = this.uncertain as { id: string; count: number };
    if (!(await this.writer.wasCommitted(id))) return false;
    const lines = this.buffer.take(count, Infinity);
    this.uncertain = undefined;
    this.counters.written += lines.length;
    this.settle(lines.length);
    return true;
  }

  /**
   * Parses and encodes the next batch while the current one is being written, so that the server
   * waits for us as little as possible between batches (measured in bench/README.md).
   */
  private prepareAhead(): void {
    this.dropAhead();
    const lines = this.buffer.peek(this.options.batchSize, MAX_BATCH_BYTES);
    if (lines.length === 0) return;
    const rows = lines.map((queued) => this.toRow(queued));
    let payload: Payload | undefined;
    try {
      payload = this.writer.encode(rows);
    } catch {
      // a row that cannot be encoded is isolated when its batch is written
    }
    this.ahead = { lines, rows, payload };
  }

  /**
   * The batch's rows, and its payload when it was encoded ahead. What was prepared ahead is used when
   * it is a prefix of the batch: the buffer only loses lines at its front and gains them at its back
   * (a failed batch put back goes before them), so the same first line and the same line at the
   * prepared length mean the same lines.
   */
  private rowsOf(batch: QueuedLine[]): { rows: LogRow[]; encoded?: Payload } {
    const ahead = this.ahead;
    this.ahead = undefined;
    const count = ahead?.lines.length ?? 0;
    const prefix =
      ahead && count <= batch.length && batch[0] === ahead.lines[0] && batch[count - 1] === ahead.lines.at(-1);
    if (ahead && prefix && count === batch.length) return { rows: ahead.rows, encoded: ahead.payload };
    if (ahead?.payload) this.writer.release(ahead.payload);
    const fresh = batch.slice(prefix ? count : 0).map((queued) => this.toRow(queued));
    return { rows: prefix ? ahead.rows.concat(fresh) : fresh };
  }

  private dropAhead(): void {
    if (this.ahead?.payload) this.writer.release(this.ahead.payload);
    this.ahead = undefined;
  }

  /** Parse and enrich; an enrichment bug must not cost the record, which is then kept as text. */
  private toRow(queued: QueuedLine): LogRow {
    try {
      return this.buildRow(queued);
    } catch (error) {
      this.fail('a record could not be enriched; stored as text', error);
      return textRow(queued.line, this.staticTags, queued.arrived, queued.run);
    }
  }

  private async writeRejectedRow(row: LogRow, rejection: unknown): Promise<void> {
    const what = `a record the database rejected (${errorText(rejection)})`;
    if (row.record !== null) {
      try {
        await this.writer.write([{ ...row, record: null }]);
        this.counters.written++;
        this.counters.sanitised++;
        this.reporter.warn(`${what} was stored without its record column`);
        return;
      } catch (error) {
        if (!isRowError(error)) throw error;
      }
    }
    this.countDrop('rejected by the database');
    this.reporter.error(`${what} was dropped: ${row.message.slice(0, 200)}`);
  }

  /** Moves the oldest spooled rows into memory when the buffer has room. */
  private refillFromSpool(): void {
    // Two batches: the one written next, and the one prepared while it is written (prepareAhead).
    const wanted = 2 * this.options.batchSize;
    if (this.spool.rows === 0 || this.buffer.length >= wanted) return;
    if (this.buffer.length > this.options.maxBufferedRows / 2) return;
    try {
      const { rows, mark, damaged } = this.spool.take(wanted - this.buffer.length);
      this.buffer.refill(rows);
      if (mark) this.spoolMarks.push({ through: this.settled + this.buffer.length + damaged, mark });
      if (damaged > 0) {
        for (let count = 0; count < damaged; count++) this.countDrop('damaged in the spool');
        this.reporter.error(`${damaged} records in the spool (${this.spoolDir}) were damaged and are dropped`);
        this.settle(damaged);
      }
    } catch (error) {
      this.fail(`cannot read the spool in ${this.spoolDir}`, error);
    }
  }

  private confirmSpooled(): void {
    while (this.spoolMarks.length > 0 && (this.spoolMarks[0] as { through: number }).through <= this.settled) {
      const { mark } = this.spoolMarks.shift() as { mark: SpoolMark };
      try {
        this.spool.delivered(mark);
      } catch (error) {
        this.fail(`cannot update the spool in ${this.spoolDir}`, error);
      }
    }
  }

  /**
   * Capped exponential backoff with jitter: first retry within 250 ms, then up to 5 s; after a
   * configuration error, which only a person can fix, 7.5 to 15 s between tries.
   */
  private backoff(error?: unknown): Promise<void> {
    this.failures++;
    const ceiling = isConfigurationError(error)
      ? CONFIGURATION_RETRY_MS
      : Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.failures - 1));
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
    if (this.drainWaiters.length > 0 && this.belowHalf()) this.wakeDrainWaiters();
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
    this.wakeDrainWaiters(); // a reader waiting for the database would otherwise wait for ever
  }

  private fail(what: string, error: unknown, appendError = true): void {
    this.lastError = errorText(error);
    this.reporter.error(appendError ? `${what}: ${this.lastError}` : what);
  }
}

/**
 * The share of the spool that DEBUG and INFO lines may fill: the rest is kept for WARNING, ERROR and
 * CRITICAL, so that when the disk budget runs out the least important records are shed first.
 */
const LOW_LEVEL_SPOOL_SHARE = 0.75;

/** Whether a line is below WARNING, judged from Pino's leading level without parsing the line. */
function isBelowWarning(line: string): boolean {
  const match = /^\{"level":(?:(\d+)|"(\w+)")/.exec(line);
  if (!match) return true; // text and records without a leading level count as INFO
  if (match[1] !== undefined) return Number(match[1]) < 40;
  return !['warn', 'warning', 'error', 'fatal', 'critical'].includes((match[2] ?? '').toLowerCase());
}

/** A batch stopped by an error that is not about its rows, after `committed` rows were settled. */
class BatchInterrupted extends Error {
  constructor(
    readonly committed: number,
    override readonly cause: unknown,
    /** The part whose fate is unknown: the next `count` lines, written under `id`. */
    readonly uncertain: { id: string; count: number } | undefined,
  ) {
    super(`batch interrupted after ${committed} rows`);
  }
}

/**
 * $XDG_STATE_HOME or ~/.local/state, then logweaver-pino/<application>-<hash of the target table>:
 * one per application and target. A user with no home directory gets a fresh private directory
 * under the temporary directory, never a predictable shared path (another user could create it
 * first): its lines are kept, but a later process cannot find them, so a spoolDir is then better.
 */
function defaultSpoolDir(options: ResolvedOptions, reporter: Reporter): string {
  const target = `${options.connection.description}\n${options.schema}.${options.table}`;
  const hash = createHash('sha256').update(target).digest('hex').slice(0, 8);
  const name = `${options.application.replace(/[^\w.-]+/g, '_')}-${hash}`;
  const state = stateHome();
  if (state !== undefined) return join(state, 'logweaver-pino', name);
  const directory = privateTemporaryDirectory(name);
  reporter.warn(`no home directory: spooling to ${directory}, which a later start will not find; set spoolDir`);
  return directory;
}

function privateTemporaryDirectory(name: string): string {
  try {
    return mkdtempSync(join(tmpdir(), `logweaver-pino-${name}-`)); // 0700, an unpredictable name
  } catch {
    return join(tmpdir(), `logweaver-pino-${name}-${randomUUID()}`); // the spool reports when it cannot write
  }
}

function stateHome(): string | undefined {
  if (process.env.XDG_STATE_HOME) return process.env.XDG_STATE_HOME;
  try {
    const home = homedir();
    return home === '' || home === '/' ? undefined : join(home, '.local', 'state');
  } catch {
    return undefined;
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
