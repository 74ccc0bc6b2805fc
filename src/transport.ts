/**
 * Transport entry: runs inside the worker thread that `pino.transport()` starts.
 *
 *   pino (main thread) ─▶ thread-stream shared buffer ─▶ this worker: lineStream (lines.ts) ─▶ Pipeline
 *
 * The factory validates the options and returns at once: it never waits for (or fails because of)
 * the database, which the pipeline reaches in the background. Trouble is reported on stderr and as
 * `logweaver:*` events on the transport stream, never as the stream's fatal 'error'.
 */
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { errorText } from './errors.js';
import { lineStream } from './ingest/lines.js';
import { resolveOptions, type LogweaverOptions } from './options.js';
import { createPipeline, type LoggerConfig, type Pipeline } from './ingest/pipeline.js';
import { createReporter, stderrSink, type ReportLevel } from './report.js';
import { startRetention } from './write/retention-schedule.js';

/**
 * Pino gives up on a transport about 10 s after exit begins; the final flush must end well before.
 * What is still unwritten after this deadline is reported on stderr.
 */
const EXIT_FLUSH_DEADLINE_MS = 7_000;

export default function logweaverTransport(options: LogweaverOptions = {}) {
  const resolved = resolveOptions(options, process.env);
  const worker = pinoWorker();
  if (!worker.sharesThread) yieldToTheApplication();
  const reporter = createReporter(workerSink);
  const pipeline = createPipeline(resolved, reporter);
  pipeline.start();
  const gate = new LoggerConfigGate(pipeline, pinoWillSendConfig(options) || worker.willSendConfig);
  const stopRetention = startRetention(resolved, reporter, () => pipeline.stats.runNumber);
  const stopStats = postStatsEvery(resolved.statsInterval, pipeline);
  const stopTimers = () => {
    stopStats();
    stopRetention();
  };

  // Not pino-abstract-transport: its split2 encodes and decodes every chunk again, 11 % more of the
  // worker's CPU per record, and its expectPinoConfig would deadlock an application that waits for
  // 'ready' before it creates its logger (bench/README.md, decisions 10 and 19).
  const stream = lineStream(
    (line) => gate.push(line),
    () => closeWorker(pipeline, gate, stopTimers, unregister),
  );
  const flushAll = () => flushStream(stream, gate, pipeline);
  const unregister = worker.inPinoWorker ? holdFlushAnswersFor(flushAll) : () => undefined;
  return Object.assign(stream, {
    flush: (done: (error?: Error) => void) => void flushAll().then(() => done(), done),
  });
}

/**
 * Where this target runs. With `targets:` or `pipeline:`, Pino's own worker (pino/lib/worker.js)
 * calls this factory with the target's own options: what Pino tells the worker as a whole, such as
 * whether it will send the logger's config, is then in workerData, beside the list of targets.
 */
function pinoWorker(): { inPinoWorker: boolean; sharesThread: boolean; willSendConfig: boolean } {
  const data = (workerData as { workerData?: Record<string, unknown> } | null)?.workerData;
  const targets = Array.isArray(data?.targets) ? data.targets.length : 0;
  const pipelines = Array.isArray(data?.pipelines) ? data.pipelines.length : 0;
  return {
    inPinoWorker: Array.isArray(data?.targets) || Array.isArray(data?.pipelines),
    sharesThread: targets + pipelines > 1,
    willSendConfig: data?.pinoWillSendConfig === true,
  };
}

/** Writes what is left, within the exit deadline. Never rejects: an error here would reach the
 * application as the stream's fatal 'error'. */
