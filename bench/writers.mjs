// Many writers into one table: node bench/writers.mjs [--records 20000 --processes 16 --rounds 3]
// One process, then N processes at once, each logging --records records through the transport
// (bench/app.mjs e2e-transport) into one table, directly and through a private PgBouncer in
// transaction mode (Debian's package). Aggregate rows/s = the rows stored / the time from the first
// process's first record to the last process's last commit; every process of a case starts its
// worker first, then all log at once. The server's client connections are
// sampled every 50 ms (pg_stat_activity) and their peak reported; PgBouncer runs only during its
// own case, so its idle server connections are not counted in the others. Interleaved rounds;
// medians with min and max. Uses LOGWEAVER_BENCH_DATABASE_URL when set (a superuser URL);
// otherwise starts a throwaway server.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPgBouncer } from '../support/pgbouncer.mjs';
import { startPrivateServer } from '../support/private-postgres.mjs';
import { format, summarise } from './summary.mjs';

const APP = fileURLToPath(new URL('./app.mjs', import.meta.url));
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    processes: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
  },
});
const RECORDS = Number(values.records);
const PROCESSES = Number(values.processes);
const ROUNDS = Number(values.rounds);

/**
 * One e2e-transport process, started and left waiting once its worker is up (goSignal in app.mjs),
 * so that all of a case's processes log at the same moment whatever their start-up took: `ready`,
 * then `go()`; `window` resolves with its logging window in epoch ms.
 */
function startWriter(url, application) {
  const env = {
    ...process.env,
    LOGWEAVER_DATABASE_URL: url,
    BENCH_APPLICATION: application,
    BENCH_WAIT_FOR_GO: '1',
  };
  const child = spawn(process.execPath, [APP, 'e2e-transport', String(RECORDS)], { env, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const ready = new Promise((resolve) =>
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.includes('ready\n')) resolve();
    }),
  );
  const window = new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`writer exited with ${code}: ${stderr}`));
      const { startedAt, endedAt } = JSON.parse(stdout);
      resolve({ started: startedAt, ended: endedAt });
    }),
  );
  return { ready, go: () => child.stdin.end('go\n'), window };
}

async function runAtOnce(url, processes, application) {
  const writers = Array.from({ length: processes }, () => startWriter(url, application));
  await Promise.all(writers.map((writer) => writer.ready));
  for (const writer of writers) writer.go();
  return Promise.all(writers.map((writer) => writer.window));
}

const CLIENT_BACKENDS =
  "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";

/** Waits until the previous case's connections are gone (backends end a moment after their clients). */
async function settle(client) {
  const deadline = Date.now() + 15_000;
  while ((await client.query(CLIENT_BACKENDS)).rows[0].n > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Samples the server's client connections until stopped; returns the peak. */
function sampleConnections(client) {
  let peak = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const { rows } = await client.query(CLIENT_BACKENDS);
      peak = Math.max(peak, rows[0].n);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return async () => {
    running = false;
    await done;
    return peak;
  };
}

async function measure(admin, url, processes, application) {
  await settle(admin);
  const stop = sampleConnections(admin);
  const windows = await runAtOnce(url, processes, application);
  const peakConnections = await stop();
  const seconds = (Math.max(...windows.map((w) => w.ended)) - Math.min(...windows.map((w) => w.started))) / 1000;
  const { rows } = await admin.query(
    'SELECT count(*)::int AS n, count(DISTINCT run_number)::int AS runs FROM log WHERE application_name = $1 AND record IS NOT NULL',
    [application],
  );
  // Records a writer could not deliver before its exit deadline (it could not connect in time on a
  // loaded machine) are in its spool, counted on its stderr: reported here, not hidden.
  const notStored = processes * RECORDS - rows[0].n;
  if (notStored === 0 && rows[0].runs !== processes) {
    throw new Error(`${application}: ${rows[0].runs} run numbers for ${processes} processes`);
  }
  return { rowsPerSecond: rows[0].n / seconds, peakConnections, notStored };
}

const configured = process.env.LOGWEAVER_BENCH_DATABASE_URL;
const server = configured ? undefined : await startPrivateServer('bench-writers');
const url = configured ?? server.url;
const pooler = await startPgBouncer(url);
await pooler.stop();
const admin = new pg.Client({ connectionString: url });
await admin.connect();
const cases = {
  '1 process, direct': (round) => measure(admin, url, 1, `w1-direct-${round}`),
  [`${PROCESSES} processes, direct`]: (round) => measure(admin, url, PROCESSES, `wn-direct-${round}`),
  [`${PROCESSES} processes, PgBouncer transaction mode`]: async (round) => {
    // Started for this case only, so that its idle server connections are not counted in the others.
    await pooler.start();
    try {
      return await measure(admin, pooler.url, PROCESSES, `wn-pooled-${round}`);
    } finally {
      await pooler.stop();
    }
  },
};
const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(cases)) samples[name].push(await run(round));
  }
} finally {
  await admin.end();
  await pooler.remove();
  await server?.remove();
}
console.log(`${RECORDS} records per process, ${ROUNDS} rounds, node ${process.version}`);
console.log('| case | rows/s median | min | max | peak server connections | rounds with records left in a spool |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, runs] of Object.entries(samples)) {
  const rate = summarise(runs.map((r) => r.rowsPerSecond));
  const peak = Math.max(...runs.map((r) => r.peakConnections));
  const spooled = runs.filter((r) => r.notStored > 0).length;
  console.log(
    `| ${name} | ${format(rate.median)} | ${format(rate.min)} | ${format(rate.max)} | ${peak} | ${spooled} |`,
  );
}
