/**
 * Congestion, for a reader that can wait (pipe mode): rather than fill the spool while the database
 * is taking rows, it stops reading until memory is back under half of its caps. While the database
 * is failing, waiting would only block the application, so lines go to the spool instead.
 */
import type { ResolvedOptions } from '../options.js';
import type { RowBuffer } from './batch.js';
import type { SpoolHandoff } from './handoff.js';

export class Congestion {
  private waiters: Array<() => void> = [];

  constructor(
    private readonly options: Pick<ResolvedOptions, 'maxBufferedRows' | 'maxBufferedBytes'>,
    private readonly buffer: RowBuffer,
    private readonly spool: SpoolHandoff,
    private readonly failing: () => boolean,
  ) {}

  /** Memory nearly full, or lines already on disk, while the database is taking rows. */
  get congested(): boolean {
    if (this.failing()) return false;
    const { maxBufferedRows, maxBufferedBytes } = this.options;
    return (
      this.spool.rows > 0 || this.buffer.length >= maxBufferedRows * 0.9 || this.buffer.bytes >= maxBufferedBytes * 0.9
    );
  }

  /** Resolves once memory is back under half of its caps and the spool is empty, or writing fails. */
  drained(): Promise<void> {
    if (this.belowHalf()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Rows were settled: a waiting reader may go on. */
  settled(): void {
    if (this.waiters.length > 0 && this.belowHalf()) this.release();
  }

  /** Writing failed: a reader waiting for the database would otherwise wait for ever. */
  release(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private belowHalf(): boolean {
    const { maxBufferedRows, maxBufferedBytes } = this.options;
    return (
      this.spool.rows === 0 && this.buffer.length < maxBufferedRows / 2 && this.buffer.bytes < maxBufferedBytes / 2
    );
  }
}
