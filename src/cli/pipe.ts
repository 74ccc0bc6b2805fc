/**
 * Pipe mode: `node app.js | logweaver-pino`. The same pipeline as the transport, fed from stdin.
 *
 * Ctrl-C reaches every process of the pipeline. The application dies, but what it already wrote is
 * still in the pipe, so this process ignores SIGINT and SIGTERM, reads until stdin ends (or a
 * deadline passes), writes everything, prints a summary and exits 0.
 *
 * When the database is slower than the input for longer than the buffer can absorb, the reader stops
 * reading instead of dropping records: the pipe fills and the application's writes wait. With --tee,
 * a slow reader of stdout holds up reading the same way.
 */
import type { Readable, Writable } from 'node:stream';
import { LineSplitter } from '../ingest/lines.js';
import type { ResolvedOptions } from '../options.js';
import { createPipeline } from '../ingest/pipeline.js';
import { createReporter, stderrSink } from '../report.js';
import { startRetention } from '../write/retention-schedule.js';

interface PipeIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Echo every input line to stdout, so `| pino-pretty` can still follow. */
  tee: boolean;
}

/** After a signal, how long stdin may take to end before the reader stops and writes what it has. */
const DRAIN_DEADLINE_MS = 10_000;
/** How long the exit waits for the database (for its next commit, when no signal hurries it). */
const CLOSE_DEADLINE_MS = 8_000;

export async function runPipe(options: ResolvedOptions, io: PipeIo): Promise<number> {
  const reporter = createReporter(stderrSink);
  const pipeline = createPipeline(options, reporter);
  pipeline.start();
  const stopRetention = startRetention(options, reporter, () => pipeline.stats.runNumber);
  // Lines cut while they were read, with their whole size, for the stored marker.
  const cutLines = new Map<string, number>();
  const input = stdinLines(io.stdin, options.maxRecordBytes, (line, bytes) => {
    cutLines.set(line, bytes);
    reporter.warn(
      `a line of ${bytes} bytes was cut while it was read: only its first ${options.maxRecordBytes} bytes are stored`,
    );
  });
  const signals = keepReadingThroughSignals(input.stop);
  const statsTimer = printStatsEvery(options.statsInterval, () => JSON.stringify(pipeline.stats));
  const echo = createEcho(io.stdout, io.tee);
  let read = 0;
  for await (const lines of input.chunks) {
    for (const line of lines) {
      if (line.trim() === '') continue; // blank lines carry nothing; they are not counted as read
      read++;
      pipeline.push(line, cutLines.size > 0 ? wholeSize(cutLines, line) : undefined);
      // A slow reader of our stdout holds up stdin, as the database does; neither loses a line.
      if (!echo.write(line)) await Promise.race([echo.drained(), signals.deadlinePassed]);
      // Rather than drop, stop reading: the pipe fills and the application's writes wait for us.
      if (pipeline.congested) await Promise.race([pipeline.drained(), signals.deadlinePassed]);
    }
  }
  // Signals stay ignored until everything is written or spooled: a second Ctrl-C must not lose it.
  clearInterval(statsTimer);
  stopRetention();
  // Until a signal asks this process to stop, nothing waits for it: a database that keeps
  // committing is waited for, however much is left (a backlog in the spool, say).
  const { undelivered, stats } = await pipeline.close(CLOSE_DEADLINE_MS, { whileProgressing: signals.none });
  signals.stop();
  const dropped = stats.dropped > 0 ? `, dropped ${stats.dropped}` : '';
  const truncated = stats.truncated > 0 ? `, truncated ${stats.truncated}` : '';
  const missed = undelivered > 0 ? `, NOT delivered ${undelivered}` : '';
  io.stderr.write(
    `logweaver-pino: read ${read} lines, wrote ${stats.written} rows${truncated}${dropped}${missed}, ` +
      `run ${stats.runNumber ?? 'not allocated'} of ${options.application}\n`,
  );
  return undelivered > 0 || stats.dropped > 0 ? 1 : 0;
}

/**
 * --tee: every line echoed to stdout. write() returns false when stdout's buffer is full (a slow
 * `| pino-pretty`, a paused `| less`): reading waits for drained() rather than buffer without limit.
 * Once the reader of our stdout has gone (EPIPE), echoing stops and storing goes on.
 */
function createEcho(stdout: Writable, enabled: boolean): { write(line: string): boolean; drained(): Promise<void> } {
  let echoing = enabled;
  stdout.on('error', () => (echoing = false));
  return {
    write: (line) => !echoing || stdout.write(`${line}\n`),
    drained: () =>
      new Promise<void>((resolve) => {
        if (!echoing || !stdout.writableNeedDrain) return resolve();
        const done = () => {
          for (const event of ['drain', 'close', 'error']) stdout.off(event, done);
          resolve();
        };
        for (const event of ['drain', 'close', 'error']) stdout.once(event, done);
      }),
  };
}

/** The whole size of a line that was cut while it was read (and forgets it), else undefined. */
function wholeSize(cutLines: Map<string, number>, line: string): number | undefined {
  const bytes = cutLines.get(line);
  cutLines.delete(line);
  return bytes;
}

/**
 * The lines of stdin, a chunk's worth at a time, cut by LineSplitter (readline cost more per line:
 * bench/README.md). While the loop waits for the database or for stdout, no more is read, so the
 * pipe fills. A line of no end (no newline ever) holds at most maxRecordBytes + 1 characters.
 * stop() ends the iteration, also while it waits for input.
 */
function stdinLines(
  stdin: Readable,
  maxRecordBytes: number,
  onCut: (line: string, lineBytes: number) => void,
): { chunks: AsyncGenerator<string[]>; stop: () => void } {
  let stopped = false;
  let pending: string[] = [];
  // A line is held up to one character past the record limit, so that the pipeline still sees it as
  // too long and stores it truncated, with its marker; the rest of it is skipped as it arrives.
  const splitter = new LineSplitter(
    (line, cutBytes) => {
      pending.push(line);
      if (cutBytes > 0) onCut(line, Buffer.byteLength(line) + cutBytes);
    },
    true,
    maxRecordBytes + 1,
  );
  const take = () => {
    const lines = pending;
    pending = [];
    return lines;
  };
  async function* chunks(): AsyncGenerator<string[]> {
    stdin.setEncoding('utf8');
    try {
      for await (const chunk of stdin) {
        splitter.write(chunk as string);
        yield take();
        if (stopped) return;
      }
    } catch (error) {
      if (stopped) return; // destroyed by stop(): a premature close, as intended
      throw error;
    }
    splitter.end();
    yield take();
  }
  const stop = () => {
    stopped = true;
    stdin.destroy();
  };
  return { chunks: chunks(), stop };
}

function printStatsEvery(intervalMs: number, stats: () => string): NodeJS.Timeout | undefined {
  if (intervalMs === 0) return undefined;
  return setInterval(() => stderrSink('info', `stats ${stats()}`), intervalMs).unref();
}

function keepReadingThroughSignals(stopReading: () => void): {
  stop: () => void;
  deadlinePassed: Promise<void>;
  none: () => boolean;
} {
  let deadline: NodeJS.Timeout | undefined;
  let passed: () => void = () => undefined;
  const deadlinePassed = new Promise<void>((resolve) => (passed = resolve));
  const onSignal = () => {
    deadline ??= setTimeout(() => {
      stopReading();
      passed();
    }, DRAIN_DEADLINE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    deadlinePassed,
    none: () => deadline === undefined,
    stop: () => {
      clearTimeout(deadline);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
