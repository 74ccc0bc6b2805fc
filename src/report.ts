/**
 * How the package tells people about trouble: a line on stderr (pipe mode and transport mode), and in
 * transport mode also an event the application can listen to. Never through the stream's 'error'
 * event, which thread-stream treats as fatal. Repeats of one message are rate-limited, with a count.
 */

import { writeSync } from 'node:fs';

export type ReportLevel = 'error' | 'warning' | 'info';

export interface Reporter {
  error(text: string): void;
  warn(text: string): void;
  info(text: string): void;
}

type ReportSink = (level: ReportLevel, text: string) => void;

const REPEAT_INTERVAL_MS = 30_000;
/**
 * How many different messages are remembered for the rate limit. Texts that carry per-record detail
 * (a size, the start of a row) would otherwise be remembered for ever; the least recently seen are
 * forgotten first, so a message that keeps coming back stays limited while one-offs go by.
 */
const REMEMBERED_MESSAGES = 1_000;

interface Shown {
  at: number;
  suppressed: number;
}

export function createReporter(sink: ReportSink, repeatIntervalMs = REPEAT_INTERVAL_MS): Reporter {
  const lastShown = new Map<string, Shown>();
  /** A Map iterates in insertion order: re-inserting on every use makes its first key the least recently seen. */
  const remember = (text: string, shown: Shown): void => {
    lastShown.delete(text);
    lastShown.set(text, shown);
    if (lastShown.size > REMEMBERED_MESSAGES) lastShown.delete(lastShown.keys().next().value as string);
  };
  const emit = (level: ReportLevel, text: string): void => {
    const now = Date.now();
    const seen = lastShown.get(text);
    if (seen && now - seen.at < repeatIntervalMs) {
      seen.suppressed++;
      remember(text, seen);
      return;
    }
    const repeats = seen && seen.suppressed > 0 ? ` (repeated ${seen.suppressed} more times)` : '';
    remember(text, { at: now, suppressed: 0 });
    try {
      sink(level, text + repeats);
    } catch {
      // a closed stderr must not take the logger down with it
    }
  };
  return {
    error: (text) => emit('error', text),
    warn: (text) => emit('warning', text),
    info: (text) => emit('info', text),
  };
}

/**
 * `logweaver-pino: error: ...` on stderr, written synchronously to fd 2: a worker thread's
 * process.stderr goes through the main thread, which is blocked while Pino waits for the transport
 * at exit, so exactly the messages that matter most (what was not delivered) would be lost.
 */
export function stderrSink(level: ReportLevel, text: string): void {
  writeSync(2, `logweaver-pino: ${level}: ${text}\n`);
}
