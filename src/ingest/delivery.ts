/**
 * Delivery of one batch: one COPY; if the server rejects a row, the batch is bisected so that every
 * good row lands. A rejected row is tried once more without its record column, then dropped,
 * counted and reported: never retried forever. Any other error stops the batch (BatchInterrupted),
 * and the pipeline retries it; a part whose fate is unknown is looked up in the ledger first.
 */
import { randomUUID } from 'node:crypto';
import { errorText } from '../errors.js';
import type { Reporter } from '../report.js';
import { BatchAlreadyCommitted, isRowError } from '../write/failures.js';
import type { Payload, Writer } from '../write/writer.js';
import type { BatchesAhead } from './ahead.js';
import type { DropLedger } from './drops.js';
import type { LogRow, QueuedLine } from './enrich.js';

/** Rows whose commit is unknown: the next `count` lines, written under the ledger id `id`. */
export interface Uncertain {
  id: string;
  count: number;
}

/** A batch stopped by an error that is not about its rows, after `committed` rows were settled. */
export class BatchInterrupted extends Error {
  constructor(
    readonly committed: number,
    override readonly cause: unknown,
    /** The part whose fate is unknown. */
    readonly uncertain: Uncertain | undefined,
  ) {
    super(`batch interrupted after ${committed} rows`);
  }
}

interface DeliveryCounters {
  written: number;
  /** Rows the database rejected, stored without their record column. */
  sanitised: number;
}

interface Part {
  rows: LogRow[];
  id: string;
  encoded?: Payload;
}

/**
 * Where the batch being written stands: `committed` rows of it are settled, and the next `count`
 * are being written under the ledger id `id` (their fate is unknown until the write returns).
 */
export interface InFlight {
  committed: number;
  writing: Uncertain | undefined;
}

export class Delivery {
  /** The batch being written, for an exit that cannot wait for it (pipeline.close). */
  inFlight: InFlight | undefined;

  constructor(
    private readonly writer: Writer,
    private readonly ahead: BatchesAhead,
    private readonly counters: DeliveryCounters,
    private readonly drops: DropLedger,
    private readonly reporter: Reporter,
  ) {}

  /**
   * Writes a batch under `id` and returns the rows settled (all of them); throws BatchInterrupted.
   * `onSent` runs once the whole batch is on its way, so the next can be prepared meanwhile.
   */
  async write(batch: QueuedLine[], id: string, onSent: () => void): Promise<number> {
    const inFlight: InFlight = { committed: 0, writing: undefined };
    this.inFlight = inFlight;
    try {
      await this.writeParts(batch, id, onSent, inFlight);
    } finally {
      this.inFlight = undefined;
    }
    return inFlight.committed;
  }

  private async writeParts(batch: QueuedLine[], id: string, onSent: () => void, inFlight: InFlight): Promise<void> {
    const pending: Part[] = [{ ...this.ahead.rowsOf(batch), id }];
    while (pending.length > 0) {
      const part = pending.shift() as Part;
      inFlight.writing = { id: part.id, count: part.rows.length };
      try {
        await this.writer.write(
          part.rows,
          part.id,
          part.rows.length === batch.length ? onSent : undefined,
          part.encoded,
        );
        this.counters.written += part.rows.length;
      } catch (error) {
        if (error instanceof BatchAlreadyCommitted) {
          this.counters.written += part.rows.length; // stored by an earlier attempt under the same id
        } else if (!isRowError(error)) {
          throw new BatchInterrupted(inFlight.committed, error, inFlight.writing);
        } else if (part.rows.length > 1) {
          pending.unshift(...halves(part.rows));
          continue;
        } else {
          await this.writeRejectedRow(part.rows[0] as LogRow, error, inFlight).catch((failure: unknown) => {
            throw new BatchInterrupted(inFlight.committed, failure, inFlight.writing);
          });
        }
      }
      inFlight.committed += part.rows.length;
      inFlight.writing = undefined;
    }
  }

  private async writeRejectedRow(row: LogRow, rejection: unknown, inFlight: InFlight): Promise<void> {
    const what = `a record the database rejected (${errorText(rejection)})`;
    if (row.record !== null) {
      try {
        // Under a ledger id of its own, like any part: an exit while it is written can tell later.
        const id = randomUUID();
        inFlight.writing = { id, count: 1 };
        await this.writer.write([{ ...row, record: null }], id);
        this.counters.written++;
        this.counters.sanitised++;
        this.reporter.warn(`${what} was stored without its record column`);
        return;
      } catch (error) {
        if (!isRowError(error)) throw error;
      }
    }
    this.drops.count('rejected by the database');
    this.reporter.error(`${what} was dropped: ${row.message.slice(0, 200)}`);
  }
}

function halves(rows: LogRow[]): Part[] {
  const middle = Math.ceil(rows.length / 2);
  return [
    { rows: rows.slice(0, middle), id: randomUUID() },
    { rows: rows.slice(middle), id: randomUUID() },
  ];
}
