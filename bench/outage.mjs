// Case 3, outage: the application logs RATE records per second through the transport; after a
// warm-up the database goes down (a fast shutdown) for the outage, then comes back, and the case
// ends once the backlog has drained. It runs on a PostgreSQL server of its own, since it stops it.
// What it measures comes from the application's samples (bench/app.mjs steady): the main thread's
// memory after a full GC, and the worker's logweaver:stats events (counters, spool bytes, memory).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startPrivateServer } from '../support/private-postgres.mjs';

const WARM_UP_MS = 10_000;
/** Drained: nothing on disk and less than half a second of input waiting in memory. */
const drained = (stats, rate) => stats.spoolBytes === 0 && stats.buffered <= rate / 2;
const DRAIN_TIMEOUT_MS = 300_000;
const APPLICATION = 'bench-outage';

export async function outageCase({ app, cli, rate, outageMs }) {
  const server = await startPrivateServer('bench-outage');
  const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-bench-spool-'));
  try {
    execFileSync(process.execPath, [cli, 'schema', 'apply', '--database-url', server.url], { stdio: 'ignore' });
    const child = startApplication(app, rate, { LOGWEAVER_DATABASE_URL: server.url, BENCH_SPOOL_DIR: spoolDir });
    await sleep(WARM_UP_MS);
    const downAt = Date.now();
    await server.stop();
    await sleep(outageMs);
    await server.start();
    const upAt = Date.now();
    const drainedAt = await child.waitFor((line) => line.stats && line.at > upAt && drained(line.stats, rate));
    const { logged } = await child.stop();
    const stored = await storedRows(server.url);
    return summarise(child.lines, { downAt, upAt, drainedAt: drainedAt?.at, rate, logged, stored });
  } finally {
    await server.remove();
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

function startApplication(app, rate, env) {
  const child = spawn(process.execPath, ['--expose-gc', app, 'steady', String(rate)], {
    env: { ...process.env, ...env, BENCH_APPLICATION: APPLICATION },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const watchers = new Set();
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const text of parts) {
      const line = JSON.parse(text);
      lines.push(line);
      for (const watcher of watchers) watcher(line);
    }
  });
  child.stderr.resume(); // the worker reports the outage on stderr; not needed here
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    lines,
    /** The first line (from now on) that passes the test, or undefined after DRAIN_TIMEOUT_MS. */
    waitFor: (test) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => done(undefined), DRAIN_TIMEOUT_MS);
        const watcher = (line) => test(line) && done(line);
        const done = (line) => {
          clearTimeout(timer);
          watchers.delete(watcher);
          resolve(line);
        };
        watchers.add(watcher);
      }),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      return lines.find((line) => line.logged !== undefined) ?? { logged: NaN };
    },
  };
}

async function storedRows(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(
      'SELECT count(*)::int AS n FROM log WHERE application_name = $1 AND record IS NOT NULL',
      [APPLICATION],
    );
    return result.rows[0].n;
  } finally {
    await client.end();
  }
}

const MB = 1024 * 1024;
const workerBytes = ({ workerMemory: m }) => m.heapUsed + m.external; // external includes arrayBuffers

function summarise(lines, { downAt, upAt, drainedAt, rate, logged, stored }) {
  const memory = lines.filter((line) => line.mainMemory !== undefined);
  const stats = lines.filter((line) => line.stats);
  const before = memory.filter((line) => line.at >= downAt - 5_000 && line.at < downAt).map((line) => line.mainMemory);
  const baseline = Math.min(...before);
  const during = memory.filter((line) => line.at >= downAt && line.at <= (drainedAt ?? Infinity));
  // The last sample before the server is back, and the first one that shows a row written after it.
  const atRecovery = stats.filter((line) => line.at <= upAt).at(-1);
  const firstWrite = stats.find((line) => line.at > upAt && line.stats.written > atRecovery.stats.written);
  const beforeFirstWrite = stats[stats.indexOf(firstWrite) - 1];
  const end = stats.find((line) => line.at === drainedAt);
  return {
    rate,
    outageSeconds: (upAt - downAt) / 1000,
    mainGrowthMB: (Math.max(...during.map((line) => line.mainMemory)) - baseline) / MB,
    workerPeakMB: Math.max(...stats.map((line) => workerBytes(line.stats))) / MB,
    spoolPeakMB: Math.max(...stats.map((line) => line.stats.spoolBytes)) / MB,
    backlog: atRecovery.stats.buffered,
    reconnectSeconds: firstWrite ? (firstWrite.at - upAt) / 1000 : NaN,
    drainSeconds: drainedAt ? (drainedAt - upAt) / 1000 : NaN,
    // Rows written per second from the last sample before the first write to the end of the drain.
    drainRate:
      end && beforeFirstWrite
        ? ((end.stats.written - beforeFirstWrite.stats.written) * 1000) / (end.at - beforeFirstWrite.at)
        : NaN,
    logged,
    stored,
  };
}
