// One benchmark process. Usage: node bench/app.mjs <case> <count>
//   main-logweaver | main-file | main-sync   main-thread cost per logger.info and event-loop delay p99,
//                                            logging as fast as it can (a tight burst); with the main
//                                            thread's CPU per record and the process's peak RSS
//   paced-logweaver | paced-file             the same at a steady 20,000 calls/s: 100 every 5 ms
//   e2e-transport                            records per second until every row is committed; the
//                                            worker's and the main thread's CPU per record, peak RSS
//                                            and the worker's peak memory
//   emit                                     pino lines on stdout, for the pipe-mode cases
//   exit                                     logs <count> records at once, then process.exit():
//                                            prints the time of the exit call on stderr
//   steady                                   logs <count> records per second until SIGTERM (needs
//                                            --expose-gc), printing memory and stats lines (see below)
// Prints one JSON line with its measurements on stdout (except emit and steady).
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { recordFields, recordMessage } from './records.mjs';

const TARGET = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const [kind, countText = '200000'] = process.argv.slice(2);
const count = Number(countText);
const CHUNK = 1000;

function destination() {
  if (kind.endsWith('-file')) return pino.transport({ target: 'pino/file', options: { destination: '/dev/null' } });
  if (kind === 'main-sync') return pino.destination({ dest: '/dev/null', sync: true });
  if (kind === 'emit') return pino.destination({ dest: 1, sync: false });
  const options = { application: process.env.BENCH_APPLICATION ?? 'bench' };
  if (kind === 'steady') Object.assign(options, { statsInterval: 100, spoolDir: process.env.BENCH_SPOOL_DIR });
  if (kind === 'e2e-transport') Object.assign(options, { statsInterval: 50 });
  return pino.transport({ target: TARGET, options });
}

const stream = destination();
const logger = pino(stream);
// Prepared in advance, so that the timed loop measures logging only (steady makes its records as it goes).
const prepared = kind === 'steady' ? 0 : count;
const fields = Array.from({ length: prepared }, (_, seq) => recordFields(seq));
const messages = Array.from({ length: prepared }, (_, seq) => recordMessage(seq));

function logRange(from, to) {
  for (let seq = from; seq < to; seq++) logger.info(fields[seq], messages[seq]);
}

/**
 * Logs in chunks of CHUNK records, one chunk per turn of the event loop, as a busy service does
 * (a service that never yields cannot serve requests either). Every case logs this way.
 */
function logInChunks() {
  return logPaced(CHUNK, (step) => setImmediate(step));
}

/** A steady service: PACED_BURST calls every PACED_EVERY_MS ms, 20,000 calls per second. */
const PACED_BURST = 100;
const PACED_EVERY_MS = 5;

function logAtSteadyRate() {
  const started = performance.now();
  let bursts = 0;
  return logPaced(PACED_BURST, (step) => {
    bursts++;
    setTimeout(step, Math.max(0, started + bursts * PACED_EVERY_MS - performance.now()));
  });
}

/** Logs `size` records per step, scheduling each next step with `schedule`. */
function logPaced(size, schedule) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let callNs = 0n;
  let next = 0;
  const cpuBefore = threadCpuUs();
  delay.enable();
  return new Promise((resolve) => {
    const step = () => {
      const started = process.hrtime.bigint();
      logRange(next, Math.min(next + size, count));
      callNs += process.hrtime.bigint() - started;
      next += size;
      if (next < count) schedule(step);
      else {
        delay.disable();
        resolve({
          nsPerCall: Number(callNs) / count,
          loopDelayP99Ms: delay.percentile(99) / 1e6,
          mainCpuUsPerRecord: (threadCpuUs() - cpuBefore) / count,
        });
      }
    };
    schedule(step);
  });
}

/** This thread's CPU time in µs (/proc/thread-self: process.cpuUsage() sums every thread). */
function threadCpuUs() {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const [utime, stime] = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .slice(11, 13)
    .map(Number);
  return (utime + stime) * 10_000; // 100 ticks a second
}

/** The process's peak resident memory so far, in MB. */
function peakRssMB() {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
}

