// One benchmark process. Usage: node bench/app.mjs <case> <count>
//   main-logweaver | main-file | main-sync   main-thread cost per logger.info and event-loop delay p99
//   e2e-transport                            records per second until every row is committed
//   emit                                     pino lines on stdout, for the pipe-mode cases
//   exit                                     logs <count> records at once, then process.exit():
//                                            prints the time of the exit call on stderr
// Prints one JSON line with its measurements on stdout (except emit).
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
  return pino.transport({ target: TARGET, options: { application: process.env.BENCH_APPLICATION ?? 'bench' } });
}

const stream = destination();
const logger = pino(stream);
const fields = Array.from({ length: count }, (_, seq) => recordFields(seq));
const messages = Array.from({ length: count }, (_, seq) => recordMessage(seq));

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

if (kind === 'emit') {
  await logInChunks();
} else if (kind === 'exit') {
  await new Promise((resolve) => stream.once('ready', resolve));
  logRange(0, count);
  process.stderr.write(`exit-called-at ${Date.now()}\n`);
  process.exit(0);
} else if (kind === 'e2e-transport') {
  await new Promise((resolve) => stream.once('ready', resolve));
  const started = performance.now();
  await logInChunks();
  await flushed();
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ rowsPerSecond: count / seconds, seconds })}\n`);
} else {
  if (kind !== 'main-sync') await new Promise((resolve) => stream.once('ready', resolve));
  const result = await logInChunks();
  if (kind !== 'main-sync') await flushed();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
