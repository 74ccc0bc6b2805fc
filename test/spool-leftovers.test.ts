// What the spool leaves on disk and how the next starts take it over (FAULTS #5, #25, #26, #31, and
// the review of issue 14): several processes starting at once, a kill between two batches of a
// delivery, a directory of another user, a spool that cannot take what memory holds, files left
// half-written by a killed process, and leftovers of large records.
import { spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';
import { queryOnce } from './support/database.js';
import { eventually, range, seqs } from './support/records.js';
import { CLI, FIXTURES, cleanEnv, runCli, runNode } from './support/spawn.js';

const APP = `${FIXTURES}app.mjs`;
const NOBODY = 65534;
let server: PrivateServer;

beforeAll(async () => {
  server = await startPrivateServer('spool-leftovers');
});
afterAll(async () => server.remove());

const newSpoolDir = () => mkdtempSync(join(tmpdir(), 'logweaver-leftovers-'));

/** Writes leftover segments as an ended process leaves them: one file per `perFile` records. */
function plantLeftovers(directory: string, count: number, perFile: number, pad = 0): void {
  for (let first = 0; first < count; first += perFile) {
    const lines = range(Math.min(perFile, count - first)).map((offset) => {
      const record = { level: 30, seq: first + offset, msg: 'left', pad: 'x'.repeat(pad) };
      return `${Date.now()}\t\t${JSON.stringify(record)}\n`;
    });
    const key = String(1_000_000 + first).padStart(16, '0');
    writeFileSync(join(directory, `left-${key}-${first.toString(16).padStart(12, '0')}.spool`), lines.join(''));
  }
}

/** Pipe mode with one line to store and the given spool directory. */
function pipe(application: string, spoolDir: string, extra: string[] = []) {
  return runCli(['--database-url', server.url, '--application', application, ...extra], {
    input: '{"level":30,"msg":"own line"}\n',
    env: { LOGWEAVER_SPOOL_DIR: spoolDir },
    timeoutMs: 120_000,
  });
}

const duplicates = (values: number[]) => values.filter((value, index) => values[index - 1] === value);

/** The planted records stored (the processes' own line has no seq). */
const planted = async (application: string) => (await seqs(server.url, application)).filter((seq) => seq !== null);

describe('leftovers taken over', () => {
  it('#25 six processes starting at once share 3,000 leftover files: each record delivered once, no error', async () => {
    const spoolDir = newSpoolDir();
    plantLeftovers(spoolDir, 3_000, 1);
    const results = await Promise.all(range(6).map(() => pipe('shared', spoolDir)));
    for (const result of results) {
      expect(result.code).toBe(0);
      expect(result.stderr).not.toContain('cannot read the spool directory');
    }
    expect(await planted('shared')).toEqual(range(3_000));
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('#5 SIGKILL between two batches of a delivery: the committed batch is not delivered again', async () => {
    const spoolDir = newSpoolDir();
    plantLeftovers(spoolDir, 3_000, 3_000);
    await queryOnce(server.url, 'CREATE TABLE IF NOT EXISTS stall (seq int)');
    // The first start creates the table; then rows from seq 1500 on wait on a lock the test holds.
    expect((await pipe('between', newSpoolDir())).code).toBe(0);
    await queryOnce(
      server.url,
      `CREATE OR REPLACE FUNCTION stall_second_batch() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.application_name = 'between' AND (NEW.record->>'seq')::int = 1500 THEN
           LOCK TABLE stall IN ACCESS EXCLUSIVE MODE;
         END IF;
         RETURN NEW;
       END $$;
       CREATE TRIGGER stall_second_batch BEFORE INSERT ON log FOR EACH ROW EXECUTE FUNCTION stall_second_batch();`,
    );
    const locker = await lockStall();
    const child = spawn(
      process.execPath,
      [CLI, '--database-url', server.url, '--application', 'between', '--batch-size', '1000'],
      {
        env: cleanEnv({ LOGWEAVER_SPOOL_DIR: spoolDir }),
      },
    );
    try {
      await eventually(async () => (await planted('between')).length >= 1_000, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 500)); // the commit's offset, if it is ever saved
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('close', resolve));
    } finally {
      await locker.end();
      await queryOnce(server.url, 'DROP TRIGGER stall_second_batch ON log');
    }
    expect((await pipe('between', spoolDir)).code).toBe(0);
    const stored = await planted('between');
    expect(duplicates(stored)).toEqual([]);
    expect(stored).toEqual(range(3_000));
  });

  it('#26 a stale temporary file and a segment holding only a torn line are removed at the next start', async () => {
    const spoolDir = newSpoolDir();
    const stale = join(spoolDir, 'left-0000000000000001-00000000000a.spool.1a2b3c4d.tmp');
    writeFileSync(stale, 'half written');
    utimesSync(stale, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    writeFileSync(join(spoolDir, 'left-0000000000000002-00000000000b.spool'), '1700000000000\t\t{"level":30,"msg":"to');
    const result = await pipe('torn', spoolDir);
    expect(result.code).toBe(0);
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('leftovers of large records come back a batch of bytes at a time, not all at once', async () => {
    const spoolDir = newSpoolDir();
    plantLeftovers(spoolDir, 2_000, 2_000, 100_000); // 200 MB on disk
    // A heap of 160 MB cannot hold the 200 MB of records at once; two batches of 8 MiB it can.
    const result = await runCli(['--database-url', server.url, '--application', 'large'], {
      env: { LOGWEAVER_SPOOL_DIR: spoolDir, NODE_OPTIONS: '--max-old-space-size=160' },
      timeoutMs: 120_000,
    });
    expect(result.stderr).not.toContain('heap out of memory');
    expect(result.code).toBe(0);
    expect(await planted('large')).toEqual(range(2_000));
  }, 120_000);
});

describe('when the spool cannot be used', () => {
  it('#31 a spool directory of another user is never written, not even at exit', async () => {
    const spoolDir = join(newSpoolDir(), 'theirs');
    mkdirSync(spoolDir, { mode: 0o777 });
    chownSync(spoolDir, NOBODY, NOBODY);
    await server.stop();
    try {
      const down = await runNode(APP, ['natural', '20'], {
        env: {
          FIXTURE_OPTIONS: JSON.stringify({ connectionString: server.url, application: 'theirs' }),
          LOGWEAVER_SPOOL_DIR: spoolDir,
        },
      });
      expect(down.code).toBe(0);
      expect(down.stderr).not.toContain('will be delivered at the next start');
      expect(down.stderr).toContain(`the spool directory ${spoolDir} belongs to another user`);
      expect(readdirSync(spoolDir)).toEqual([]);
    } finally {
      await server.start();
    }
  });

  it('logger.flush(cb) during an outage calls back when the spool cannot take the records, and says so', async () => {
    await server.stop();
    const options = { connectionString: server.url, application: 'no-room', maxSpoolBytes: 0, flushInterval: 60_000 };
    const child = spawn(process.execPath, [APP, 'flush-and-wait', '50'], {
      env: cleanEnv({ FIXTURE_OPTIONS: JSON.stringify(options) }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    try {
      await eventually(() => stdout.includes('flushed'), 20_000);
      expect(stderr).toContain('50 records wait in memory only while the database is away');
    } finally {
      child.kill('SIGKILL');
      await server.start();
    }
  });
});

/** Holds an exclusive lock on the stall table: inserts whose trigger locks it wait. */
async function lockStall() {
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: server.url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE stall IN ACCESS EXCLUSIVE MODE');
  return { end: () => client.end() };
}
