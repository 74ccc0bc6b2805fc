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
});
