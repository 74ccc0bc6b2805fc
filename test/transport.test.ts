import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { eventually } from './support/records.js';
import { FIXTURES, runNode } from './support/spawn.js';
import { startSteadyApp } from './support/steady-app.js';

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
  it('#1 natural exit with a partly filled batch: every record stored', async () => {
    const result = await runApp('natural', 2500, 'natural-end');
    expect(result.code).toBe(0);
    expect(await seqsOf('natural-end')).toEqual(range(2500));
  });

  it('#2 process.exit() before the transport is ready: every record stored', async () => {
    const result = await runApp('exit-before-ready', 300, 'exit-before-ready');
    expect(result.code).toBe(0);
    expect(await seqsOf('exit-before-ready')).toEqual(range(300));
  });

  it('#2 process.exit() after the transport is ready: every record stored', async () => {
    const result = await runApp('exit-after-ready', 300, 'exit-after-ready');
    expect(result.code).toBe(0);
    expect(await seqsOf('exit-after-ready')).toEqual(range(300));
  });

  it('#3 uncaught exception in the app: every record stored', async () => {
    const result = await runApp('uncaught', 300, 'uncaught');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('fixture crash');
    expect(await seqsOf('uncaught')).toEqual(range(300));
  });

  it('#3 unhandled rejection in the app: every record stored', async () => {
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

describe('logweaver:stats events', () => {
  it("carry the counters and the worker's own memory every statsInterval", async () => {
    const app = startSteadyApp(2000, { connectionString: db.url, application: 'stats', statsInterval: 200 });
    // It logs until a sample carries an event that counts records written (however long the worker
    // takes to start on a busy machine), then stops through the shutdown helper: flush, exit 143.
    const events = () => app.samples.flatMap((sample) => (sample.stats ? [sample.stats as unknown as StatsEvent] : []));
    await eventually(() => (events().at(-1)?.written ?? 0) > 0).catch(async (error: unknown) => {
      await app.stop();
      throw error;
    });
    const { code, logged, processCpu } = await app.stop();
    expect(code).toBe(143);
    const last = events().at(-1);
    expect(last?.received).toBeGreaterThan(0);
    expect(last?.written).toBeGreaterThan(0);
    expect(last?.dropped).toBe(0);
    expect(last?.runNumber).toBe(1);
    expect(last?.workerMemory.heapUsed).toBeGreaterThan(1_000_000);
    // The worker thread's own CPU time: more than none, less than the whole process has used.
    const cpu = (last?.workerCpu.user ?? 0) + (last?.workerCpu.system ?? 0);
    expect(cpu).toBeGreaterThan(0);
    expect(cpu).toBeLessThan(processCpu);
    expect(last?.received).toBeLessThanOrEqual(logged);
    expect(await seqsOf('stats')).toEqual(range(logged));
  });
});

interface StatsEvent {
  received: number;
  written: number;
  dropped: number;
  runNumber: number;
  workerMemory: { heapUsed: number };
  workerCpu: { user: number; system: number };
}

describe('bad transport options', () => {
  it('fail the transport at start with a message naming the option and the value', async () => {
    const result = await runApp('natural', 1, 'bad-option', { flushInterval: 'soon' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('OptionError: flushInterval must be a whole number from 10 to 3600000, got "soon"');
  });

  it('never show the password of a bad URL', async () => {
    const result = await runNode(APP, ['natural', '1'], {
      env: { FIXTURE_OPTIONS: JSON.stringify({ connectionString: 'mysql://app:hunter2@db/logs', application: 'x' }) },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('connectionString is not a valid PostgreSQL URL: mysql://app:***@db/logs');
    expect(result.stderr).not.toContain('hunter2');
  });
});

describe('rows as LogWeaver stores them', () => {
  it('maps levels, errors, tags, third-party records and special characters', async () => {
    const result = await runApp('shapes', 0, 'shapes', { tags: ['static'], timezone: 'America/New_York' });
    expect(result.code).toBe(0);
    const rows = await db.query<Record<string, unknown>>(
      `SELECT level, message, tags, open_clone_log, record->>'msg' AS msg,
              abs(extract(epoch FROM "timestamp") * 1000 - (record->>'time')::bigint) AS skew_ms
         FROM log WHERE application_name = 'shapes' AND record IS NOT NULL ORDER BY log_id`,
    );
    expect(rows.map(({ skew_ms: _skew, ...row }) => row)).toEqual([
      { level: 'DEBUG', message: 'a trace', tags: 'static', open_clone_log: true, msg: 'a trace' },
      { level: 'DEBUG', message: 'a debug', tags: 'static', open_clone_log: true, msg: 'a debug' },
      { level: 'WARNING', message: 'a warning', tags: 'static', open_clone_log: true, msg: 'a warning' },
      {
        level: 'ERROR',
        message: expect.stringMatching(/^an error\nError: an error\n {4}at /) as unknown,
        tags: 'static',
        open_clone_log: true,
        msg: 'an error',
      },
      { level: 'CRITICAL', message: 'a fatal', tags: 'static', open_clone_log: true, msg: 'a fatal' },
      { level: 'INFO', message: 'frame=1 fps=30', tags: 'ffmpeg,static', open_clone_log: false, msg: 'frame=1 fps=30' },
      {
        level: 'INFO',
        message: 'line one\nline two \\ backslash',
        tags: 'static',
        open_clone_log: true,
        msg: 'line one\nline two \\ backslash',
      },
    ]);
    expect(rows.every((row) => Number(row.skew_ms) === 0)).toBe(true);
    const [nested] = await db.query<{ x: string; quote: string }>(
      `SELECT record#>>'{nested,deep,2,x}' AS x, record->>'quote' AS quote
         FROM log WHERE application_name = 'shapes' AND record->>'quote' IS NOT NULL`,
    );
    expect(nested).toEqual({ x: 'y', quote: 'say "hi"\ttab' });
  });

  it("honours the logger's custom levels, messageKey and errorKey", async () => {
    const result = await runApp('custom-levels', 0, 'custom-levels');
    expect(result.code).toBe(0);
    const rows = await db.query<{ level: string; message: string }>(
      "SELECT level, message FROM log WHERE application_name = 'custom-levels' AND record IS NOT NULL ORDER BY log_id",
    );
    expect(rows).toEqual([
      { level: 'AUDIT', message: 'an audit line' },
      { level: 'INFO', message: expect.stringMatching(/^with a custom error key\nError: kaput\n/) as unknown },
    ]);
  });

  // Seen in CI on Node 24 under load, with `pipeline:`: every row stored with the default keys.
  it("takes the logger's config queued on the port when the lines and the end come in the same turn", async () => {
    const result = await runNode(`${FIXTURES}late-config.mjs`, [], {
      env: { FIXTURE_OPTIONS: JSON.stringify({ connectionString: db.url, application: 'late-config' }) },
    });
    expect(result.code).toBe(0);
    const rows = await db.query<{ level: string; message: string }>(
      "SELECT level, message FROM log WHERE application_name = 'late-config' AND record IS NOT NULL ORDER BY log_id",
    );
    expect(rows).toEqual([
      { level: 'INFO', message: 'record 0' },
      { level: 'AUDIT', message: 'an audit line' },
    ]);
  });
});

describe("a record larger than Pino's 4 MB shared buffer (FAULTS #22)", () => {
  it('is stored truncated with a marker, and its neighbours intact', async () => {
    const result = await runApp('huge', 0, 'huge');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/a record of \d+ bytes was stored truncated to 1048576 bytes/);
    const rows = await db.query(
      `SELECT left(message, 20) AS start, right(message, 12) AS "end", open_clone_log AS own
         FROM log WHERE application_name = 'huge' AND message NOT LIKE '% - Run Number Incremented' ORDER BY log_id`,
    );
    expect(rows).toEqual([
      { start: 'before the huge one', end: 'the huge one', own: true },
      { start: '{"level":30,"time":1', end: expect.stringMatching(/ bytes\]$/) as unknown, own: false },
      { start: 'after the huge one', end: 'the huge one', own: true },
    ]);
  });
});

describe('run numbers', () => {
  async function runsOf(application: string) {
    return db.query<{ run_number: number; records: number; markers: number }>(
      `SELECT run_number,
              count(*) FILTER (WHERE record IS NOT NULL)::int AS records,
              count(*) FILTER (WHERE message = $1 || ' - Run Number Incremented')::int AS markers
         FROM log WHERE application_name = $1 GROUP BY run_number ORDER BY run_number`,
      [application],
    );
  }

  it('gives the next number at each start, with LogWeaver marker rows', async () => {
    await runApp('natural', 3, 'sequential');
    await runApp('natural', 3, 'sequential');
    expect(await runsOf('sequential')).toEqual([
      { run_number: 1, records: 3, markers: 1 },
      { run_number: 2, records: 3, markers: 1 },
    ]);
    const [marker] = await db.query(
      "SELECT level, tags, open_clone_log FROM log WHERE message = 'sequential - Run Number Incremented' LIMIT 1",
    );
    expect(marker).toEqual({ level: 'INFO', tags: '', open_clone_log: true });
    // By time, as by log_id, each run opens with its marker (issue 12: it used to come after the records).
    const firstByTime = await db.query(
      `SELECT DISTINCT ON (run_number) message FROM log WHERE application_name = 'sequential'
        ORDER BY run_number, "timestamp", log_id`,
    );
    expect(firstByTime).toEqual([
      { message: 'sequential - Run Number Incremented' },
      { message: 'sequential - Run Number Incremented' },
    ]);
    const runs = await db.query(
      `SELECT run_number, ended_cleanly, ended_at >= started_at AS ended,
              (counters->>'received')::int AS received, (counters->>'written')::int AS written
         FROM log_runs WHERE application_name = 'sequential' ORDER BY run_number`,
    );
    expect(runs).toEqual([
      { run_number: 1, ended_cleanly: true, ended: true, received: 3, written: 3 },
      { run_number: 2, ended_cleanly: true, ended: true, received: 3, written: 3 },
    ]);
  });

  it('#25 ten copies of the app started at the same instant: ten distinct run numbers, no duplicates', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => runApp('natural', 5, 'ten-at-once')));
    expect(results.map((result) => result.code)).toEqual(Array(10).fill(0));
    expect(await runsOf('ten-at-once')).toEqual(
      range(10).map((index) => ({ run_number: index + 1, records: 5, markers: 1 })),
    );
  });

  it('shares one run between two transports of one process', async () => {
    const result = await runApp('two-transports', 4, 'two-transports');
    expect(result.code).toBe(0);
    expect(await runsOf('two-transports')).toEqual([{ run_number: 1, records: 8, markers: 1 }]);
    // The run's counters are the sum of both writers'.
    const runs = await db.query(
      "SELECT ended_cleanly, (counters->>'received')::int AS received, (counters->>'written')::int AS written FROM log_runs WHERE application_name = 'two-transports'",
    );
    expect(runs).toEqual([{ ended_cleanly: true, received: 8, written: 8 }]);
  });

  it('shares one run between processes given the same LOGWEAVER_RUN_KEY', async () => {
    const options = JSON.stringify({ connectionString: db.url, application: 'run-key' });
    const env = { FIXTURE_OPTIONS: options, LOGWEAVER_RUN_KEY: 'deploy-42' };
    await Promise.all([runNode(APP, ['natural', '3'], { env }), runNode(APP, ['natural', '3'], { env })]);
    expect(await runsOf('run-key')).toEqual([{ run_number: 1, records: 6, markers: 1 }]);
  });
});
