import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ROOT, runCli } from './support/spawn.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('schema');
});
afterAll(async () => db.drop());

describe('logweaver-pino schema', () => {
  it('prints the SQL that sql/schema.sql (used by docker-compose.yml) holds', async () => {
    const result = await runCli(['schema', 'print']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(readFileSync(`${ROOT}sql/schema.sql`, 'utf8'));
  });

  it('applies it to a named schema and table, with indexes for reading by application, run and time', async () => {
    await db.query('CREATE SCHEMA logs');
    const result = await runCli([
      'schema',
      'apply',
      '--database-url',
      db.url,
      '--schema',
      'logs',
      '--table',
      'app_log',
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      'table logs.app_log is ready (columns: run_number, application_name, open_clone_log, timestamp, message, tags, level, machine_name, ip_address, record)\n',
    );
    const indexes = await db.query<{ indexdef: string }>(
      "SELECT indexdef FROM pg_indexes WHERE schemaname = 'logs' AND tablename = 'app_log' ORDER BY indexname",
    );
    expect(indexes.map((index) => index.indexdef.replace(/^.* USING /, ''))).toEqual([
      'btree (application_name, machine_name, run_number)',
      'btree (application_name, "timestamp")',
      'btree (log_id)',
      'brin ("timestamp")',
    ]);
  });

  it('adds the counters column to a runs table made by an earlier version, so that run ends are recorded', async () => {
    await db.query(`CREATE TABLE old_log_runs (application_name text NOT NULL, machine_name text NOT NULL,
      run_number integer NOT NULL, run_key text NOT NULL, pid integer, started_at timestamptz NOT NULL DEFAULT now(),
      ended_at timestamptz, ended_cleanly boolean, last_counters json,
      PRIMARY KEY (application_name, machine_name, run_number))`);
    const result = await runCli(['--database-url', db.url, '--table', 'old_log', '--application', 'old-runs'], {
      input: '{"level":30,"msg":"one"}\n',
    });
    expect(result.code).toBe(0);
    const runs = await db.query(
      "SELECT ended_cleanly, (counters->>'written')::int AS written FROM old_log_runs WHERE application_name = 'old-runs'",
    );
    expect(runs).toEqual([{ ended_cleanly: true, written: 1 }]);
  });
});
