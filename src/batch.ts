/**
 * Batch: the bounded in-memory buffer between enrichment and the writer. Bounded by rows and by
 * bytes, because a stalled database must never grow the worker without limit.
 */
import type { LogRow } from './enrich.js';

export class RowBuffer {
  private rows: LogRow[] = [];
  private heldBytes = 0;

  constructor(
    private readonly maxRows: number,
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.rows.length;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Adds the row, or returns false when either cap is reached (the caller counts the drop). */
  push(row: LogRow): boolean {
    if (this.rows.length >= this.maxRows || this.heldBytes + row.bytes > this.maxBytes) return false;
    this.rows.push(row);
    this.heldBytes += row.bytes;
    return true;
  }

  /** Removes and returns the oldest rows: at most maxRows of them and about maxBytes, at least one. */
  take(maxRows: number, maxBytes: number): LogRow[] {
    let count = 0;
    let bytes = 0;
    while (count < this.rows.length && count < maxRows) {
      const row = this.rows[count] as LogRow;
      if (count > 0 && bytes + row.bytes > maxBytes) break;
      bytes += row.bytes;
      count++;
    }
    this.heldBytes -= bytes;
    return this.rows.splice(0, count);
  }

  /** Adds rows coming back from the spool, past the caps (the caller refills only when there is room). */
  refill(rows: LogRow[]): void {
    for (const row of rows) {
      this.rows.push(row);
      this.heldBytes += row.bytes;
    }
  }

  /** Removes and returns every row (at exit, to be spooled). */
  drain(): LogRow[] {
    this.heldBytes = 0;
    return this.rows.splice(0);
  }

  /** Returns a batch that could not be written to the front, keeping the order. */
  putBack(batch: LogRow[]): void {
    this.rows = batch.concat(this.rows);
    for (const row of batch) this.heldBytes += row.bytes;
  }
}
