// `logweaver-pino runs` against the package's own table (with its runs table), through the real binary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaSql } from '../src/write/ddl.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { insertRows, type SeedRow } from './support/seed.js';
import type { RunSummary } from '../src/read/runs.js';
import { cliStdout, jsonLines, runCli } from './support/spawn.js';

let db: TestDatabase;

const at = (minute: number) => `2026-11-28T09:${String(minute).padStart(2, '0')}:00.000Z`;
const SEED: SeedRow[] = [
  { run: 1, message: 'render - Run Number Incremented', time: at(0) },
  { run: 1, message: 'rendered', time: at(1), level: 'DEBUG' },
  { run: 1, message: 'done', time: at(2) },
  { run: 2, message: 'render - Run Number Incremented', time: at(10) },
  { run: 2, message: 'face not found', time: at(12), level: 'ERROR' },
  { run: 2, message: 'slow', time: at(11), level: 'WARNING' },
  { run: 3, message: 'render - Run Number Incremented', time: at(20) },
  { run: 1, machine: 'gpu-3', message: 'render - Run Number Incremented', time: at(5) },
  { run: 4, application: 'u2net', machine: 'gpu-2', message: 'mask', time: at(30), level: 'CRITICAL' },
  { run: 4, application: 'u2net', machine: 'gpu-2', message: 'audit', time: at(31), level: 'AUDIT' },
];

beforeAll(async () => {
  db = await createTestDatabase('runs');
  await db.query(schemaSql({ schema: 'public', table: 'log' }));
  await insertRows(db.url, SEED);
  // Run 1 ended cleanly, run 2 did not, run 3 has no end (running, or killed); u2net's run has no row.
  await db.query(`INSERT INTO log_runs (application_name, machine_name, run_number, run_key, ended_at, ended_cleanly) VALUES
    ('render', 'gpu-1', 1, 'k1', '2026-11-28T09:03:00Z', true),
    ('render', 'gpu-1', 2, 'k2', '2026-11-28T09:13:00Z', false),
    ('render', 'gpu-1', 3, 'k3', NULL, NULL)`);
});
afterAll(async () => db.drop());

const runs = (...args: string[]) => cliStdout(['runs', '--database-url', db.url, '--timezone', 'UTC', ...args]);

const run = (application: string, machine: string, number: number) => ({ application, machine, number });
async function runsListed(...args: string[]) {
  return jsonLines<RunSummary>(await runs('--json', ...args)).map((summary) =>
    run(summary.application_name, summary.machine_name, summary.run_number),
  );
}

describe('logweaver-pino runs', () => {
  it('prints one JSON object per run: times, rows per level, how it ended', async () => {
    expect(await runs('--json', '--application', 'render', '--machine', 'gpu-1')).toBe(
      [
        '{"application_name":"render","machine_name":"gpu-1","run_number":1,"first_timestamp":"2026-11-28T09:00:00.000Z","last_timestamp":"2026-11-28T09:02:00.000Z","rows":3,"levels":{"DEBUG":1,"INFO":2},"ended_cleanly":true,"ended_at":"2026-11-28T09:03:00.000Z","end_recorded":true}',
        '{"application_name":"render","machine_name":"gpu-1","run_number":2,"first_timestamp":"2026-11-28T09:10:00.000Z","last_timestamp":"2026-11-28T09:12:00.000Z","rows":3,"levels":{"INFO":1,"WARNING":1,"ERROR":1},"ended_cleanly":false,"ended_at":"2026-11-28T09:13:00.000Z","end_recorded":true}',
        '{"application_name":"render","machine_name":"gpu-1","run_number":3,"first_timestamp":"2026-11-28T09:20:00.000Z","last_timestamp":"2026-11-28T09:20:00.000Z","rows":1,"levels":{"INFO":1},"ended_cleanly":null,"ended_at":null,"end_recorded":false}',
        '',
      ].join('\n'),
    );
  });

  it('prints one line per run', async () => {
    expect(await runs()).toBe(
      [
        'render gpu-1 run 1: 2026-11-28T09:00:00.000Z to 2026-11-28T09:02:00.000Z, 3 rows (DEBUG 1, INFO 2), ended cleanly at 2026-11-28T09:03:00.000Z',
        'render gpu-1 run 2: 2026-11-28T09:10:00.000Z to 2026-11-28T09:12:00.000Z, 3 rows (INFO 1, WARNING 1, ERROR 1), ended uncleanly at 2026-11-28T09:13:00.000Z',
        'render gpu-1 run 3: 2026-11-28T09:20:00.000Z to 2026-11-28T09:20:00.000Z, 1 rows (INFO 1), no end recorded (still running, or killed)',
        'render gpu-3 run 1: 2026-11-28T09:05:00.000Z to 2026-11-28T09:05:00.000Z, 1 rows (INFO 1), end unknown',
        'u2net gpu-2 run 4: 2026-11-28T09:30:00.000Z to 2026-11-28T09:31:00.000Z, 2 rows (CRITICAL 1, AUDIT 1), end unknown',
        '',
      ].join('\n'),
    );
  });

  it.concurrent.for<[string[], ReturnType<typeof run>[]]>([
    [
      ['--limit', '1'],
      [run('render', 'gpu-1', 3), run('render', 'gpu-3', 1), run('u2net', 'gpu-2', 4)],
    ],
    [
      ['--limit', '2', '--application', 'render'],
      [run('render', 'gpu-1', 2), run('render', 'gpu-1', 3), run('render', 'gpu-3', 1)],
    ],
    [['--application', 'u2net'], [run('u2net', 'gpu-2', 4)]],
    [['--machine', 'gpu-3'], [run('render', 'gpu-3', 1)]],
    [['--application', 'nothing'], []],
  ])('%j selects runs', async ([flags, expected], { expect }) => {
    expect(await runsListed(...flags)).toEqual(expected);
  });

  it('refuses a bad --limit with exit code 2', async () => {
    const result = await runCli(['runs', '--database-url', db.url, '--limit', 'many']);
    expect(result.stderr).toBe('logweaver-pino: --limit must be a whole number from 1 to 10000, got "many"\n');
    expect(result.code).toBe(2);
  });
});