/** The worker's CPU time (µs) and memory (bytes) as of its next logweaver:stats event. */
function nextWorkerStats() {
  const keepAlive = setInterval(() => undefined, 1000); // the worker is unref'd once ready
  return new Promise((resolve) =>
    stream.once('logweaver:stats', ({ workerCpu, workerMemory }) => {
      clearInterval(keepAlive);
      resolve({ cpu: workerCpu.user + workerCpu.system, memory: workerMemory.heapUsed + workerMemory.external });
    }),
  );
}

/**
 * With BENCH_WAIT_FOR_GO, says "ready" on stderr and waits for a line on stdin: several processes
 * started together then log at the same moment, whatever their start-up took (bench/writers.mjs).
 */
function goSignal() {
  if (!process.env.BENCH_WAIT_FOR_GO) return Promise.resolve();
  process.stderr.write('ready\n');
  return new Promise((resolve) => process.stdin.once('data', resolve));
}

function flushed() {
  return new Promise((resolve, reject) => logger.flush((error) => (error ? reject(error) : resolve())));
}

/**
 * Logs `rate` records per second in 10 ms slices until SIGTERM, then flushes and exits. Prints JSON
 * lines: {"at", "stats"} for every logweaver:stats event of the worker (counters, spool bytes and its
 * own memory), {"at", "mainMemory"} every second (the main thread's heapUsed + external after a full
 * GC; rss would include the worker), and {"logged": n} on SIGTERM.
 */
function logSteadily(rate) {
  const print = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);
  stream.on('logweaver:stats', (stats) => print({ at: Date.now(), stats }));
  let seq = 0;
  const started = Date.now();
  const ticker = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * rate) / 1000);
    for (; seq < due; seq++) logger.info(recordFields(seq), recordMessage(seq));
  }, 10);
  const sampler = setInterval(() => {
    globalThis.gc();
    const { heapUsed, external } = process.memoryUsage(); // external includes arrayBuffers
    print({ at: Date.now(), mainMemory: heapUsed + external });
  }, 1000);
  process.once('SIGTERM', () => {
    clearInterval(ticker);
    clearInterval(sampler);
    print({ logged: seq });
    logger.flush(() => process.exit(0));
  });
}

if (kind === 'steady') {
  if (typeof globalThis.gc !== 'function') throw new Error('steady needs node --expose-gc');
  await new Promise((resolve) => stream.once('ready', resolve));
  logSteadily(count);
} else if (kind === 'emit') {
  await logInChunks();
} else if (kind === 'exit') {
  await new Promise((resolve) => stream.once('ready', resolve));
  logRange(0, count);
  process.stderr.write(`exit-called-at ${Date.now()}\n`);
  process.exit(0);
} else if (kind === 'e2e-transport') {
  await new Promise((resolve) => stream.once('ready', resolve));
  const workerBefore = await nextWorkerStats();
  let workerPeakMemory = workerBefore.memory;
  stream.on('logweaver:stats', ({ workerMemory }) => {
    workerPeakMemory = Math.max(workerPeakMemory, workerMemory.heapUsed + workerMemory.external);
  });
  await goSignal();
  const started = performance.now();
  const startedAt = Date.now();
  const { mainCpuUsPerRecord } = await logInChunks();
  await flushed();
  const seconds = (performance.now() - started) / 1000;
  const workerAfter = await nextWorkerStats(); // the worker is idle by then: its CPU time is final
  const result = {
    rowsPerSecond: count / seconds,
    seconds,
    startedAt, // epoch ms, so that several processes' windows can be joined (bench/writers.mjs)
    endedAt: startedAt + seconds * 1000,
    workerCpuUsPerRecord: (workerAfter.cpu - workerBefore.cpu) / count,
    mainCpuUsPerRecord,
    peakRssMB: peakRssMB(),
    workerPeakMB: Math.max(workerPeakMemory, workerAfter.memory) / 1024 / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  if (kind !== 'main-sync') await new Promise((resolve) => stream.once('ready', resolve));
  const result = await (kind.startsWith('paced-') ? logAtSteadyRate() : logInChunks());
  if (kind !== 'main-sync') await flushed();
  process.stdout.write(`${JSON.stringify({ ...result, peakRssMB: peakRssMB() })}\n`);
}
