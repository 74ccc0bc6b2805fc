// Pino installs no signal handlers: flushOnExitSignals(logger) is the one line that keeps what the
// transport holds when the application is stopped with SIGTERM or SIGINT.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FIXTURES, cleanEnv } from './support/spawn.js';

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
  ] as const)('writes everything on %s, then exits with %i', async (signal, exitCode) => {
    expect(await stopWith(signal, 'signal-helper', `helper-${signal}`)).toEqual({
      code: exitCode,
      killedBy: null,
      stored: 500,
    });
  });

  it('is needed: without it, SIGTERM ends the process with what the worker holds unwritten', async () => {
    const result = await stopWith('SIGTERM', 'log-and-wait', 'no-helper');
    expect(result.killedBy).toBe('SIGTERM');
    expect(result.stored).toBe(0);
  });
});
