// One benchmark process. Usage: node bench/app.mjs <case> <count>
//   main-logweaver | main-file | main-sync   main-thread cost per logger.info and event-loop delay p99
//   e2e-transport                            records per second until every row is committed
//   emit                                     pino lines on stdout, for the pipe-mode cases
//   exit                                     logs <count> records at once, then process.exit():
//                                            prints the time of the exit call on stderr
//   steady                                   logs <count> records per second until SIGTERM (needs
//                                            --expose-gc), printing memory and stats lines (see below)
// Prints one JSON line with its measurements on stdout (except emit and steady).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { recordFields, recordMessage } from './records.mjs';

const TARGET = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const [kind, countText = '200000'] = process.argv.slice(2);
const count = Number(countText);
const CHUNK = 1000;

function destination() {
  if (kind === 'main-file') return pino.transport({ target: 'pino/file', options: { destination: '/dev/null' } });
  if (kind === 'main-sync') return pino.destination({ dest: '/dev/null', sync: true });
  if (kind === 'emit') return pino.destination({ dest: 1, sync: false });
  const options = { application: process.env.BENCH_APPLICATION ?? 'bench' };
  if (kind === 'steady') Object.assign(options, { statsInterval: 100, spoolDir: process.env.BENCH_SPOOL_DIR });
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
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let callNs = 0n;
  let next = 0;
  delay.enable();
  return new Promise((resolve) => {
    const step = () => {
      const started = process.hrtime.bigint();
      logRange(next, Math.min(next + CHUNK, count));
      callNs += process.hrtime.bigint() - started;
      next += CHUNK;
      if (next < count) setImmediate(step);
      else {
        delay.disable();
        resolve({ nsPerCall: Number(callNs) / count, loopDelayP99Ms: delay.percentile(99) / 1e6 });
      }
    };
    setImmediate(step);
  });
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
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await logInChunks();
  await flushed();
  const seconds = (performance.now() - started) / 1000;
  // CPU of both threads (the main thread logging, the worker parsing, encoding and sending): steadier
  // than the rate on a busy machine.
  const { user, system } = process.cpuUsage(cpuBefore);
  const cpuUsPerRecord = (user + system) / count;
  process.stdout.write(`${JSON.stringify({ rowsPerSecond: count / seconds, seconds, cpuUsPerRecord })}\n`);
} else {
  if (kind !== 'main-sync') await new Promise((resolve) => stream.once('ready', resolve));
  const result = await logInChunks();
  if (kind !== 'main-sync') await flushed();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
