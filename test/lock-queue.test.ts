/**
 * Writers starting together queue on the package's advisory locks: the schema's, while the tables
 * are being made, and the run numbers'. Sixteen processes at once on two busy cores kept each holder
 * long enough that the queue outlasted lock_timeout (5 s, meant for table locks): the writer said
 * "cannot reach the database", and records waited for a retry past the exit deadline. Here another
 * session holds each lock for longer than lock_timeout, and the writer must wait for it quietly.
 * (Sixteen processes at once, directly and through PgBouncer: test/pooler.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { runCli } from './support/spawn.js';

const HELD_MS = 7_000; // longer than the writer's lock_timeout
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('lock_queue');
});
afterAll(async () => {
  await db.drop();
});

/** Holds a transaction-scoped advisory lock in a session of its own until release() is called. */
async function holdLock(key: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
  return {
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** Pipe mode with three lines, while `key` is held for HELD_MS: it must wait, then store them. */
async function writeBehind(key: string, application: string, table: string): Promise<void> {
  const lock = await holdLock(key);
  const input = ['one', 'two', 'three'].map((msg) => `${JSON.stringify({ level: 30, msg })}\n`).join('');
  const writing = runCli(
    ['--database-url', db.url, '--application', application, '--machine-name', 'box', '--table', table],
    { input, timeoutMs: 60_000 },
  );
  const released = new Promise((resolve) => setTimeout(resolve, HELD_MS)).then(() => lock.release());
  const [result] = await Promise.all([writing, released]);
  expect(result.stderr).toBe(`logweaver-pino: read 3 lines, wrote 3 rows, run 1 of ${application}\n`);
  expect(result.code).toBe(0);
  const rows = await db.query(`SELECT message FROM ${table} WHERE record IS NOT NULL ORDER BY log_id`);
  expect(rows.map((row) => row.message)).toEqual(['one', 'two', 'three']);
}

describe('a writer queued behind another holder of its locks for longer than lock_timeout', () => {
  it('waits for the schema lock while another process makes the tables, then writes', async () => {
    await writeBehind('logweaver-pino schema', 'schema-queue', 'fresh_log');
  });

  it('waits for its turn to take a run number, then writes', async () => {
    await runCli(['schema', 'apply', '--database-url', db.url, '--table', 'queued_log']);
    const key = `logweaver-pino run\npublic.queued_log\nrun-queue\nbox`;
    await writeBehind(key, 'run-queue', 'queued_log');
  });
});
