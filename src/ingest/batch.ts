/**
 * Batch: the bounded in-memory buffer between enrichment and the writer. Bounded by rows and by
 * bytes, because a stalled database must never grow the worker without limit.
 */
import type { QueuedLine } from './enrich.js';

/** Memory a waiting line holds besides its text (the object and the array slot). */
const LINE_OVERHEAD_BYTES = 64;

export function lineBytes(item: QueuedLine): number {
  return LINE_OVERHEAD_BYTES + item.line.length;
}

export class RowBuffer {
  private rows: QueuedLine[] = [];
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
  push(row: QueuedLine): boolean {
    if (this.rows.length >= this.maxRows || this.heldBytes + lineBytes(row) > this.maxBytes) return false;
    this.rows.push(row);
    this.heldBytes += lineBytes(row);
    return true;
  }

  /** Removes and returns the oldest rows: at most maxRows of them and about maxBytes, at least one. */
  take(maxRows: number, maxBytes: number): QueuedLine[] {
    const { count, bytes } = this.measure(maxRows, maxBytes);
    this.heldBytes -= bytes;
    return this.rows.splice(0, count);
  }

  /** The rows take() would return now, left in place. */
  peek(maxRows: number, maxBytes: number): QueuedLine[] {
    return this.rows.slice(0, this.measure(maxRows, maxBytes).count);
  }

  private measure(maxRows: number, maxBytes: number): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    while (count < this.rows.length && count < maxRows) {
      const size = lineBytes(this.rows[count] as QueuedLine);
      if (count > 0 && bytes + size > maxBytes) break;
      bytes += size;
      count++;
    }
    return { count, bytes };
  }

  /** Adds rows coming back from the spool, past the caps (the caller refills only when there is room). */
  refill(rows: QueuedLine[]): void {
    for (const row of rows) {
      this.rows.push(row);
      this.heldBytes += lineBytes(row);
    }
  }

  /** Removes and returns every row (at exit, to be spooled). */
  drain(): QueuedLine[] {
    this.heldBytes = 0;
    return this.rows.splice(0);
  }

  /** Returns a batch that could not be written to the front, keeping the order. */
  putBack(batch: QueuedLine[]): void {
    this.rows = batch.concat(this.rows);
    for (const row of batch) this.heldBytes += lineBytes(row);
  }
}
