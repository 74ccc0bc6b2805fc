/**
 * Transport entry: runs inside the worker thread that `pino.transport()` starts.
 *
 *   pino (main thread) ─▶ thread-stream shared buffer ─▶ this worker: lineStream (lines.ts) ─▶ Pipeline
 *
 * The factory validates the options and returns at once: it never waits for (or fails because of)
 * the database, which the pipeline reaches in the background. Trouble is reported on stderr and as
 * `logweaver:*` events on the transport stream, never as the stream's fatal 'error'.
 */
import { setPriority } from 'node:os';
import type { Writable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { errorText } from './errors.js';
import { lineStream } from './lines.js';
import { resolveOptions, type LogweaverOptions } from './options.js';
import { createPipeline, type LoggerConfig, type Pipeline } from './pipeline.js';
import { createReporter, stderrSink, type ReportLevel } from './report.js';

/**
 * Pino gives up on a transport about 10 s after exit begins; the final flush must end well before.
 * What is still unwritten after this deadline is reported on stderr.
 */
export const EXIT_FLUSH_DEADLINE_MS = 7_000;

export default function logweaverTransport(options: LogweaverOptions = {}) {
  const resolved = resolveOptions(options, process.env);
  yieldToTheApplication();
  const pipeline = createPipeline(resolved, createReporter(workerSink));
  pipeline.start();
  const gate = new LoggerConfigGate(pipeline, pinoWillSendConfig(options));
  const stopStats = postStatsEvery(resolved.statsInterval, pipeline);

  // Not pino-abstract-transport: its split2 stream parsed every line with JSON.parse (the pipeline
  // parses once, later) and encoded and decoded every chunk again (lines.ts).
  const stream = lineStream(
    (line) => gate.push(line),
    () => closeWorker(pipeline, gate, stopStats),
  );
  return Object.assign(stream, {
    flush: (done: (error?: Error) => void) => flushStream(stream, gate, pipeline, done),
  });
}

/** Writes what is left, within the exit deadline. Never rejects: an error here would reach the
 * application as the stream's fatal 'error'. */
async function closeWorker(pipeline: Pipeline, gate: LoggerConfigGate, stopStats: () => void): Promise<void> {
  try {
    stopStats();
    gate.open({});
    const { stats } = await pipeline.close(EXIT_FLUSH_DEADLINE_MS);
    // The event does not arrive while the application's main thread waits for us at exit; the
    // stderr line does, and is printed only when something other than a plain write happened.
    postEvent('logweaver:closed', stats);
    if (stats.spooled > 0 || stats.dropped > 0 || stats.retried > 0 || stats.truncated > 0) {
      stderrSink('info', `closed: ${JSON.stringify(stats)}`);
    }
  } catch (error) {
    stderrSink('error', `closing failed: ${errorText(error)}`);
  }
}

/**
 * On Linux a nice value belongs to a thread: this worker runs at a lower priority than the
 * application's threads, so that when the cores are busy the application wins and the worker takes
 * the idle time (measured in bench/README.md). Elsewhere the call would lower the whole process.
 */
const WORKER_NICE = 10;

function yieldToTheApplication(): void {
  if (process.platform !== 'linux') return;
  try {
    setPriority(WORKER_NICE);
  } catch {
    // not permitted here: run at the normal priority
  }
}

function pinoWillSendConfig(options: LogweaverOptions): boolean {
  return (options as { pinoWillSendConfig?: unknown }).pinoWillSendConfig === true;
}

/**
 * Pino sends its levels, messageKey and errorKey to the worker when the logger is created, which may
 * be after the transport is ready (an application that waits for 'ready' first). Waiting for them in
 * the factory would deadlock that application, so lines are held here until the config arrives,
 * or CONFIG_WAIT_MS after the first line at the latest.
 */
const CONFIG_WAIT_MS = 1_000;

class LoggerConfigGate {
  private held: string[] | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pipeline: Pipeline,
    waitForConfig: boolean,
  ) {
    if (!waitForConfig || !parentPort) return;
    this.held = [];
    const onMessage = (message: { code?: string; config?: LoggerConfig } | null) => {
      if (message?.code !== 'PINO_CONFIG') return;
      parentPort?.off('message', onMessage);
      this.open(message.config ?? {});
    };
    parentPort.on('message', onMessage);
  }

  get waiting(): boolean {
    return this.held !== undefined;
  }

  push(line: string): void {
    if (!this.held) {
      this.pipeline.push(line);
      return;
    }
    this.held.push(line);
    this.timer ??= setTimeout(() => this.open({}), CONFIG_WAIT_MS);
  }

  open(config: LoggerConfig): void {
    const held = this.held;
    if (!held) return;
    clearTimeout(this.timer);
    this.held = undefined;
    this.pipeline.configure(config);
    for (const line of held) this.pipeline.push(line);
  }
}

/** thread-stream calls this for `logger.flush(cb)`: wait for lines still in the stream, then commit. */
function flushStream(
  stream: Writable,
  gate: LoggerConfigGate,
  pipeline: Pipeline,
  done: (error?: Error) => void,
): void {
  // Pino posts its config before any flush request on the same port, so lines still held here
  // belong to a stream used without a pino logger: write them with the defaults.
  gate.open({});
  const waitForLines = () => {
    if (stream.writableLength > 0) {
      setImmediate(waitForLines);
      return;
    }
    pipeline.flush().then(() => done(), done);
  };
  waitForLines();
}

/**
 * `logweaver:stats` events: the counters plus this worker's own memory, which the application cannot
 * see otherwise (process.memoryUsage().rss is the whole process; heapUsed, external and arrayBuffers
 * here are the worker's isolate).
 */
function postStatsEvery(intervalMs: number, pipeline: Pipeline): () => void {
  if (intervalMs === 0) return () => undefined;
  const timer = setInterval(() => {
    const { heapUsed, external, arrayBuffers } = process.memoryUsage();
    postEvent('logweaver:stats', { ...pipeline.stats, workerMemory: { heapUsed, external, arrayBuffers } });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function workerSink(level: ReportLevel, text: string): void {
  stderrSink(level, text);
  postEvent(`logweaver:${level}`, text);
}

/** thread-stream re-emits EVENT messages on the application's transport stream. */
function postEvent(name: string, payload: unknown): void {
  parentPort?.postMessage({ code: 'EVENT', name, args: [payload] });
}
