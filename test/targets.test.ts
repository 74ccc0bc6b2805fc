// FAULTS #29: logweaver-pino as one destination of Pino's own worker, with `targets:` (beside
// pino/file) and with `pipeline:`. Pino then calls the factory with the target's own options, and
// its worker's multistream has no flush of its own.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { range } from './support/records.js';
import { cleanEnv, FIXTURES, runNode } from './support/spawn.js';

const APP = `${FIXTURES}targets.mjs`;
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('targets');
});
afterAll(async () => db.drop());

function runApp(shape: 'targets' | 'pipeline', mode: string, count: number, application: string, file = '') {
  return runNode(APP, [shape, mode, String(count)], {
    env: {
      FIXTURE_OPTIONS: JSON.stringify({ connectionString: db.url, application, flushInterval: 60_000 }),
      FIXTURE_FILE: file,
    },
  });
}

async function seqsOf(application: string): Promise<number[]> {
  const rows = await db.query<{ seq: number }>(
    "SELECT (record->>'seq')::int AS seq FROM log WHERE application_name = $1 AND record->>'seq' IS NOT NULL ORDER BY 1",
    [application],
  );
  return rows.map((row) => row.seq);
}

const fileIn = () => join(mkdtempSync(join(tmpdir(), 'logweaver-targets-')), 'app.log');

describe.each(['targets', 'pipeline'] as const)('#29 pino %s:', (shape) => {
  it("honours the logger's custom levels, messageKey and errorKey", async () => {
    const file = fileIn();
    const application = `${shape}-config`;
    const result = await runApp(shape, 'config', 2, application, file);
    expect(result.code).toBe(0);
    const rows = await db.query<{ level: string; message: string }>(
      'SELECT level, message FROM log WHERE application_name = $1 AND record IS NOT NULL ORDER BY log_id',
      [application],
    );
    expect(rows).toEqual([
      { level: 'INFO', message: 'record 0' },
      { level: 'INFO', message: 'record 1' },
      { level: 'AUDIT', message: 'an audit line' },
      { level: 'INFO', message: expect.stringMatching(/^with a custom error key\nError: kaput\n {4}at /) as unknown },
    ]);
  });

  it('calls logger.flush back only once everything logged before it is committed', async () => {
    const result = await runApp(shape, 'flush', 50, `${shape}-flush`, fileIn());
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ error: null, committed: 50 });
  });

  it('loses nothing at process.exit() with 10,000 records buffered', async () => {
    const file = fileIn();
    const result = await runApp(shape, 'exit', 10_000, `${shape}-exit`, file);
    expect(result.code).toBe(0);
    expect(await seqsOf(`${shape}-exit`)).toEqual(range(10_000));
    if (shape === 'targets') expect(readFileSync(file, 'utf8').split('\n').length - 1).toBe(10_000);
  });
});

/** The nice value of each thread of a process (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNiceValues(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

async function niceValuesOnceReady(shape: string): Promise<number[]> {
  const options = JSON.stringify({ connectionString: db.url, application: `${shape}-nice` });
  const child = spawn(process.execPath, [APP, shape, 'wait', '1'], {
    env: cleanEnv({ FIXTURE_OPTIONS: options, FIXTURE_FILE: fileIn() }),
  });
  try {
    await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
    return threadNiceValues(child.pid as number);
  } finally {
    child.kill('SIGKILL');
  }
}

describe('the worker thread priority', () => {
  it('is lowered when the thread is logweaver-pino alone', async () => {
    expect(await niceValuesOnceReady('alone')).toContain(10);
  });

  it('is left alone when other targets share the thread', async () => {
    expect(await niceValuesOnceReady('targets')).not.toContain(10);
  });
});
