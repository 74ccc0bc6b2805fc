// Issue 11 part 3: `<table>_meta` records the schema version of the package's tables. Tables made by
// 0.1.0 (test/fixtures/schema-0.1.0.sql is sql/schema.sql as it was then) are recorded as version 1
// while another process writes; a version newer than the code knows stops writing, loses nothing.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNameOf } from '../src/write/ddl.js';
import { SchemaVersionError, upgradeTables, type Upgrade } from '../src/write/versions.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { eventually, seqs } from './support/records.js';
import { FIXTURES, runCli, startPipeReader } from './support/spawn.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('versions');
  await db.query(readFileSync(`${FIXTURES}schema-0.1.0.sql`, 'utf8'));
});
afterAll(async () => db.drop());

const versions = () => db.query<{ schema_version: number }>('SELECT schema_version FROM log_meta');

describe('schema versions', () => {
  it("records 0.1.0's tables as version 1 while another process writes through the pipe, losing nothing", async () => {
    expect(await db.query("SELECT to_regclass('log_meta') IS NULL AS missing")).toEqual([{ missing: true }]);
    // A writer that leaves the package's own tables alone, as a 0.1.0 writer would leave the meta table.
    const steady = startPipeReader(['--database-url', db.url, '--application', 'steady', '--no-meta-tables']);
    let sent = 0;
    const writing = setInterval(() => void steady.write(`{"level":30,"seq":${sent++},"msg":"n"}\n`), 10);
    try {
      await eventually(async () => (await seqs(db.url, 'steady')).length > 20);
      const starting = await runCli(['--database-url', db.url, '--application', 'upgrader'], {
        input: '{"level":30,"msg":"after the upgrade"}\n',
      });
      expect(starting.stderr).toBe('logweaver-pino: read 1 lines, wrote 1 rows, run 1 of upgrader\n');
      expect(await versions()).toEqual([{ schema_version: 1 }]);
      const applied = await runCli(['schema', 'apply', '--database-url', db.url]);
      expect(applied.code).toBe(0);
      expect(applied.stdout).toMatch(/^table public\.log is ready/);
    } finally {
      clearInterval(writing);
    }
    expect(await steady.end()).toBe(0);
    expect(steady.stderr()).toBe(`logweaver-pino: read ${sent} lines, wrote ${sent} rows, run 1 of steady\n`);
    expect(await seqs(db.url, 'steady')).toEqual(Array.from({ length: sent }, (_, seq) => seq));
    expect(await versions()).toEqual([{ schema_version: 1 }]);
  });

  it("schema apply records 0.1.0's tables as version 1 too", async () => {
    const old = readFileSync(`${FIXTURES}schema-0.1.0.sql`, 'utf8').replaceAll('"public".', '"v010".');
    await db.query(`CREATE SCHEMA v010; ${old}`);
    const applied = await runCli(['schema', 'apply', '--database-url', db.url, '--schema', 'v010']);
    expect(applied.stdout).toMatch(/^table v010\.log is ready/);
    expect(await db.query('SELECT schema_version FROM v010.log_meta')).toEqual([{ schema_version: 1 }]);
  });

  it('refuses to write tables of a newer version, naming both versions, and keeps the records in the spool', async () => {
    await db.query('UPDATE log_meta SET schema_version = 2');
    const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-versions-'));
    const args = ['--database-url', db.url, '--application', 'newer', '--spool-dir', spoolDir];
    const input = ['one', 'two', 'three'].map((msg) => `{"level":30,"msg":"${msg}"}\n`).join('');
    const refused = await runCli(args, { input });
    expect(refused.stderr).toContain(
      '"public"."log_meta" says the tables of "public"."log" are at schema version 2, ' +
        'but this logweaver-pino knows versions up to 1: upgrade logweaver-pino',
    );
    expect(refused.code).toBe(1);
    expect(await db.query("SELECT count(*)::int AS n FROM log WHERE application_name = 'newer'")).toEqual([{ n: 0 }]);
    // Once the package knows the version (here: the row is set back), the next start delivers them.
    await db.query('UPDATE log_meta SET schema_version = 1');
    const delivered = await runCli(args);
    expect(delivered.stderr).toContain('delivering 3 records left in the spool');
    const rows = await db.query<{ message: string }>(
      "SELECT message FROM log WHERE application_name = 'newer' AND message NOT LIKE '%Run Number%' ORDER BY log_id",
    );
    expect(rows.map((row) => row.message)).toEqual(['one', 'two', 'three']);
  });

  it('runs an upgrade step in a short transaction, and gives up within its lock_timeout, saying what to run', async () => {
    const step: Upgrade = {
      to: 2,
      ownTables: () => ['ALTER TABLE public.log_runs ADD COLUMN IF NOT EXISTS note text'],
      logTable: () => [],
    };
    const name = tableNameOf({ schema: 'public', table: 'log', metaSchema: 'public' });
    const client = new pg.Client({ connectionString: db.url });
    const holder = new pg.Client({ connectionString: db.url });
    await Promise.all([client.connect(), holder.connect()]);
    try {
      await holder.query('BEGIN; LOCK TABLE log_runs IN ACCESS SHARE MODE');
      const started = Date.now();
      const failed = await upgradeTables(client, name, 1, true, [step]).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(SchemaVersionError);
      expect((failed as Error).message).toContain('could not upgrade the tables of "public"."log" to schema version 2');
      expect((failed as Error).message).toContain('ALTER TABLE public.log_runs ADD COLUMN IF NOT EXISTS note text');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await versions()).toEqual([{ schema_version: 1 }]);
      await holder.query('COMMIT');
      await upgradeTables(client, name, 1, true, [step]);
      expect(await versions()).toEqual([{ schema_version: 2 }]);
    } finally {
      await db.query('ALTER TABLE log_runs DROP COLUMN IF EXISTS note; UPDATE log_meta SET schema_version = 1');
      await Promise.all([client.end(), holder.end()]);
    }
  });
});
