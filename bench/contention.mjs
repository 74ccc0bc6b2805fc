// Why the main-thread targets are missed on this machine: node bench/contention.mjs [--rounds 5]
// Measures pino/file's own ns per logger.info and event-loop delay p99 (bench/app.mjs main-file, the
// baseline of the main-thread targets) with the second core idle, and again while one other process
// keeps the second core busy: at nice 0, as the PostgreSQL backend is while it takes a COPY, and at
// nice 10, as logweaver-pino's worker is. logweaver-pino's transport writing to a local server
// (main-logweaver) is measured in the same rounds. Interleaved rounds, medians with min and max,
// ratios against the idle baseline of the same run.
// Uses LOGWEAVER_BENCH_DATABASE_URL when set (a superuser URL); otherwise starts a throwaway server.
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPrivateServer } from '../support/private-postgres.mjs';
import { format, median, summarise } from './summary.mjs';

const APP = fileURLToPath(new URL('./app.mjs', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, records: { type: 'string', default: '200000' } },
});
const ROUNDS = Number(values.rounds);
const RECORDS = values.records;

/** A busy loop at the given nice value until stopped: one core's worth of demand. */
function startBusyProcess(nice) {
  return spawn('nice', ['-n', String(nice), process.execPath, '-e', 'for (;;);'], { stdio: 'ignore' });
}

function runApp(kind, url) {
  const output = execFileSync(process.execPath, [APP, kind, RECORDS], {
    env: { ...process.env, LOGWEAVER_DATABASE_URL: url },
    encoding: 'utf8',
  });
  return JSON.parse(output);
}

async function withBusyCore(nice, measure) {
  const busy = startBusyProcess(nice);
  await new Promise((resolve) => setTimeout(resolve, 300)); // let it reach its core
  try {
    return measure();
  } finally {
    busy.kill('SIGKILL');
  }
}

const CASES = {
  'pino/file, second core idle': async () => runApp('main-file'),
  'pino/file, second core busy at nice 0 (as a PostgreSQL backend)': async () =>
    withBusyCore(0, () => runApp('main-file')),
  'pino/file, second core busy at nice 10 (as the worker)': async () => withBusyCore(10, () => runApp('main-file')),
  'logweaver-pino transport, local PostgreSQL': async (url) => runApp('main-logweaver', url),
};

async function main() {
  const configured = process.env.LOGWEAVER_BENCH_DATABASE_URL;
  const server = configured ? undefined : await startPrivateServer('bench-contention');
  const url = configured ?? server.url;
  const samples = Object.fromEntries(Object.keys(CASES).map((name) => [name, []]));
  try {
    execFileSync(process.execPath, [CLI, 'schema', 'apply', '--database-url', url], { stdio: 'ignore' });
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, measure] of Object.entries(CASES)) {
        samples[name].push(await measure(url));
        await truncate(url);
      }
      process.stderr.write(`round ${round}/${ROUNDS} done\n`);
    }
  } finally {
    await server?.remove();
  }
  report(samples);
}

async function truncate(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('TRUNCATE log');
  await client.end();
}

/** "median (min-max)" of the samples, and the median's ratio to the baseline's. */
function cell(values, baseline, digits) {
  const { median: middle, min, max } = summarise(values);
  return `${format(middle, digits)} (${format(min, digits)}-${format(max, digits)}) | ${format(middle / median(baseline), 2)}`;
}

function report(samples) {
  const [baseline] = Object.values(samples);
  const ns = (runs) => runs.map((s) => s.nsPerCall);
  const p99 = (runs) => runs.map((s) => s.loopDelayP99Ms);
  const lines = [
    `main-thread cost of ${RECORDS} logger.info calls, ${ROUNDS} interleaved rounds: median (min-max); ratio to the first row`,
    '| case | ns per call | ratio | event-loop p99, ms | ratio |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const [name, runs] of Object.entries(samples)) {
    lines.push(`| ${name} | ${cell(ns(runs), ns(baseline), 0)} | ${cell(p99(runs), p99(baseline), 2)} |`);
  }
  console.log(lines.join('\n'));
}

await main();
