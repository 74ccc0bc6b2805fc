/**
 * Spool hand-off: what moves between the in-memory buffer and the disk spool (spool.ts), and when a
 * spooled line counts as delivered.
 *
 *   push ─▶ buffer, or (memory full, or lines already on disk) ─▶ spool ─▶ refill ─▶ buffer ─▶ COPY
 *   a failed write ─▶ everything in the buffer moves to the front of the spool (spill)
 *   exit ─▶ everything unwritten goes to the spool for the next start (leave)
 *
 * A position taken from the spool is confirmed once every row up to it is settled (committed or
 * counted as dropped); `settled` is the pipeline's running count of settled rows.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorText } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import type { Reporter } from '../report.js';
import type { RowBuffer } from './batch.js';
import type { Uncertain } from './delivery.js';
import type { QueuedLine } from './enrich.js';
import type { TakeLimit } from './segment.js';
import { Spool, type SpoolLoss, type SpoolMark } from './spool.js';

/** What refill() brought back: see there. */
export interface Refilled {
  damaged: number;
  uncertain?: Uncertain;
}

export class SpoolHandoff {
  readonly directory: string;
  private readonly spool: Spool;
  /** Spool positions to confirm once `settled` reaches `through` (rows up to there are committed). */
  private marks: Array<{ through: number; mark: SpoolMark }> = [];
  private writeScheduled = false;

  constructor(
    options: ResolvedOptions,
    private readonly reporter: Reporter,
    onLoss: SpoolLoss,
    /** This run's number, once there is one: spooled lines keep it, whoever delivers them. */
    private readonly runNumber: () => number | undefined,
  ) {
    this.directory = options.spoolDir ?? defaultSpoolDir(options, reporter);
    this.spool = new Spool(this.directory, options.maxSpoolBytes, onLoss, (text) => reporter.warn(text));
  }

  /** Lines on disk (or about to be) not yet taken back into memory. */
  get rows(): number {
    return this.spool.rows;
  }

  /** See Spool.batchWaiting. */
  get batchWaiting(): boolean {
    return this.spool.batchWaiting;
  }

  /** The spool's size on disk. */
  get bytes(): number {
    return this.spool.bytes;
  }

  /** Takes over what ended processes left; returns how many lines that is. */
  claimLeftovers(): number {
    try {
      return this.spool.claimLeftovers();
    } catch (error) {
      this.fail(`cannot read the spool directory ${this.directory}`, error);
      return 0;
    }
  }

  /** Queues a line for the disk, written within one turn of the event loop; false at the size cap. */
  append(line: QueuedLine): boolean {
    if (!this.spool.append(this.withRun([line])[0] as QueuedLine)) return false;
    this.scheduleWrite();
    return true;
  }

  /**
   * Moves the oldest spooled lines to the back of the buffer, `batches` batches' worth at most (rows
   * and bytes), a position noted per batch: once a batch is committed the next start will not deliver
   * it again, even if this process is killed before the next batch. Returns how many lines were found
   * damaged on disk (the caller counts them as dropped), and, when the lines now at the front of the
   * buffer are a batch an earlier exit left with its commit unknown, its ledger id.
   */
  refill(buffer: RowBuffer, batches: number, batch: TakeLimit, settled: number): Refilled {
    let damaged = 0;
    let uncertain: Uncertain | undefined;
    try {
      for (let count = 0; count < batches && this.spool.rows > 0; count++) {
        // A batch an exit left uncertain comes back only to an empty buffer, so that it is in front.
        const taken = this.spool.take(batch, buffer.length === 0);
        buffer.refill(taken.rows);
        damaged += taken.damaged;
        uncertain ??= taken.uncertain;
        if (taken.mark) this.marks.push({ through: settled + buffer.length + damaged, mark: taken.mark });
      }
    } catch (error) {
      this.fail(`cannot read the spool in ${this.directory}`, error);
    }
    if (damaged > 0)
      this.reporter.error(`${damaged} records in the spool (${this.directory}) were damaged and are dropped`);
    return uncertain ? { damaged, uncertain } : { damaged };
  }

  /** Confirms the positions whose rows are all settled: the next start will not deliver them again. */
  confirm(settled: number): void {
    while (this.marks.length > 0 && (this.marks[0] as { through: number }).through <= settled) {
      const { mark } = this.marks.shift() as { mark: SpoolMark };
      try {
        this.spool.delivered(mark);
      } catch (error) {
        this.fail(`cannot update the spool in ${this.directory}`, error);
      }
    }
  }

  /**
   * When writing fails, what waits in memory goes to the front of the spool, so that a crash during
   * an outage loses no more than what arrived since the last attempt. Lines that came from the spool
   * are moved with the rest (spillFront), so the positions noted when they were taken no longer
   * apply. The first `uncertain.count` lines, a batch whose commit is unknown, keep its ledger id on
   * disk (see refill). Returns true when everything pushed so far is now on disk.
   */
  spill(buffer: RowBuffer, uncertain: Uncertain | undefined): boolean {
    if (buffer.length > 0) {
      const lines = buffer.drain();
      if (!this.spool.spillFront(this.withRun(lines), uncertain)) {
        buffer.refill(lines); // no room on disk: they stay in memory
        return false;
      }
      this.marks = [];
    }
    this.spool.writePending();
    return true;
  }

  /**
   * At exit: `unwritten` (the oldest lines) and every segment are left for the next start; the
   * first `uncertain.count` lines are a batch whose commit is unknown, kept with its ledger id.
   */
  leave(unwritten: QueuedLine[], uncertain: Uncertain | undefined): void {
    this.spool.leave(this.withRun(unwritten), uncertain);
  }

  private withRun(lines: QueuedLine[]): QueuedLine[] {
    const run = this.runNumber();
    return run === undefined ? lines : lines.map((line) => (line.run === undefined ? { ...line, run } : line));
  }

  /** Spooled lines reach the disk within one turn of the event loop, so a crash loses at most that. */
  private scheduleWrite(): void {
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      try {
        this.spool.writePending();
      } catch (error) {
        this.fail(`cannot write to the spool in ${this.directory}`, error);
      }
    });
  }

  private fail(what: string, error: unknown): void {
    this.reporter.error(`${what}: ${errorText(error)}`);
  }
}

/**
 * $XDG_STATE_HOME or ~/.local/state, then logweaver-pino/<application>-<hash of the target table>:
 * one per application and target. A user with no home directory gets a fresh private directory
 * under the temporary directory, never a predictable shared path (another user could create it
 * first): its lines are kept, but a later process cannot find them, so a spoolDir is then better.
 */
function defaultSpoolDir(options: ResolvedOptions, reporter: Reporter): string {
  const lasting = lastingSpoolDir(options);
  if (lasting !== undefined) return lasting;
  const directory = privateTemporaryDirectory(spoolName(options));
  reporter.warn(`no home directory: spooling to ${directory}, which a later start will not find; set spoolDir`);
  return directory;
}

/**
 * The spool directory that every start of this application and target finds again: spoolDir, or
 * the default under the state home; undefined when there is no home to put it in.
 */
export function lastingSpoolDir(options: ResolvedOptions): string | undefined {
  if (options.spoolDir !== undefined) return options.spoolDir;
  const state = stateHome();
  return state === undefined ? undefined : join(state, 'logweaver-pino', spoolName(options));
}

function spoolName(options: ResolvedOptions): string {
  const target = `${options.connection.description}\n${options.schema}.${options.table}`;
  const hash = createHash('sha256').update(target).digest('hex').slice(0, 8);
  return `${options.application.replace(/[^\w.-]+/g, '_')}-${hash}`;
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
