// npm run bench:writers [-- --records 200000 --writers 16 --rounds 3]
// Many writers into one table (issue 10): --writers processes log --records records between them
// through the transport at the same moment, against one process logging all of them, interleaved
// round by round. Every process starts its worker and connects first; then all log at once. Reports
// the aggregate rows/s of each (records over the union of their logging windows), their ratio, the peak number of the server's
// connections from logweaver-pino while they run, and checks that every record is stored once.
// Uses LOGWEAVER_BENCH_DATABASE_URL when set (a superuser URL); otherwise starts a throwaway server.
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPrivateServer } from '../support/private-postgres.mjs';
import { format, summarise } from './summary.mjs';

const APP = fileURLToPath(new URL('./app.mjs', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    writers: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
  },
});
const RECORDS = Number(values.records);
const WRITERS = Number(values.writers);
const ROUNDS = Number(values.rounds);

/**
 * One e2e-transport process, started and left waiting for the go signal (goSignal in app.mjs):
 * `ready` resolves once it waits, `go()` starts its logging, `result` is its JSON line.
 */
function e2eProcess(url, application, count) {
  const env = { ...process.env, DATABASE_URL: url, BENCH_APPLICATION: application, BENCH_WAIT_FOR_GO: '1' };
  const child = spawn(process.execPath, [APP, 'e2e-transport', String(count)], { env, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const ready = new Promise((resolve) =>
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.includes('ready\n')) resolve();
    }),
  );
  const result = new Promise((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`exit ${code}: ${stderr}`)),
    ),
  );
  return { ready, result, go: () => child.stdin.end('go\n') };
}

async function withClient(url, use) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Samples the server's logweaver-pino connections every 25 ms until stopped; resolves with the peak. */
function connectionPeak(url) {
  let peak = 0;
  let running = true;
  const sampling = withClient(url, async (client) => {
    while (running) {
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'logweaver-pino'",
      );
      peak = Math.max(peak, rows[0].n);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
  return async () => {
    running = false;
    await sampling;
    return peak;
  };
}

/** `writers` processes at once, RECORDS between them: aggregate rows/s over the union of their windows. */
async function measure(url, writers) {
  const application = `writers-${writers}`;
  const stopSampling = connectionPeak(url);
  const each = Math.floor(RECORDS / writers);
  const processes = Array.from({ length: writers }, () => e2eProcess(url, application, each));
  await Promise.all(processes.map((one) => one.ready));
  for (const one of processes) one.go();
  const results = await Promise.all(processes.map((one) => one.result));
  const peakConnections = await stopSampling();
  const started = Math.min(...results.map((result) => result.startedAt));
  const ended = Math.max(...results.map((result) => result.endedAt));
  const stored = await withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT count(*)::int AS records, count(DISTINCT (run_number, record->>'seq'))::int AS once,
              count(DISTINCT run_number)::int AS runs
         FROM log WHERE application_name = $1 AND record IS NOT NULL`,
      [application],
    );
    return rows[0];
  });
  const expected = { records: each * writers, once: each * writers, runs: writers };
  if (JSON.stringify(stored) !== JSON.stringify(expected)) {
    throw new Error(`${application}: stored ${JSON.stringify(stored)}, expected ${JSON.stringify(expected)}`);
  }
  return { rowsPerSecond: (each * writers) / ((ended - started) / 1000), peakConnections };
}

async function main() {
  const configured = process.env.LOGWEAVER_BENCH_DATABASE_URL;
  const server = configured ? undefined : await startPrivateServer('bench-writers');
  const admin = configured ?? server.url;
  await withClient(admin, (client) => client.query('DROP DATABASE IF EXISTS logweaver_bench_writers'));
  await withClient(admin, (client) => client.query('CREATE DATABASE logweaver_bench_writers'));
  const url = new URL(admin);
  url.pathname = '/logweaver_bench_writers';
  execFileSync(process.execPath, [CLI, 'schema', 'apply', '--database-url', url.toString()], { stdio: 'ignore' });
  console.log(
    `many writers: ${RECORDS} records per case, ${WRITERS} processes against 1, ${ROUNDS} rounds, node ${process.version}`,
  );
  const samples = { 1: [], [WRITERS]: [] };
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const writers of [1, WRITERS]) {
        await withClient(url.toString(), (client) => client.query('TRUNCATE log, log_runs, log_batches'));
        samples[writers].push(await measure(url.toString(), writers));
      }
      process.stderr.write(`round ${round}/${ROUNDS} done\n`);
    }
  } finally {
    await server?.remove();
  }
  report(samples);
}

function report(samples) {
  const rate = (writers) => summarise(samples[writers].map((sample) => sample.rowsPerSecond));
  const peak = (writers) => Math.max(...samples[writers].map((sample) => sample.peakConnections));
  const one = rate(1);
  const many = rate(WRITERS);
  const line = (writers, figures) =>
    `| ${writers} process${writers === 1 ? '' : 'es'} | ${format(figures.median)} (${format(figures.min)}-${format(figures.max)}) | ${peak(writers)} |`;
  console.log('| writers | rows/s, median (min-max) | peak server connections |');
  console.log('| --- | ---: | ---: |');
  console.log(line(1, one));
  console.log(line(WRITERS, many));
  console.log(
    `${WRITERS} processes / 1 process: ${format(many.median / one.median, 2)} x; every record stored once in every round`,
  );
}

await main();
