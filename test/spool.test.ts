// The disk spool: what memory cannot hold, and what is left at exit or by a crash, is delivered
// later, exactly once, in order.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';
import { queryOnce } from './support/database.js';
import { eventually } from './support/records.js';
import { spawn } from 'node:child_process';
import { CLI, FIXTURES, cleanEnv, runNode } from './support/spawn.js';

const APP = `${FIXTURES}app.mjs`;
let server: PrivateServer;

beforeAll(async () => {
  server = await startPrivateServer('spool');
});
afterAll(async () => server.remove());

function runApp(
  mode: string,
  count: number,
  application: string,
  spoolDir: string,
  extra: Record<string, unknown> = {},
) {
  return runNode(APP, [mode, String(count)], {
    env: {
      FIXTURE_OPTIONS: JSON.stringify({ connectionString: server.url, application, ...extra }),
      LOGWEAVER_SPOOL_DIR: spoolDir,
    },
  });
}

/** The application's records in order; none while the table does not exist yet. */
/** Lines in the live spool segments of a directory. */
function spooledLines(directory: string): number {
  return readdirSync(directory)
    .filter((name) => name.startsWith('live-') && name.endsWith('.spool'))
    .reduce((sum, name) => sum + readFileSync(join(directory, name), 'utf8').split('\n').length - 1, 0);
}

async function rowsOf(application: string) {
  return queryOnce<{ message: string; run_number: number }>(
    server.url,
    'SELECT message, run_number FROM log WHERE application_name = $1 AND record IS NOT NULL ORDER BY log_id',
    [application],
  ).catch((error: { code?: string }) => {
    if (error.code === '42P01') return [];
    throw error;
  });
}

const messages = (prefix: string, count: number) => Array.from({ length: count }, (_, seq) => `${prefix} ${seq}`);

describe('the disk spool', () => {
  it('takes what memory cannot hold during a burst and delivers all of it, in order', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-spool-test-'));
    const result = await runApp('natural', 5000, 'burst', spoolDir, { maxBufferedRows: 100, batchSize: 50 });
    expect(result.code).toBe(0);
    const closed = JSON.parse(/logweaver-pino: info: closed: (.*)/.exec(result.stderr)?.[1] ?? '{}') as Record<
      string,
      number
    >;
    expect(closed.spooled).toBeGreaterThan(0);
    expect(closed).toMatchObject({ received: 5000, written: 5000, dropped: 0 });
    expect((await rowsOf('burst')).map((row) => row.message)).toEqual(messages('record', 5000));
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('#6 app exits while the database is unreachable: spooled, then delivered at the next start, once', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-spool-test-'));
    await server.stop();
    const started = Date.now();
    const down = await runApp('natural', 300, 'outage', spoolDir);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(down.code).toBe(0);
    expect(down.stderr).toContain(
      `300 records were not delivered to the database before the exit deadline; they are in the spool (${spoolDir})`,
    );
    expect(readdirSync(spoolDir).some((name) => name.startsWith('left-'))).toBe(true);
    await server.start();
    const up = await runApp('natural', 200, 'outage', spoolDir);
    expect(up.code).toBe(0);
    expect(up.stderr).toContain(`delivering 300 records left in the spool (${spoolDir}) by an earlier run`);
    const rows = await rowsOf('outage');
    expect(rows.map((row) => row.message)).toEqual([...messages('record', 300), ...messages('record', 200)]);
    expect(new Set(rows.map((row) => row.run_number))).toEqual(new Set([1]));
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('#5 SIGKILL while the database is down: what was spooled is delivered at the next start', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-spool-test-'));
    await server.stop();
    const options = { connectionString: server.url, application: 'killed', maxBufferedRows: 10 };
    const child = spawn(process.execPath, [APP, 'log-and-wait', '400'], {
      env: cleanEnv({ FIXTURE_OPTIONS: JSON.stringify(options), LOGWEAVER_SPOOL_DIR: spoolDir }),
    });
    await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
    // Rows beyond the 10 held in memory go to disk at once; the 10 follow when the first attempt to
    // reach the database fails (on a loaded machine that may take a moment), so nothing dies with the process.
    await eventually(() => spooledLines(spoolDir) === 400);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('close', resolve));
    await server.start();
    const next = await runApp('natural', 0, 'killed', spoolDir);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain('delivering 400 records left in the spool');
    expect((await rowsOf('killed')).map((row) => row.message)).toEqual(messages('record', 400));
  });
});

