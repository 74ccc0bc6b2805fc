import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FIXTURES, runNode } from './support/spawn.js';

const APP = `${FIXTURES}app.mjs`;
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('transport');
});
afterAll(async () => db.drop());

function runApp(mode: string, count: number, application: string, extra: Record<string, unknown> = {}) {
  return runNode(APP, [mode, String(count)], {
    env: { FIXTURE_OPTIONS: JSON.stringify({ connectionString: db.url, application, ...extra }) },
  });
}

async function seqsOf(application: string): Promise<number[]> {
  const rows = await db.query<{ seq: number }>(
    "SELECT (record->>'seq')::int AS seq FROM log WHERE application_name = $1 AND record->>'seq' IS NOT NULL ORDER BY 1",
    [application],
  );
  return rows.map((row) => row.seq);
}

const range = (count: number) => Array.from({ length: count }, (_, index) => index);

describe('transport in a real pino worker', () => {
  it('stores every record of an application that ends naturally, with a partly filled batch', async () => {
    const result = await runApp('natural', 2500, 'natural-end');
    expect(result.code).toBe(0);
    expect(await seqsOf('natural-end')).toEqual(range(2500));
  });

  it('stores every record when process.exit() is called before the transport is ready', async () => {
    const result = await runApp('exit-before-ready', 300, 'exit-before-ready');
    expect(result.code).toBe(0);
    expect(await seqsOf('exit-before-ready')).toEqual(range(300));
  });

  it('stores every record when process.exit() is called after the transport is ready', async () => {
    const result = await runApp('exit-after-ready', 300, 'exit-after-ready');
    expect(result.code).toBe(0);
    expect(await seqsOf('exit-after-ready')).toEqual(range(300));
  });

  it('stores every record when the application dies of an uncaught exception', async () => {
    const result = await runApp('uncaught', 300, 'uncaught');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('fixture crash');
    expect(await seqsOf('uncaught')).toEqual(range(300));
  });

  it('stores every record when the application dies of an unhandled rejection', async () => {
    const result = await runApp('unhandled-rejection', 300, 'unhandled');
    expect(result.code).toBe(1);
    expect(await seqsOf('unhandled')).toEqual(range(300));
  });

  it('calls logger.flush back only after everything logged before it is committed', async () => {
    const result = await runApp('flush', 1234, 'flush', { flushInterval: 60_000 });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ error: null, committed: 1234 });
  });
});
