// The exit deadline. The batch being written when it passes: its commit is not known, so it is
// spooled with its ledger id, and the next start asks the ledger before writing it again (seen in
// CI: pipe mode delivering 200 MB of leftovers under load stored one batch twice, 2,083 rows for
// 2,000). And pipe mode with no signal waits for a database that keeps committing, past the deadline.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase, queryOnce, type TestDatabase } from './support/database.js';
import { eventually, range, seqs } from './support/records.js';
import { startSabotageProxy } from './support/sabotage-proxy.js';
import { CLI, cleanEnv, runCli } from './support/spawn.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('exit_deadline');
  // The first start makes the tables; then a record with "gate" waits for the gate to open (a wait in
  // a loop, not on a lock: lock_timeout would end it before the exit deadline), and one with "pause"
  // takes that many seconds while the gate table says so.
  expect((await runCli(['--database-url', db.url], { input: '{"level":30,"msg":"first"}\n' })).code).toBe(0);
  await db.query(`CREATE TABLE gate (open boolean NOT NULL, pausing boolean NOT NULL);
    INSERT INTO gate VALUES (true, true);
    CREATE FUNCTION wait_for_gate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.record->>'gate' IS NOT NULL THEN
        WHILE NOT (SELECT open FROM gate) LOOP PERFORM pg_sleep(0.02); END LOOP;
      END IF;
      IF NEW.record->>'pause' IS NOT NULL AND (SELECT pausing FROM gate) THEN PERFORM pg_sleep((NEW.record->>'pause')::float); END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER wait_for_gate BEFORE INSERT ON log FOR EACH ROW EXECUTE FUNCTION wait_for_gate();`);
});
afterAll(async () => db.drop());

const twenty = range(20)
  .map((seq) => `{"level":30,"msg":"line ${seq}","seq":${seq}${seq === 5 ? ',"gate":true' : ''}}\n`)
  .join('');

const setGate = (open: boolean) => db.query('UPDATE gate SET open = $1', [open]);

/** Pipe mode fed `input`, with its spool in `directory`; `onStderr` sees what it prints as it goes. */
function startPipe(args: string[], input: string, directory = spoolDir(), onStderr?: (stderr: string) => void) {
  const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv({ LOGWEAVER_SPOOL_DIR: directory }) });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    onStderr?.(stderr);
  });
  child.stdin.end(input);
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stderr })),
  );
  return { child, exited };
}

/**
 * Pipe mode storing twenty lines whose batch waits at the gate past the exit deadline (8 s). With
 * `openAtDeadline`, the gate opens as soon as the process says the batch is left in the spool, so
 * the batch commits while the process closes its connection; else it opens once the process is gone.
 */
async function exitWithBatchInFlight(application: string, directory: string, openAtDeadline: boolean) {
  await setGate(false);
  const { exited } = startPipe(['--database-url', db.url, '--application', application], twenty, directory, (text) => {
    if (openAtDeadline && text.includes('before the exit deadline')) void setGate(true);
  });
  const result = await exited;
  await setGate(true);
  return result;
}

/**
 * The next start with the same spool directory: everything stored exactly once (but `without`, rows
 * stored without their record), nothing left.
 */
async function expectNextStartToDeliverOnce(
  application: string,
  directory: string,
  count: number,
  without: number[] = [],
) {
  const next = await runCli(['--database-url', db.url, '--application', application], {
    env: { LOGWEAVER_SPOOL_DIR: directory },
    timeoutMs: 60_000,
  });
  expect(next.code).toBe(0);
  expect(await seqs(db.url, application)).toEqual(range(count).filter((seq) => !without.includes(seq)));
  expect(readdirSync(directory)).toEqual([]);
}

const spoolDir = () => mkdtempSync(join(tmpdir(), 'logweaver-in-flight-'));

describe('the batch being written at the exit deadline', () => {
  it('committed after the deadline: the next start finds it in the ledger and does not store it again', async () => {
    const directory = spoolDir();
    const first = await exitWithBatchInFlight('late-commit', directory, true);
    expect(first.stderr).toContain('20 records were not delivered to the database before the exit deadline');
    expect(first.code).toBe(1);
    // The batch committed all the same, while the process closed its connection.
    await eventually(async () => (await seqs(db.url, 'late-commit')).length === 20, 10_000);
    expect(readdirSync(directory).filter((name) => name.endsWith('.spool'))).toHaveLength(1);

    await expectNextStartToDeliverOnce('late-commit', directory, 20);
  }, 60_000);

  it('never committed: the next start writes it, once', async () => {
    const directory = spoolDir();
    const first = await exitWithBatchInFlight('no-commit', directory, false);
    expect(first.code).toBe(1);
    expect(await seqs(db.url, 'no-commit')).toEqual([]);

    await expectNextStartToDeliverOnce('no-commit', directory, 20);
  }, 60_000);
});

