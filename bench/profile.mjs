// Where the end-to-end time goes: node bench/profile.mjs [records] [batchSize] [cpuprofile file]
// Runs what the transport's worker runs (the pipeline, fed lines in chunks of 1,000 per turn of the
// event loop, as split2 hands them over) in this thread, with a CPU profile of that phase only when
// a file is named, then the bare COPY ceiling on the same rows. For each it prints the records per
// second, this process's CPU time, and the server backend's CPU time (from /proc) and its statements
// (pg_stat_statements): on two cores, the client and the backend take turns or overlap.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createPipeline } from '../dist/ingest/pipeline.js';
import { resolveOptions } from '../dist/options.js';
import { startPrivateServer } from '../support/private-postgres.mjs';
import { copyCeiling, pinoLines } from './baselines.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
const [countText = '200000', batchText = '2000', profileFile] = process.argv.slice(2);
const count = Number(countText);

const server = await startPrivateServer('bench-profile', {
  extraFlags: ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track_utility=on'],
});
const admin = new pg.Client({ connectionString: server.url });
try {
  execFileSync(process.execPath, [CLI, 'schema', 'apply', '--database-url', server.url], { stdio: 'ignore' });
  await admin.connect();
  await admin.query('CREATE EXTENSION pg_stat_statements');
  const lines = pinoLines(count);
  await measure('pipeline (the worker, in this thread)', () => profiled(() => runPipeline(lines)));
  await admin.query('TRUNCATE log');
  await measure('bare COPY ceiling', () => copyCeiling(server.url, count, Number(batchText)));
} finally {
  await admin.end();
  await server.remove();
}

async function profiled(run) {
  if (!profileFile) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profileFile, JSON.stringify(profile));
    session.disconnect();
  }
}

async function runPipeline(lines) {
  const options = resolveOptions({ connectionString: server.url, application: 'profile', batchSize: batchText });
  const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };
  const pipeline = createPipeline(options, quiet);
  pipeline.start();
  await pipeline.flush();
  for (let start = 0; start < lines.length; start += 1000) {
    for (const line of lines.slice(start, start + 1000)) pipeline.push(line);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await pipeline.flush();
  const { stats } = await pipeline.close(7000);
  return stats;
}

async function measure(name, run) {
  await admin.query('SELECT pg_stat_statements_reset()');
  const cpuBefore = process.cpuUsage();
  const backendBefore = await backendCpu();
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const backend = (await backendCpu()) - backendBefore;
  console.log(
    `${name}: ${Math.round(result.rowsPerSecond ?? count / seconds)} records/s in ${seconds.toFixed(2)} s; ` +
      `client CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s; server CPU (all processes) ${backend.toFixed(2)} s; ` +
      `spooled ${result.spooled ?? 0}`,
  );
  const { rows } = await admin.query(
    `SELECT calls, round(total_exec_time)::int AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query
       FROM pg_stat_statements WHERE total_exec_time > 20 ORDER BY total_exec_time DESC LIMIT 6`,
  );
  for (const row of rows)
    console.log(`  ${String(row.ms).padStart(6)} ms ${String(row.calls).padStart(5)} calls  ${row.query}`);
}

/**
 * CPU seconds of the server's processes (backends, WAL writer, checkpointer) from /proc: the
 * postmaster's own and its ended children's, plus its live children's.
 */
async function backendCpu() {
  const pgrep = (args) => execFileSync('pgrep', args, { encoding: 'utf8' }).trim().split('\n');
  const [postmaster] = pgrep(['-f', `${server.directory}/data`]);
  const pids = [postmaster, ...pgrep(['-P', postmaster])];
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // the process ended
    }
  }
  return ticks / 100;
}
