/**
 * Transport entry: runs inside the worker thread that `pino.transport()` starts.
 *
 *   pino (main thread) ─▶ thread-stream shared buffer ─▶ this worker: split into lines ─▶ Pipeline
 *
 * The factory validates the options and returns at once: it never waits for (or fails because of)
 * the database, which the pipeline reaches in the background. Trouble is reported on stderr and as
 * `logweaver:*` events on the transport stream, never as the stream's fatal 'error'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import build from 'pino-abstract-transport';
import { resolveOptions, type LogweaverOptions } from './options.js';
import { createPipeline, type LoggerConfig, type Pipeline } from './pipeline.js';
import { createReporter, stderrSink, type ReportLevel } from './report.js';

/**
 * Pino gives up on a transport about 10 s after exit begins; the final flush must end well before.
 * What is still unwritten after this deadline is reported on stderr.
 */
export const EXIT_FLUSH_DEADLINE_MS = 7_000;

// pino-abstract-transport parses every line with JSON.parse unless given a parseLine; the pipeline
// parses once itself, so this returns a constant object that makes the split stream pass lines as-is.
const LINE_PASSES_THROUGH = Object.freeze({});

export default async function logweaverTransport(options: LogweaverOptions = {}) {
  const resolved = resolveOptions(options, process.env);
  const pipeline = createPipeline(resolved, createReporter(workerSink));
  pipeline.start();
  const pinoWillSendConfig = (workerData as { workerData?: { pinoWillSendConfig?: boolean } } | undefined)?.workerData
    ?.pinoWillSendConfig === true;

  const stream = await build(
    (source: NodeJS.ReadableStream & LoggerConfig) => {
      if (pinoWillSendConfig) pipeline.configure(source);
      source.on('data', (line: string) => pipeline.push(line));
    },
    {
      parse: 'lines',
      parseLine: () => LINE_PASSES_THROUGH,
      metadata: false,
      expectPinoConfig: pinoWillSendConfig,
      close: async () => {
        const { stats } = await pipeline.close(EXIT_FLUSH_DEADLINE_MS);
        postEvent('logweaver:closed', stats);
      },
    },
  );
  return Object.assign(stream, { flush: (done: (error?: Error) => void) => flushStream(stream, pipeline, done) });
}

/** thread-stream calls this for `logger.flush(cb)`: wait for lines still in the split stream, then commit. */
function flushStream(stream: NodeJS.ReadWriteStream & { readableLength?: number; writableLength?: number }, pipeline: Pipeline, done: (error?: Error) => void): void {
  const waitForLines = () => {
    if ((stream.readableLength ?? 0) > 0 || (stream.writableLength ?? 0) > 0) {
      setImmediate(waitForLines);
      return;
    }
    pipeline.flush().then(() => done(), done);
  };
  waitForLines();
}

function workerSink(level: ReportLevel, text: string): void {
  stderrSink(level, text);
  postEvent(`logweaver:${level}`, text);
}

/** thread-stream re-emits EVENT messages on the application's transport stream. */
function postEvent(name: string, payload: unknown): void {
  parentPort?.postMessage({ code: 'EVENT', name, args: [payload] });
}