describe('a batch being bisected at the exit deadline', () => {
  it('the halves not yet written are not written after the exit, so the next start stores each record once', async () => {
    // The first row fails a CHECK, so the batch is bisected down to it; the part holding the gate row
    // waits past the deadline, and commits as the process closes. The half after it must not follow
    // on the same connection, where the run's end would commit it too.
    await db.query(`ALTER TABLE log ADD CONSTRAINT no_reject CHECK (record->>'reject' IS NULL)`);
    try {
      const directory = spoolDir();
      const input = twenty.replace('"seq":0}', '"seq":0,"reject":true}');
      await setGate(false);
      const { exited } = startPipe(
        ['--database-url', db.url, '--application', 'bisected'],
        input,
        directory,
        (text) => {
          if (text.includes('before the exit deadline')) void setGate(true);
        },
      );
      const first = await exited;
      await setGate(true);
      expect(first.code).toBe(1);
      await expectNextStartToDeliverOnce('bisected', directory, 20, [0]);
    } finally {
      await db.query('ALTER TABLE log DROP CONSTRAINT no_reject');
    }
  }, 60_000);
});

describe('a batch whose commit is unknown, then an outage until the exit', () => {
  it('is spooled with its ledger id: the next start finds it committed and does not store it again', async () => {
    const target = new URL(db.url);
    const allowConnections = async (allow: boolean) => {
      await queryOnce(adminUrl(), `ALTER DATABASE ${db.name} ALLOW_CONNECTIONS ${allow}`);
    };
    // The server commits the first batch, the client never hears it, and no connection gets through
    // again before the process exits: the ledger cannot be asked.
    const proxy = await startSabotageProxy(target.hostname, Number(target.port || 5432), () => allowConnections(false));
    const directory = spoolDir();
    try {
      const url = new URL(db.url);
      url.port = String(proxy.port);
      const first = await runCli(['--database-url', url.toString(), '--application', 'unknown-fate'], {
        input: twenty.replace(',"gate":true', ''),
        env: { LOGWEAVER_SPOOL_DIR: directory },
      });
      await proxy.sabotaged;
      expect(first.stderr).toContain('20 records were not delivered to the database before the exit deadline');
      expect(first.code).toBe(1);
    } finally {
      await proxy.close();
      await allowConnections(true);
    }
    expect(await seqs(db.url, 'unknown-fate')).toEqual(range(20));

    await expectNextStartToDeliverOnce('unknown-fate', directory, 20);
  }, 60_000);
});

describe('pipe mode at the end of its input', () => {
  // Batches of two records, each taking 1 s to commit: 10 s in all for twenty, past the 8 s deadline.
  const slow = (count: number) =>
    range(count)
      .map((seq) => `{"level":30,"msg":"slow ${seq}","seq":${seq}${seq % 2 === 0 ? ',"pause":1' : ''}}\n`)
      .join('');
  const slowPipe = (application: string, count: number, directory?: string) =>
    startPipe(['--database-url', db.url, '--application', application, '--batch-size', '2'], slow(count), directory);

  it('waits past the deadline for a database that keeps committing, and stores everything', async () => {
    const { code, stderr } = await slowPipe('keeps-committing', 20).exited;
    expect(stderr).toContain('read 20 lines, wrote 20 rows, run');
    expect(code).toBe(0);
    expect(await seqs(db.url, 'keeps-committing')).toEqual(range(20));
  }, 60_000);

  it('after SIGTERM, keeps to the deadline and leaves the rest in the spool', async () => {
    const directory = spoolDir();
    // 30 s of commits: what is left after the signal takes longer than the deadline.
    const { child, exited } = slowPipe('stopped', 60, directory);
    await eventually(async () => (await seqs(db.url, 'stopped')).length >= 2, 20_000);
    child.kill('SIGTERM');
    const { code, stderr } = await exited;
    expect(stderr).toMatch(/NOT delivered \d+/);
    expect(code).toBe(1);
    expect((await seqs(db.url, 'stopped')).length).toBeLessThan(60);

    // The next start delivers the rest, without the pauses.
    await db.query('UPDATE gate SET pausing = false');
    await expectNextStartToDeliverOnce('stopped', directory, 60);
  }, 120_000);
});
