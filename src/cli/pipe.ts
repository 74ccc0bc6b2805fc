/**
 * Pipe mode: `node app.js | logweaver-pino`. The same pipeline as the transport, fed from stdin.
 *
 * Ctrl-C reaches every process of the pipeline. The application dies, but what it already wrote is
 * still in the pipe, so this process ignores SIGINT and SIGTERM, reads until stdin ends (or a
 * deadline passes), writes everything, prints a summary and exits 0.
 *
 * When the database is slower than the input for longer than the buffer can absorb, the reader stops
 * reading instead of dropping records: the pipe fills and the application's writes wait.
 */
import type { Readable, Writable } from 'node:stream';
import { LineSplitter } from '../lines.js';
import type { ResolvedOptions } from '../options.js';
import { createPipeline } from '../pipeline.js';
import { createReporter, stderrSink } from '../report.js';

export interface PipeIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Echo every input line to stdout, so `| pino-pretty` can still follow. */
  tee: boolean;
}

/** After a signal, how long stdin may take to end before the reader stops and writes what it has. */
export const DRAIN_DEADLINE_MS = 10_000;
const CLOSE_DEADLINE_MS = 8_000;

export async function runPipe(options: ResolvedOptions, io: PipeIo): Promise<number> {
  const pipeline = createPipeline(options, createReporter(stderrSink));
  pipeline.start();
  const input = stdinLines(io.stdin);
  const signals = keepReadingThroughSignals(input.stop);
  const statsTimer = printStatsEvery(options.statsInterval, () => JSON.stringify(pipeline.stats));
  let read = 0;
  let tee = io.tee;
  io.stdout.on('error', () => {
    tee = false; // the reader of our stdout went away (EPIPE): keep storing, stop echoing
  });
  for await (const lines of input.chunks) {
    for (const line of lines) {
      if (line.trim() === '') continue; // blank lines carry nothing; they are not counted as read
      read++;
      if (tee) io.stdout.write(`${line}\n`);
      pipeline.push(line);
      // Rather than drop, stop reading: the pipe fills and the application's writes wait for us.
      if (pipeline.congested) await Promise.race([pipeline.drained(), signals.deadlinePassed]);
    }
  }
  // Signals stay ignored until everything is written or spooled: a second Ctrl-C must not lose it.
  clearInterval(statsTimer);
  const { undelivered, stats } = await pipeline.close(CLOSE_DEADLINE_MS);
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
 * The lines of stdin, a chunk's worth at a time, cut by LineSplitter (readline cost more per line:
 * bench/README.md). While the loop waits for the database, no more is read, so the pipe fills.
 * stop() ends the iteration, also while it waits for input.
 */
function stdinLines(stdin: Readable): { chunks: AsyncGenerator<string[]>; stop: () => void } {
  let stopped = false;
  let pending: string[] = [];
  const splitter = new LineSplitter((line) => pending.push(line), true);
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

function keepReadingThroughSignals(stopReading: () => void): { stop: () => void; deadlinePassed: Promise<void> } {
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
    stop: () => {
      clearTimeout(deadline);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
