/**
 * Pino installs no signal handlers: with Node's default handling, SIGTERM and SIGINT end the process
 * at once and whatever the transport still holds is lost. This turns those signals into an orderly
 * exit, during which Pino ends the transport and the worker writes everything it holds.
 *
 *   import { flushOnExitSignals } from 'logweaver-pino/shutdown';
 *   flushOnExitSignals(logger);
 */

export interface Flushable {
  flush(callback?: (error?: Error) => void): void;
}

export interface ExitSignalOptions {
  signals?: NodeJS.Signals[];
  /** Exit anyway after this long (default 9 s, inside Pino's own 10 s budget). */
  timeoutMs?: number;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** On each signal: flush the logger, then exit with 128 + the signal's number. Returns an uninstaller. */
export function flushOnExitSignals(logger: Flushable, options: ExitSignalOptions = {}): () => void {
  const { signals = ['SIGTERM', 'SIGINT'], timeoutMs = 9_000 } = options;
  const handlers = signals.map((signal) => {
    const handler = () => {
      const exitCode = 128 + (SIGNAL_NUMBERS[signal] ?? 15);
      setTimeout(() => process.exit(exitCode), timeoutMs).unref();
      logger.flush(() => process.exit(exitCode));
    };
    process.once(signal, handler);
    return { signal, handler };
  });
  return () => handlers.forEach(({ signal, handler }) => process.off(signal, handler));
}
