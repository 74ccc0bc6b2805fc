/**
 * Prepared-ahead batches: the next batch is parsed, enriched and encoded while the current one is
 * being written, so that the server waits for us as little as possible between batches (measured in
 * bench/README.md).
 */
import type { Payload, Writer } from '../write/writer.js';
import type { LogRow, QueuedLine } from './enrich.js';

export class BatchesAhead {
  private ahead: { lines: QueuedLine[]; rows: LogRow[]; payload: Payload | undefined } | undefined;

  constructor(
    private readonly writer: Pick<Writer, 'encode' | 'release'>,
    private readonly toRow: (queued: QueuedLine) => LogRow,
  ) {}

  /** Prepares these lines, which will start the next batch (they stay in the buffer meanwhile). */
  prepare(lines: QueuedLine[]): void {
    this.drop();
    if (lines.length === 0) return;
    const rows = lines.map(this.toRow);
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
  rowsOf(batch: QueuedLine[]): { rows: LogRow[]; encoded?: Payload } {
    const ahead = this.ahead;
    this.ahead = undefined;
    const count = ahead?.lines.length ?? 0;
    const prefix =
      ahead && count <= batch.length && batch[0] === ahead.lines[0] && batch[count - 1] === ahead.lines.at(-1);
    if (ahead && prefix && count === batch.length) return { rows: ahead.rows, encoded: ahead.payload };
    if (ahead?.payload) this.writer.release(ahead.payload);
    const fresh = batch.slice(prefix ? count : 0).map(this.toRow);
    return { rows: prefix ? ahead.rows.concat(fresh) : fresh };
  }

  /** Forgets what was prepared (parsed with settings that changed, say). */
  drop(): void {
    if (this.ahead?.payload) this.writer.release(this.ahead.payload);
    this.ahead = undefined;
  }
}
