// Rows of ../shared/FAULTS.md that the rest of the suite does not already cover, each named after
// its row. Oracle: numbered records, each stored exactly once.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminUrl,
  createTestDatabase,
  queryOnce,
  rolledBackTransactions,
  type TestDatabase,
} from './support/database.js';
import { eventually, range, seqs, startReader } from './support/records.js';
import { startSabotageProxy } from './support/sabotage-proxy.js';
import { CLI, cleanEnv, runCli, startPipeReader } from './support/spawn.js';

let db: TestDatabase;
const role = `faults_${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  db = await createTestDatabase('faults');
  await db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'right-password'`);
  await db.query(`GRANT CREATE, USAGE ON SCHEMA public TO ${role}`);
});
afterAll(async () => {
  await db.drop();
  await queryOnce(adminUrl(), `DROP ROLE IF EXISTS ${role}`);
});

describe('FAULTS.md', () => {
  it('#16 wrong password: a clear error naming the cause, never the password, and no loss once fixed', async () => {
    const spool = { LOGWEAVER_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'logweaver-f16-')) };
    const wrong = await runCli(['--database-url', db.urlFor(role, 'wrong-password'), '--application', 'f16'], {
      input: '{"level":30,"msg":"kept"}\n',
      env: spool,
    });
    expect(wrong.stderr).toContain(`password authentication failed for user "${role}" (28P01)`);
    expect(wrong.stderr).toContain(`database ${role}@127.0.0.1:`);
    expect(wrong.stderr).not.toContain('wrong-password');
    expect(wrong.stderr).toContain('1 records were not delivered to the database before the exit deadline');
    expect(wrong.code).toBe(1);
    const fixed = await runCli(['--database-url', db.urlFor(role, 'right-password'), '--application', 'f16'], {
      env: spool,
    });
    expect(fixed.code).toBe(0);
    expect(await db.query("SELECT message FROM log WHERE application_name = 'f16' AND record IS NOT NULL")).toEqual([
      { message: 'kept' },
    ]);
  });

  it('#7 records of odd shapes (the kind that break enrichment code): every one stored, the reader lives', async () => {
    const odd = [
      '{"level":30,"seq":0,"msg":{"an":"object"}}',
      '{"level":"x","seq":1,"msg":"a level name pino does not know"}',
      '{"level":30,"seq":2,"time":"not a time","msg":"t"}',
      '{"level":30,"seq":3,"time":1e300,"msg":"a time past any date"}',
      '{"level":30,"seq":4,"tags":"solo","msg":"tags as a string"}',
      '{"level":30,"seq":5,"tags":[1,null,{"x":2}],"msg":"tags of other types"}',
      '{"level":50,"seq":6,"err":{"stack":5,"message":null},"msg":"an error of the wrong shape"}',
      '{"level":1e400,"seq":7,"msg":"a level past any number"}',
      '{"seq":8}',
      '{"level":30,"seq":9,"__proto__":{"polluted":true},"msg":"__proto__"}',
    ];
    const result = await runCli(['--database-url', db.url, '--application', 'f7'], { input: odd.join('\n') });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^logweaver-pino: read 10 lines, wrote 10 rows, run 1 of f7\n$/);
    expect(await seqs(db.url, 'f7')).toEqual(range(10));
  });

  it('#19 NUL bytes in the message or any field: stored with NUL replaced; neighbours unaffected', async () => {
    const input = [
      '{"level":30,"seq":0,"msg":"before"}',
      '{"level":30,"seq":1,"msg":"nul\\u0000inside","tags":["a\\u0000b"],"field":"x\\u0000y"}',
      '{"level":30,"seq":2,"msg":"after"}',
      'raw\u0000text',
    ].join('\n');
    const result = await runCli(['--database-url', db.url, '--application', 'f19'], { input });
    expect(result.code).toBe(0);
    const rows = await db.query(
      "SELECT message, tags, record->>'field' AS field FROM log WHERE application_name = 'f19' AND message NOT LIKE '% - Run Number Incremented' ORDER BY log_id",
    );
    expect(rows).toEqual([
      { message: 'before', tags: '', field: null },
      { message: 'nul\uFFFDinside', tags: 'a\uFFFDb', field: 'x\uFFFDy' },
      { message: 'after', tags: '', field: null },
      { message: 'raw\uFFFDtext', tags: '', field: null },
    ]);
  });

  it('#20 lone surrogates in strings: stored with replacement characters, never an encoding error', async () => {
    const input = '{"level":30,"msg":"lone \\ud800 high","other":"low \\udc00 alone","pair":"\\ud83d\\ude00"}\n';
    const result = await runCli(['--database-url', db.url, '--application', 'f20'], { input });
    expect(result.code).toBe(0);
    const rows = await db.query(
      "SELECT message, record->>'other' AS other, record->>'pair' AS pair FROM log WHERE application_name = 'f20' AND record IS NOT NULL",
    );
    expect(rows).toEqual([{ message: 'lone \uFFFD high', other: 'low \uFFFD alone', pair: '😀' }]);
  });

  it('#15 INSERT privilege revoked mid-run: error reported, rows kept and retried, no loss once granted', async () => {
    await db.query(`CREATE TABLE IF NOT EXISTS f15_log (LIKE log INCLUDING ALL)`);
    await db.query(`GRANT INSERT, SELECT ON f15_log TO ${role}`);
    const url = db.urlFor(role, 'right-password');
    const reader = spawn(process.execPath, [CLI, '--table', 'f15_log'], {
      env: cleanEnv({ LOGWEAVER_DATABASE_URL: url, LOGWEAVER_APPLICATION: 'f15', LOGWEAVER_FLUSH_INTERVAL: '100' }),
    });
    let stderr = '';
    reader.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const stored = async () =>
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM f15_log WHERE record IS NOT NULL'))[0]?.n;
    reader.stdin.write('{"level":30,"seq":0,"msg":"n"}\n');
    await eventually(async () => (await stored()) === 1);
    const rollbacksBefore = await rolledBackTransactions(db.url);
    await db.query(`REVOKE INSERT ON f15_log FROM ${role}`);
    for (let seq = 1; seq < 50; seq++) reader.stdin.write(`{"level":30,"seq":${seq},"msg":"n"}\n`);
    await eventually(() => stderr.includes('permission denied for table f15_log (42501)'));
    // Reported at once, then not again within 30 s, although it is retried meanwhile: each failed
    // try is a rolled-back transaction on the server, so wait for the first one and a retry.
    await eventually(async () => (await rolledBackTransactions(db.url)) >= rollbacksBefore + 2, 30_000);
    expect(stderr.match(/permission denied for table f15_log/g)).toHaveLength(1);
    await db.query(`GRANT INSERT ON f15_log TO ${role}`);
    // A configuration error is retried every 7.5 to 15 s.
    await eventually(async () => (await stored()) === 50, 20_000);
    reader.stdin.end();
    expect(await new Promise((resolve) => reader.on('close', resolve))).toBe(0);
    const rows = await db.query<{ seq: number }>(
      "SELECT (record->>'seq')::int AS seq FROM f15_log WHERE record IS NOT NULL ORDER BY log_id",
    );
    expect(rows.map((row) => row.seq)).toEqual(range(50));
  });

  it('#12 table locked: the write waits, times out, is retried, and nothing is lost', async () => {
    const reader = startReader(db.url, 'f12');
    reader.write(10);
    await eventually(async () => (await seqs(db.url, 'f12')).length === 10);
    const locker = await import('pg').then(({ default: pg }) => new pg.Client({ connectionString: db.url }));
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE log IN ACCESS EXCLUSIVE MODE');
    reader.write(10);
    await eventually(() => reader.stderr().includes('canceling statement due to lock timeout (55P03)'), 20_000);
    await locker.query('COMMIT');
    await locker.end();
    const { code } = await reader.end();
    expect(code).toBe(0);
    expect(await seqs(db.url, 'f12')).toEqual(range(20));
  }, 60_000);

  it('#22 lines of 1 MB, 6 MB and 100 MB: up to the maximum stored intact, longer ones truncated, marked and counted', async () => {
    const line = (size: number, tag: string) => `{"level":30,"msg":"${tag}","pad":"${'x'.repeat(size)}"}`;
    const input = [
      line(900 * 1024, 'intact'),
      line(6 * 1024 * 1024, 'six'),
      line(100 * 1024 * 1024, 'hundred'),
      '{"msg":"last"}',
    ].join('\n');
    const result = await runCli(['--database-url', db.url, '--application', 'f22'], { input, timeoutMs: 120_000 });
    expect(result.stderr).toContain('read 4 lines, wrote 4 rows, truncated 2,');
    expect(result.code).toBe(0);
    const rows = await db.query(
      `SELECT level, open_clone_log AS own, record IS NOT NULL AS has_record, octet_length(message) AS bytes,
              substring(message from '…\\[truncated by logweaver-pino: \\d+ bytes\\]$') AS marker
         FROM log WHERE application_name = 'f22' AND message NOT LIKE '% - Run Number Incremented' ORDER BY log_id`,
    );
    // Pipe mode keeps a line only up to one byte past the maximum while it reads it (issue 14); the
    // row's marker still names the size of the whole line, as stderr does.
    const truncated = (size: number, tag: string) => {
      const marker = `…[truncated by logweaver-pino: ${line(size, tag).length} bytes]`;
      return {
        level: 'INFO',
        own: false,
        has_record: false,
        bytes: 1024 * 1024 + 1 + Buffer.byteLength(marker),
        marker,
      };
    };
    expect(rows).toEqual([
      { level: 'INFO', own: true, has_record: true, bytes: 'intact'.length, marker: null },
      truncated(6 * 1024 * 1024, 'six'),
      truncated(100 * 1024 * 1024, 'hundred'),
      { level: 'INFO', own: true, has_record: true, bytes: 4, marker: null },
    ]);
    for (const [size, tag] of [
      [6 * 1024 * 1024, 'six'],
      [100 * 1024 * 1024, 'hundred'],
    ] as const) {
      expect(result.stderr).toContain(
        `logweaver-pino: warning: a line of ${line(size, tag).length} bytes was cut while it was read: only its first 1048576 bytes are stored\n`,
      );
    }
  }, 120_000);

  it('#14 the server committed but the client never heard: the retry stores no duplicate', async () => {
    const target = new URL(db.url);
    const ledgerBefore = await ledger();
    let whileWithheld: { stored: number[]; ledger: Array<{ rows: number }> } | undefined;
    // While the server's "committed" is held back from the client, the rows and the batch's ledger
    // entry are already in the database: the commit landed before the client could know.
    const proxy = await startSabotageProxy(target.hostname, Number(target.port || 5432), async () => {
      whileWithheld = { stored: await seqs(db.url, 'f14'), ledger: (await ledger()).slice(ledgerBefore.length) };
    });
    try {
      const url = new URL(db.url);
      url.port = String(proxy.port);
      const input = Array.from({ length: 20 }, (_, seq) => `{"level":30,"seq":${seq},"msg":"n"}\n`).join('');
      const cli = startPipeReader([
        '--database-url',
        url.toString(),
        '--application',
        'f14',
        '--stats-interval',
        '100',
      ]);
      await cli.write(input);
      await proxy.sabotaged;
      // Stdin ends only once the retry has settled the batch (its stats count it written): ended at
      // once, the exit's short deadline for an unreachable database could pass first on a busy machine.
      await eventually(() => /stats \{.*"written":20\b.*"buffered":0\b/.test(cli.stderr())).catch(() => undefined);
      const code = await cli.end();
      expect(whileWithheld).toEqual({ stored: range(20), ledger: [{ rows: 20 }] });
      expect(cli.stderr()).toContain('writing a batch failed; it will be retried');
      expect(code).toBe(0);
      expect(await seqs(db.url, 'f14')).toEqual(range(20)); // the retry asked the ledger and wrote nothing again
      expect(await ledger()).toEqual([...ledgerBefore, { rows: 20 }]);
    } finally {
      await proxy.close();
    }
  });
});

/** The batch ledger of the log table (log_batches), oldest first; none before the table exists. */
async function ledger(): Promise<Array<{ rows: number }>> {
  return db
    .query<{ rows: number }>('SELECT rows FROM log_batches ORDER BY committed_at, batch_id')
    .catch((error: { code?: string }) => {
      if (error.code === '42P01') return [];
      throw error;
    });
}
