/** Waiting with a deadline, for close(): an exit must not wait on a database that cannot answer. */

/** At exit with the database already unreachable, one more short try before spooling. */
const UNREACHABLE_CLOSE_MS = 1_500;

/** A count that grows as rows are committed, and whether its growth may still extend the deadline. */
export interface Progressing {
  settled: () => number;
  extends: () => boolean;
}

/**
 * Runs `flushAll` until it resolves (true), for at most `deadlineMs`, and for at most
 * UNREACHABLE_CLOSE_MS once `unreachable()` says waiting cannot help (false then). With `progressing`,
 * the deadline counts from the last commit: a database that keeps answering is waited for, one
 * that stops is not.
 */
export function flushWithin(
  flushAll: () => Promise<void>,
  deadlineMs: number,
  unreachable: () => boolean,
  progressing?: Progressing,
): Promise<boolean> {
  let started = Date.now();
  let seen = progressing?.settled();
  return new Promise((resolve) => {
    const check = setInterval(() => {
      if (progressing?.extends() && progressing.settled() !== seen) {
        [started, seen] = [Date.now(), progressing.settled()];
      }
      const elapsed = Date.now() - started;
      if (elapsed >= deadlineMs || (unreachable() && elapsed >= UNREACHABLE_CLOSE_MS)) finish(false);
    }, 50);
    const finish = (done: boolean) => {
      clearInterval(check);
      resolve(done);
    };
    void flushAll().then(() => finish(true));
  });
}

/** The promise's value, or `onTimeout` once `ms` have passed. */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
