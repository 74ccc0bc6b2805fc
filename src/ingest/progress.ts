/**
 * Progress: how many rows were taken in (enqueued) and how many are done with (settled: committed,
 * or counted as dropped), which of them are due now rather than when a batch fills (the flush
 * target), and who waits for them (`logger.flush(cb)`, the exit).
 */
interface Waiter {
  target: number;
  resolve: () => void;
  /** Also done once writing has failed and everything is safely in the spool. */
  orSpooled: boolean;
}

export class Progress {
  enqueued = 0;
  settled = 0;
  /** Rows up to this count are written as soon as possible, batch full or not. */
  private flushTarget = 0;
  private waiters: Waiter[] = [];

  get due(): boolean {
    return this.settled < this.flushTarget;
  }

  get done(): boolean {
    return this.settled >= this.enqueued;
  }

  /** Makes every row taken in so far due now. */
  flushAll(): void {
    this.flushTarget = Math.max(this.flushTarget, this.enqueued);
  }

  /** Resolves once every row taken in before the call is settled (or, with `orSpooled`, spooled). */
  waitForAll(orSpooled: boolean): Promise<void> {
    const target = this.enqueued;
    if (this.settled >= target) return Promise.resolve();
    this.flushAll();
    return new Promise<void>((resolve) => this.waiters.push({ target, resolve, orSpooled }));
  }

  settle(count: number): void {
    this.settled += count;
    const done = this.waiters.filter((waiter) => this.settled >= waiter.target);
    this.waiters = this.waiters.filter((waiter) => this.settled < waiter.target);
    for (const waiter of done) waiter.resolve();
  }

  /** Whether a flush that accepts the spool is waiting. */
  get waitingOrSpooled(): boolean {
    return this.waiters.some((waiter) => waiter.orSpooled);
  }

  /** Everything taken in is on disk (or cannot be): the waiters that accept that are done. */
  allSpooled(): void {
    const done = this.waiters.filter((waiter) => waiter.orSpooled);
    this.waiters = this.waiters.filter((waiter) => !waiter.orSpooled);
    for (const waiter of done) waiter.resolve();
  }
}
