// Pino installs no signal handlers: flushOnExitSignals(logger) is the one line that keeps what the
// transport holds when the application is stopped with SIGTERM or SIGINT.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { eventually, range } from './support/records.js';
import { FIXTURES, cleanEnv, runNode } from './support/spawn.js';
import { startSteadyApp } from './support/steady-app.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('shutdown');
});
afterAll(async () => db.drop());

async function stopWith(signal: NodeJS.Signals, mode: string, application: string) {
  // A flush interval longer than the test: without a flush at exit nothing would be written.
  const options = { connectionString: db.url, application, flushInterval: 60_000 };
  const child = spawn(process.execPath, [`${FIXTURES}app.mjs`, mode, '500'], {
    env: cleanEnv({ FIXTURE_OPTIONS: JSON.stringify(options) }),
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill(signal);
  const [code, killedBy] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  const [row] = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM log WHERE application_name = $1 AND message LIKE 'record %'",
    [application],
  );
  return { code, killedBy, stored: row?.n ?? 0 };
}

describe('flushOnExitSignals', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('#4 %s with the shutdown helper: writes everything, then exits with %i', async (signal, exitCode) => {
    expect(await stopWith(signal, 'signal-helper', `helper-${signal}`)).toEqual({
      code: exitCode,
      killedBy: null,
      stored: 500,
    });
  });

  it('#4 SIGTERM without the helper: the process ends with what the worker holds unwritten (the documented loss)', async () => {
    const result = await stopWith('SIGTERM', 'log-and-wait', 'no-helper');
    expect(result.killedBy).toBe('SIGTERM');
    expect(result.stored).toBe(0);
  });
});

describe('FAULTS #5', () => {
  it('#5 SIGKILL of the app: at most one flush interval plus one batch lost, no duplicates, the next start gets the next run number', async () => {
    const rate = 1_000;
    const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-f5-'));
    const options = { connectionString: db.url, application: 'f5' };
    const app = startSteadyApp(rate, options, { env: { LOGWEAVER_SPOOL_DIR: spoolDir } });
    await eventually(() => (app.samples.at(-1)?.stats?.written ?? 0) > 2 * rate);
    const last = app.samples.at(-1);
    app.kill('SIGKILL');
    const killedAt = Date.now();
    await app.exited;
    const loggedAtMost = (last?.logged ?? 0) + Math.ceil((rate * (killedAt - (last?.at ?? 0) + 50)) / 1000);

    // The next start delivers what the killed process had spooled, if anything, and takes the next number.
    const next = await runNode(`${FIXTURES}app.mjs`, ['natural', '1'], {
      env: { FIXTURE_OPTIONS: JSON.stringify(options), LOGWEAVER_SPOOL_DIR: spoolDir },
    });
    expect(next.code).toBe(0);
    const stored = (
      await db.query<{ seq: number }>(
        "SELECT (record->>'seq')::int AS seq FROM log WHERE application_name = 'f5' AND run_number = 1 AND record IS NOT NULL ORDER BY 1",
      )
    ).map((row) => row.seq);
    expect(stored).toEqual(range(stored.length)); // the first n records, each once
    expect(loggedAtMost - stored.length).toBeLessThanOrEqual(rate * 1 + 2_000); // flushInterval 1 s, batchSize 2000
    const runs = await db.query<{ run_number: number }>(
      "SELECT DISTINCT run_number FROM log WHERE application_name = 'f5' ORDER BY 1",
    );
    expect(runs).toEqual([{ run_number: 1 }, { run_number: 2 }]);
  });
});
