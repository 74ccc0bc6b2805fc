import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { peakResidentBytes } from './support/memory.js';
import { eventually, range, seqs } from './support/records.js';
import { CLI, FIXTURES, cleanEnv, runCli, startPipeReader } from './support/spawn.js';

const MB = 1024 * 1024;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('pipe');
});
afterAll(async () => db.drop());

async function rowsOf(application: string) {
  return db
    .query<{ message: string; level: string; open_clone_log: boolean; has_record: boolean }>(
      `SELECT message, level, open_clone_log, record IS NOT NULL AS has_record
         FROM log WHERE application_name = $1 AND message NOT LIKE '% - Run Number Incremented' ORDER BY log_id`,
      [application],
    )
    .catch((error: { code?: string }) => {
      if (error.code === '42P01') return []; // the reader has not created the table yet
      throw error;
    });
}

describe('pipe mode: node app.js | logweaver-pino', () => {
  it('#21 #20 non-JSON, null, 42, "text", truncated JSON, invalid UTF-8, a last line with no newline: all stored as rows', async () => {
    const input = Buffer.concat([
      Buffer.from(
        '{"level":30,"time":1700000000000,"msg":"json line"}\nplain text\n\n   \n42\nnull\n"text"\n{"truncated":\n',
      ),
      Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x0a]), // "bad" + invalid UTF-8
      Buffer.from('{"level":40,"msg":"no newline at the end"}'),
    ]);
    const result = await runCli(['--database-url', db.url, '--application', 'pipe-basic'], { input });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^logweaver-pino: read 8 lines, wrote 8 rows, run 1 of pipe-basic\n$/);
    expect(await rowsOf('pipe-basic')).toEqual([
      { message: 'json line', level: 'INFO', open_clone_log: true, has_record: true },
      { message: 'plain text', level: 'INFO', open_clone_log: false, has_record: false },
      { message: '42', level: 'INFO', open_clone_log: false, has_record: false },
      { message: 'null', level: 'INFO', open_clone_log: false, has_record: false },
      { message: '"text"', level: 'INFO', open_clone_log: false, has_record: false },
      { message: '{"truncated":', level: 'INFO', open_clone_log: false, has_record: false },
      { message: 'bad\uFFFD\uFFFD', level: 'INFO', open_clone_log: false, has_record: false },
      { message: 'no newline at the end', level: 'WARNING', open_clone_log: true, has_record: true },
    ]);
  });

  it('echoes every line to stdout with --tee', async () => {
    const input = '{"msg":"one"}\ntwo\n';
    const result = await runCli(['--database-url', db.url, '--application', 'pipe-tee', '--tee'], { input });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(input);
    expect(await rowsOf('pipe-tee')).toHaveLength(2);
  });

  it('issue 14 A1: progress lines ended by a lone \\r are stored at once, not when a newline comes', async () => {
    const reader = startPipeReader(['--database-url', db.url, '--application', 'pipe-cr', '--flush-interval', '100']);
    try {
      await reader.write('frame=1\rframe=2\r');
      await eventually(async () => (await rowsOf('pipe-cr')).length === 2, 10_000);
      // \r\n is still one line end, also with the \n in the next write.
      await reader.write('frame=3\r');
      expect(await reader.end('\nlast\n')).toBe(0);
    } finally {
      reader.child.kill();
    }
    expect(reader.stderr()).toBe('logweaver-pino: read 4 lines, wrote 4 rows, run 1 of pipe-cr\n');
    expect((await rowsOf('pipe-cr')).map((row) => row.message)).toEqual(['frame=1', 'frame=2', 'frame=3', 'last']);
  });

  it('issue 14 A2: a line that never ends is held only up to --max-record-bytes: memory bounded, stored truncated', async () => {
    const reader = startPipeReader([
      ...['--database-url', db.url, '--application', 'pipe-endless'],
      ...['--max-record-bytes', '4096'],
    ]);
    let growth: number;
    try {
      await reader.write('{"level":30,"msg":"before"}\n');
      await eventually(async () => (await rowsOf('pipe-endless')).length === 1);
      const settled = peakResidentBytes(reader.child.pid as number);
      for (let megabyte = 0; megabyte < 64; megabyte++) await reader.write('x'.repeat(MB));
      // All but the pipe's 64 KiB has been read by now; the reader still has the line to finish.
      growth = peakResidentBytes(reader.child.pid as number) - settled;
      expect(await reader.end('\n{"level":30,"msg":"after"}\n')).toBe(0);
    } finally {
      reader.child.kill();
    }
    // Holding the line would take 64 MB or more.
    expect(growth).toBeLessThan(24 * MB);
    // The row's marker and stderr name the size of the whole line.
    expect(reader.stderr()).toContain(
      `logweaver-pino: warning: a line of ${64 * MB} bytes was cut while it was read: only its first 4096 bytes are stored\n`,
    );
    expect(reader.stderr()).toContain(
      'logweaver-pino: read 3 lines, wrote 3 rows, truncated 1, run 1 of pipe-endless\n',
    );
    expect(await rowsOf('pipe-endless')).toEqual([
      { message: 'before', level: 'INFO', open_clone_log: true, has_record: true },
      {
        message: `${'x'.repeat(4096)} …[truncated by logweaver-pino: ${64 * MB} bytes]`,
        level: 'INFO',
        open_clone_log: false,
        has_record: false,
      },
      { message: 'after', level: 'INFO', open_clone_log: true, has_record: true },
    ]);
  });

  it('issue 14 A3: --tee holds up its input while a slow reader of stdout catches up, instead of buffering; no line lost', async () => {
    const count = 24 * 1024;
    const lines = Array.from({ length: count }, (_, seq) => `{"level":30,"seq":${seq},"msg":"${'t'.repeat(990)}"}\n`);
    const input = lines.join('');
    const reader = startPipeReader([
      ...['--database-url', db.url, '--application', 'pipe-slow-tee', '--tee'],
      ...['--max-buffered-bytes', String(4 * MB)], // the pipeline's own buffer stays small
    ]);
    const echoed = slowlyRead(reader.child.stdout, 8 * MB);
    // What the reader has taken from its stdin but not yet passed on to the slow reader of its stdout.
    let mostHeldBack = 0;
    try {
      for (let written = 0; written < input.length; written += 64 * 1024) {
        await reader.write(input.slice(written, written + 64 * 1024));
        mostHeldBack = Math.max(mostHeldBack, Math.min(written + 64 * 1024, input.length) - echoed.bytes());
      }
      expect(await reader.end()).toBe(0);
    } finally {
      reader.child.kill();
    }
    // Pipes and stream buffers on the way hold a few hundred KiB; buffering would hold most of 24 MB.
    expect(mostHeldBack).toBeLessThan(2 * MB);
    expect(echoed.text()).toBe(input);
    expect(reader.stderr()).toBe(`logweaver-pino: read ${count} lines, wrote ${count} rows, run 1 of pipe-slow-tee\n`);
    expect(await seqs(db.url, 'pipe-slow-tee')).toEqual(range(count));
  });

  it('#24 Ctrl-C to the whole pipeline: the reader drains stdin to EOF, stores everything and exits 0', async () => {
    const env = cleanEnv({ LOGWEAVER_DATABASE_URL: db.url, LOGWEAVER_APPLICATION: 'pipe-sigint' });
    // The shell stands in for an interactive one, which keeps its job in a process group of its own:
    // it traps SIGINT (so only the pipeline's processes act on it) and reports the reader's status.
    const pipeline = `trap : INT; node ${FIXTURES}producer.mjs 5000 | node ${CLI}; echo "reader exit $?" >&2`;
    const shell = spawn('sh', ['-c', pipeline], {
      env,
      detached: true, // its own process group, as a terminal's foreground job
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    shell.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    await eventually(() => stderr.includes('ready'), 15_000);
    process.kill(-(shell.pid as number), 'SIGINT');
    const code = await new Promise<number | null>((resolve) => shell.on('close', resolve));
    expect(code).toBe(0);
    expect(stderr).toContain('read 5000 lines, wrote 5000 rows');
    expect(stderr).toContain('reader exit 0');
    const [count] = await db.query<{ n: number; distinct: number }>(
      "SELECT count(*)::int AS n, count(DISTINCT record->>'seq')::int AS distinct FROM log WHERE application_name = 'pipe-sigint' AND record IS NOT NULL",
    );
    expect(count).toEqual({ n: 5000, distinct: 5000 });
  });

  it('stops reading instead of dropping when the input outruns the database', async () => {
    const input = Array.from({ length: 20_000 }, (_, seq) => `{"level":30,"seq":${seq},"msg":"burst"}\n`).join('');
    const result = await runCli(
      ['--database-url', db.url, '--application', 'pipe-burst', '--max-buffered-rows', '1000', '--batch-size', '100'],
      { input },
    );
    expect(result.stderr).toBe('logweaver-pino: read 20000 lines, wrote 20000 rows, run 1 of pipe-burst\n');
    expect(result.code).toBe(0);
    const [count] = await db.query(
      "SELECT count(DISTINCT record->>'seq')::int AS n FROM log WHERE application_name = 'pipe-burst' AND record IS NOT NULL",
    );
    expect(count).toEqual({ n: 20_000 });
  });

  it('#23 rows the server rejects: only they are isolated, every good row of the batch lands', async () => {
    // The table's owner added CHECKs: one row fails only because of its record, one whatever is done.
    await db.query('CREATE SCHEMA strict');
    expect((await runCli(['schema', 'apply', '--database-url', db.url, '--schema', 'strict'])).code).toBe(0);
    await db.query(`ALTER TABLE strict.log ADD CHECK (record IS NULL OR record->>'secret' IS NULL),
                                          ADD CHECK (tags <> 'forbidden')`);
    const lines = [
      '{"level":30,"msg":"before"}',
      '{"level":30,"msg":"carries a secret","secret":"x"}',
      '{"level":30,"msg":"forbidden tag","tags":["forbidden"]}',
      '{"level":30,"time":1e300,"msg":"time out of range"}',
      '{"level":30,"msg":"after"}',
    ];
    const result = await runCli(['--database-url', db.url, '--schema', 'strict', '--application', 'poison'], {
      input: `${lines.join('\n')}\n`,
    });
    expect(result.stderr).toContain(
      'logweaver-pino: warning: a record the database rejected (new row for relation "log" violates check constraint "log_record_check" (23514)) was stored without its record column\n',
    );
    expect(result.stderr).toContain(
      'logweaver-pino: error: a record the database rejected (new row for relation "log" violates check constraint "log_tags_check" (23514)) was dropped: forbidden tag\n',
    );
    expect(result.stderr).toContain('read 5 lines, wrote 5 rows, dropped 1');
    expect(result.code).toBe(1);
    const rows = await db.query(
      `SELECT message, record IS NOT NULL AS has_record, abs(extract(epoch FROM now() - "timestamp")) < 60 AS recent
         FROM strict.log WHERE message NOT LIKE '% - Run Number Incremented' ORDER BY log_id`,
    );
    expect(rows).toEqual([
      { message: 'before', has_record: true, recent: true },
      { message: 'carries a secret', has_record: false, recent: true },
      { message: 'time out of range', has_record: true, recent: true },
      { message: 'after', has_record: true, recent: true },
      {
        message: expect.stringMatching(
          /^logweaver: 1 records dropped \(rejected by the database\) between \S+ and \S+$/,
        ) as unknown,
        has_record: true,
        recent: true,
      },
    ]);
  });

  it('rejects a bad option with exit code 2 and a message naming it', async () => {
    const result = await runCli(['--database-url', db.url, '--flush-interval', 'soon']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'logweaver-pino: --flush-interval must be a whole number from 10 to 3600000, got "soon"\n',
    );
  });
});

/** Reads a stream at about `bytesPerSecond`, as a slow consumer of a pipe does (a paused pager, a slow terminal). */
function slowlyRead(stream: Readable, bytesPerSecond: number) {
  const chunks: Buffer[] = [];
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    bytes += chunk.length;
    stream.pause();
    setTimeout(() => stream.resume(), (1000 * chunk.length) / bytesPerSecond);
  });
  return { bytes: () => bytes, text: () => Buffer.concat(chunks).toString('utf8') };
}