describe('when the database is down at start and comes up later (FAULTS #10)', () => {
  it('#10 database down when the app starts, up later: the app runs normally and everything is delivered', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-spool-test-'));
    await server.stop();
    const options = { connectionString: server.url, application: 'late-server', maxBufferedRows: 50 };
    const child = spawn(process.execPath, [APP, 'log-and-wait', '300'], {
      env: cleanEnv({ FIXTURE_OPTIONS: JSON.stringify(options), LOGWEAVER_SPOOL_DIR: spoolDir }),
    });
    await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await server.start();
    const deadline = Date.now() + 45_000; // generous: a loaded machine slows the restart and the retries
    while ((await rowsOf('late-server')).length < 300 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(child.exitCode).toBeNull(); // still running: delivered by the same process, not the next one
    child.kill('SIGTERM');
    expect((await rowsOf('late-server')).map((row) => row.message)).toEqual(messages('record', 300));
  });
});

describe('when the spool cannot be written', () => {
  it('the application keeps running; the records lost are counted and reported', async () => {
    const notADirectory = join(mkdtempSync(join(tmpdir(), 'logweaver-spool-test-')), 'file');
    writeFileSync(notADirectory, 'in the way');
    await server.stop();
    try {
      const result = await runApp('natural', 3000, 'unwritable', join(notADirectory, 'spool'), {
        maxBufferedRows: 100,
      });
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/records could not be written to the spool in .*ENOTDIR/);
      // 3000 records, and the row that would have reported their loss (it could not be kept either).
      expect(result.stderr).toMatch(/"received":3000,"written":0,.*"dropped":3001,/);
    } finally {
      await server.start();
    }
  });
});

describe('when the spool is nearly full', () => {
  it('sheds DEBUG and INFO first, keeps warnings, and reports the loss as a row', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-spool-test-'));
    const infos = Array.from({ length: 300 }, (_, seq) => `{"level":30,"seq":${seq},"msg":"info ${seq}"}`);
    const warnings = Array.from({ length: 50 }, (_, seq) => `{"level":40,"seq":${seq},"msg":"warning ${seq}"}`);
    await server.stop();
    const flags = ['--database-url', server.url, '--application', 'shed', '--max-buffered-rows', '10'];
    const down = await runNode(CLI, [...flags, '--max-spool-bytes', '20000'], {
      input: `${[...infos, ...warnings].join('\n')}\n`,
      env: { LOGWEAVER_SPOOL_DIR: spoolDir },
    });
    expect(down.stderr).toContain('spool nearly full: DEBUG and INFO shed first');
    await server.start();
    const up = await runNode(CLI, flags, { env: { LOGWEAVER_SPOOL_DIR: spoolDir } });
    expect(up.code).toBe(0);
    const messages = (await rowsOf('shed')).map((row) => row.message);
    const keptInfos = messages.filter((message) => message.startsWith('info '));
    expect(messages.filter((message) => message.startsWith('warning '))).toEqual(
      warnings.map((_, seq) => `warning ${seq}`),
    );
    expect(keptInfos.length).toBeGreaterThan(100);
    expect(keptInfos.length).toBeLessThan(300);
    expect(keptInfos).toEqual(infos.slice(0, keptInfos.length).map((_, seq) => `info ${seq}`));
    const [notice] = await queryOnce<{ message: string; level: string }>(
      server.url,
      "SELECT message, level FROM log WHERE application_name = 'shed' AND message LIKE 'logweaver: %'",
    );
    expect(notice).toEqual({
      level: 'WARNING',
      message: expect.stringMatching(
        new RegExp(
          `^logweaver: ${300 - keptInfos.length} records dropped \\(spool nearly full: DEBUG and INFO shed first\\) between `,
        ),
      ) as unknown,
    });
  });
});
