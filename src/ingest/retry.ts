/**
 * The pace of retries: capped exponential backoff with jitter, the first retry within 250 ms, then
 * up to 5 s; after a configuration error, which only a person can fix, 7.5 to 15 s between tries.
 * At exit there is no time for long waits: at most 0.5 s.
 */
import { isConfigurationError } from '../write/failures.js';

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
/** Configuration errors (wrong password, no privilege, missing table) are retried at this slower pace. */
const CONFIGURATION_RETRY_MS = 15_000;
const CLOSING_RETRY_MS = 500;

export class RetryPace {
  /** Failures in a row; 0 while writing works. */
  failures = 0;
  private wakeNow: (() => void) | undefined;

  /** Waits before the next try after `error`. */
  wait(error: unknown, closing: boolean): Promise<void> {
    this.failures++;
    const ceiling = isConfigurationError(error)
      ? CONFIGURATION_RETRY_MS
      : Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.failures - 1));
    const delay = closing ? Math.min(ceiling, CLOSING_RETRY_MS) : ceiling / 2 + Math.random() * (ceiling / 2);
    return new Promise((resolve) => {
      const timer = setTimeout(done, delay);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeNow = done;
    });
  }

  /** Ends the current wait at once (a flush is asked for: try now). */
  wake(): void {
    this.wakeNow?.();
  }

  succeeded(): void {
    this.failures = 0;
  }
}