async function closeWorker(
  pipeline: Pipeline,
  gate: LoggerConfigGate,
  stopTimers: () => void,
  unregister: () => void,
): Promise<void> {
  try {
    stopTimers();
    unregister();
    await gate.settle();
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
 * Not when other targets share the thread (`targets:`): their priority is not ours to lower.
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
    // The wait ends in the check phase, after the poll phase that delivers a message already queued:
    // a worker starved of CPU (nice 10 on a busy machine) wakes with both due, and timers run first.
    this.timer ??= setTimeout(() => setImmediate(() => this.open({})), CONFIG_WAIT_MS);
  }

  /**
   * Ends the wait at close. The config may be queued on the port still: a worker slow to start can
   * read the lines and the end of the stream in one turn, before the poll phase that delivers it
   * (seen on Node 24 under load). One turn through the poll phase first; then the defaults.
   */
  async settle(): Promise<void> {
    if (!this.waiting) return;
    await new Promise((resolve) => setTimeout(() => setImmediate(resolve), 0));
    this.open({});
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

/**
 * thread-stream calls this for `logger.flush(cb)`: waits for lines still in the stream, then for
 * them to be committed, or safely in the spool when the database cannot take them now (a flush
 * must not wait for an outage to end).
 */
async function flushStream(stream: Writable, gate: LoggerConfigGate, pipeline: Pipeline): Promise<void> {
  // Pino posts its config before any flush request on the same port, so lines still held here
  // belong to a stream used without a pino logger: write them with the defaults.
  gate.open({});
  while (stream.writableLength > 0) await new Promise(setImmediate);
  await pipeline.flush({ orSpooled: true });
}

/** The flushes of this thread's logweaver targets, which a flush answer waits for. */
const flushesInThisThread = new Set<() => Promise<void>>();

/**
 * In Pino's own worker the destination thread-stream flushes is Pino's multistream or pipeline,
 * which has no flush of its own, so the answer to `logger.flush(cb)` would go back at once, before
 * any row is committed. This holds thread-stream's answer (its FLUSHED message) until every
 * logweaver target in the thread has flushed what it had received. Returns the unregistering call.
 */
function holdFlushAnswersFor(flush: () => Promise<void>): () => void {
  const port = parentPort;
  if (!port) return () => undefined;
  if (flushesInThisThread.size === 0 && !holding) holdFlushAnswers(port);
  flushesInThisThread.add(flush);
  return () => flushesInThisThread.delete(flush);
}

let holding = false;

function holdFlushAnswers(port: NonNullable<typeof parentPort>): void {
  holding = true;
  const post = port.postMessage.bind(port);
  port.postMessage = (message: unknown, transfer?: Parameters<typeof post>[1]) => {
    if (!isFlushAnswer(message)) return post(message, transfer);
    // A turn later: lines Pino's multistream is still handing to the targets reach them first.
    setImmediate(() => {
      void Promise.allSettled([...flushesInThisThread].map((flush) => flush())).then(() => post(message, transfer));
    });
  };
}

function isFlushAnswer(message: unknown): boolean {
  const { code, context } = (message ?? {}) as { code?: unknown; context?: unknown };
  return code === 'FLUSHED' && context === 'thread-stream';
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
    const workerMemory = { heapUsed, external, arrayBuffers };
    postEvent('logweaver:stats', { ...pipeline.stats, workerMemory, workerCpu: threadCpu() });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Clock ticks per second of /proc's times: 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * This thread's own CPU time in µs ({ user, system }), which process.cpuUsage() cannot give before
 * Node 23 (it sums every thread); from /proc/thread-self on Linux, undefined elsewhere.
 */
function threadCpu(): { user: number; system: number } | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const [utime, stime] = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .slice(11, 13)
      .map((ticks) => (Number(ticks) * 1_000_000) / TICKS_PER_SECOND);
    return utime === undefined || stime === undefined ? undefined : { user: utime, system: stime };
  } catch {
    return undefined;
  }
}

function workerSink(level: ReportLevel, text: string): void {
  stderrSink(level, text);
  postEvent(`logweaver:${level}`, text);
}

/** thread-stream re-emits EVENT messages on the application's transport stream. */
function postEvent(name: string, payload: unknown): void {
  parentPort?.postMessage({ code: 'EVENT', name, args: [payload] });
}
