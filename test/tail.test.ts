// `logweaver-pino tail` against the package's own table, through the real binary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaSql } from '../src/write/ddl.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { insertRows, openTransaction, type SeedRow } from './support/seed.js';
import type { StoredRow } from '../src/read/rows.js';
import { cliStdout, jsonLines, runCli, startCli } from './support/spawn.js';

let db: TestDatabase;

// log_id is the position in this list, from 1.
const SEED: SeedRow[] = [
  { message: 'render - Run Number Incremented', time: '2026-11-28T09:00:00.000Z' },
  {
    message: 'frame 1 of 120',
    time: '2026-11-28T09:00:01.000Z',
    level: 'DEBUG',
    tags: 'frames',
    record: { level: 20, msg: 'frame 1 of 120', frame: 1 },
  },
  { message: 'slow frame: 250 ms', time: '2026-11-28T09:00:02.000Z', level: 'WARNING', tags: 'perf,frames' },
  { message: 'ffmpeg: frame=120 fps=30', time: '2026-11-28T09:00:03.000Z', thirdParty: true },
  {
    application: 'u2net',
    machine: 'gpu-2',
    run: 4,
    message: 'mask 100% <b>black</b>',
    time: '2026-11-28T09:30:00.000Z',
    level: 'ERROR',
    tags: 'mask',
  },
  { run: 2, message: 'render - Run Number Incremented', time: '2026-11-28T10:00:00.000Z' },
  { run: 2, message: 'face_not_found in frame 7', time: '2026-11-28T10:00:05.000Z', level: 'CRITICAL', tags: 'render' },
  {
    application: 'u2net',
    machine: 'gpu-2',
    run: 4,
    message: 'audit: model swapped',
    time: '2026-11-28T10:01:00.000Z',
    level: 'AUDIT',
  },
];

beforeAll(async () => {
  db = await createTestDatabase('tail');
  await db.query(schemaSql({ schema: 'public', table: 'log' }));
  await insertRows(db.url, SEED);
});
afterAll(async () => db.drop());

const tail = (...args: string[]) => cliStdout(['tail', '--database-url', db.url, '--timezone', 'UTC', ...args]);

/** The log_ids printed by `tail --json` with these flags. */
async function idsOf(...args: string[]): Promise<number[]> {
  return jsonLines<StoredRow>(await tail('--json', ...args)).map((row) => row.log_id);
}

describe('logweaver-pino tail --json', () => {
  it('prints one object per row, keyed by the column names, oldest first', async () => {
    const lines = (await tail('--json')).split('\n');
    expect(lines).toHaveLength(SEED.length + 1);
    expect(lines[1]).toBe(
      '{"log_id":2,"run_number":1,"application_name":"render","open_clone_log":true,"timestamp":"2026-11-28T09:00:01.000Z",' +
        '"message":"frame 1 of 120","tags":"frames","level":"DEBUG","machine_name":"gpu-1","ip_address":"10.0.0.5",' +
        '"record":{"level":20,"msg":"frame 1 of 120","frame":1}}',
    );
    expect(lines[3]).toBe(
      '{"log_id":4,"run_number":1,"application_name":"render","open_clone_log":false,"timestamp":"2026-11-28T09:00:03.000Z",' +
        '"message":"ffmpeg: frame=120 fps=30","tags":"","level":"INFO","machine_name":"gpu-1","ip_address":"10.0.0.5","record":null}',
    );
    expect(lines[SEED.length]).toBe('');
  });

  it('shows times in the configured time zone, with the offset', async () => {
    const [first] = (await tail('--json', '--limit', '1', '--timezone', 'America/New_York')).split('\n');
    expect(JSON.parse(first as string)).toMatchObject({ log_id: 8, timestamp: '2026-11-28T05:01:00.000-05:00' });
  });

  it('--limit keeps the last rows, still oldest first', async () => {
    expect(await idsOf('--limit', '3')).toEqual([6, 7, 8]);
  });

  // Each case spawns the binary: they run side by side.
  it.concurrent.for<[string[], number[]]>([
    [
      ['--application', 'u2net'],
      [5, 8],
    ],
    [
      ['--application', 'u2net', '--application', 'render', '--limit', '2'],
      [7, 8],
    ],
    [
      ['--application', 'u2net,render', '--limit', '2'],
      [7, 8],
    ],
    [
      ['--machine', 'gpu-2'],
      [5, 8],
    ],
    [
      ['--run', '2'],
      [6, 7],
    ],
    [['--run', '4', '--application', 'render'], []],
    [
      ['--run', 'latest', '--application', 'render'],
      [6, 7],
    ],
    [
      ['--run', 'latest', '--application', 'render', '--application', 'u2net'],
      [5, 6, 7, 8],
    ],
    [
      ['--run', 'latest'],
      [5, 8],
    ],
    [
      ['--level', 'WARNING'],
      [3, 5, 7, 8],
    ],
    [
      ['--level', 'error'],
      [5, 7, 8],
    ],
    [
      ['--level', 'fatal'],
      [7, 8],
    ],
    [
      ['--tag', 'frames'],
      [2, 3],
    ],
    [
      ['--tag', 'perf', '--tag', 'mask'],
      [3, 5],
    ],
    [
      ['--grep', 'FRAME'],
      [2, 3, 4, 7],
    ],
    [['--grep', '%'], [5]],
    [['--grep', 'face_not'], [7]],
    [['--grep', '_'], [7]],
    [
      ['--since', '2026-11-28T09:30'],
      [5, 6, 7, 8],
    ],
    [
      ['--since', '2026-11-28 04:30', '--timezone', 'America/New_York'],
      [5, 6, 7, 8],
    ],
    [
      ['--until', '2026-11-28T09:00:02Z'],
      [1, 2, 3],
    ],
    [
      ['--since', '2026-11-28T09:00:01', '--until', '2026-11-28T09:00:03'],
      [2, 3, 4],
    ],
    [['--third-party'], [4]],
    [
      ['--no-third-party', '--application', 'render', '--run', '1'],
      [1, 2, 3],
    ],
  ])('filters: %j', async ([flags, expected], { expect }) => {
    expect(await idsOf(...flags)).toEqual(expected);
  });
});

describe('logweaver-pino tail: durations', () => {
  it('reads --since as a duration back from now', async () => {
    const now = new Date();
    await insertRows(db.url, [
      { application: 'recent', message: 'an hour ago', time: new Date(now.getTime() - 3_600_000).toISOString() },
      { application: 'recent', message: 'a minute ago', time: new Date(now.getTime() - 60_000).toISOString() },
    ]);
    const messages = async (since: string) =>
      jsonLines<StoredRow>(await tail('--json', '--application', 'recent', '--since', since)).map((row) => row.message);
    expect(await messages('15m')).toEqual(['a minute ago']);
    expect(await messages('2h')).toEqual(['an hour ago', 'a minute ago']);
    expect(await messages('1h30m')).toEqual(['an hour ago', 'a minute ago']);
  });
});

describe('logweaver-pino tail (pino-pretty)', () => {
  it('prints pino-pretty lines without colour when stdout is not a terminal', async () => {
    const stdout = await tail('--run', '1', '--application', 'render', '--limit', '3');
    expect(stdout).toBe(
      '[2026-11-28 09:00:01.000 +00:00] DEBUG (render run 1 on gpu-1): frame 1 of 120 [frames] #2\n' +
        '    frame: 1\n' +
        '[2026-11-28 09:00:02.000 +00:00] WARNING (render run 1 on gpu-1): slow frame: 250 ms [perf,frames] #3\n' +
        '[2026-11-28 09:00:03.000 +00:00] INFO (render run 1 on gpu-1): ffmpeg: frame=120 fps=30 (third-party) #4\n',
    );
  });
});

describe('logweaver-pino tail: what the logs contain cannot drive the terminal', () => {
  it('strips control characters from messages, tags and levels in pino-pretty output', async () => {
    await insertRows(db.url, [
      {
        application: 'escape',
        message: 'red \u001b[31malert\u001b[0m\u0007 done\nsecond line',
        tags: 'a\u001b[2Jb',
        level: 'WARN\u001b[5mING',
        time: '2026-11-28T13:00:00.000Z',
      },
    ]);
    const stdout = await tail('--application', 'escape');
    expect(stdout).toMatch(
      / WARN\[5mING \(escape run 1 on gpu-1\): red \[31malert\[0m done \[a\[2Jb\] #\d+\nsecond line\n$/,
    );
    // eslint-disable-next-line no-control-regex
    expect(stdout).not.toMatch(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/);
    // --json keeps the text exactly, escaped as JSON.
    expect(jsonLines<StoredRow>(await tail('--json', '--application', 'escape'))[0]?.message).toBe(
      'red \u001b[31malert\u001b[0m\u0007 done\nsecond line',
    );
  });
});

describe('logweaver-pino tail --follow', () => {
  it('prints a row inserted after it started, and exits 0 on Ctrl-C', async () => {
    const follower = startCli(['tail', '--follow', '--json', '--limit', '1', '--application', 'follow'], {
      DATABASE_URL: db.url,
    });
    try {
      await insertRows(db.url, [{ application: 'follow', message: 'before', time: '2026-11-28T11:00:00Z' }]);
      await follower.waitForOutput((stdout) => stdout.includes('"before"'));
      await insertRows(db.url, [{ application: 'follow', message: 'after', time: '2026-11-28T11:00:01Z' }]);
      const started = Date.now();
      await follower.waitForOutput((stdout) => stdout.includes('"after"'));
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await follower.interrupt()).toBe(0);
      expect(follower.stderr()).toBe('');
      expect(jsonLines(follower.stdout())).toHaveLength(2);
    } finally {
      follower.kill();
    }
  });

  it('prints a row that commits after rows with higher ids (concurrent writers)', async () => {
    await insertRows(db.url, [{ application: 'late', message: 'first', time: '2026-11-28T12:00:00Z' }]);
    const follower = startCli(['tail', '-f', '--json', '--application', 'late'], { DATABASE_URL: db.url });
    const slowWriter = await openTransaction(db.url);
    try {
      await follower.waitForOutput((stdout) => stdout.includes('"first"'));
      // The slow writer takes the lower id, the fast one commits a higher id first.
      await slowWriter.query(
        `INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
         VALUES (1, 'late', true, '2026-11-28T12:00:01Z', 'committed late', '', 'INFO', 'gpu-1', '10.0.0.5')`,
      );
      await insertRows(db.url, [{ application: 'late', message: 'committed early', time: '2026-11-28T12:00:02Z' }]);
      await follower.waitForOutput((stdout) => stdout.includes('"committed early"'));
      await new Promise((resolve) => setTimeout(resolve, 1_200)); // a few polls pass the lower id by
      await slowWriter.query('COMMIT');
      await follower.waitForOutput((stdout) => stdout.includes('"committed late"'));
      expect(await follower.interrupt()).toBe(0);
      const messages = jsonLines<StoredRow>(follower.stdout());
      expect(messages.map((row) => row.message)).toEqual(['first', 'committed early', 'committed late']);
      expect(messages[2]?.log_id).toBeLessThan(messages[1]?.log_id as number);
    } finally {
      follower.kill();
      await slowWriter.end();
    }
  });
});

describe('logweaver-pino tail: bad flags', () => {
  it.concurrent.for<[string[], string]>([
    [
      ['--since', 'yesterday'],
      '--since must be a duration such as 15m, 2h or 7d, or a date and time such as 2026-11-28T14:00 (read in UTC), got "yesterday"',
    ],
    [
      ['--until', '2026-13-45'],
      '--until must be a duration such as 15m, 2h or 7d, or a date and time such as 2026-11-28T14:00 (read in UTC), got "2026-13-45"',
    ],
    [['--since', '1h', '--until', '2h'], '--since must be before --until, got "1h" and "2h"'],
    [
      ['--level', 'loud'],
      '--level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (or trace, warn, fatal), got "loud"',
    ],
    [['--run', 'last'], '--run must be a run number or "latest", got "last"'],
    [['--limit', 'all'], '--limit must be a whole number from 0 to 100000, got "all"'],
    [
      ['--timezone', 'Mars/Olympus'],
      '--timezone must be an IANA time zone such as America/New_York, got "Mars/Olympus"',
    ],
  ])('%j exits 2 naming the flag and the value', async ([flags, message], { expect }) => {
    const result = await runCli(['tail', '--database-url', db.url, '--timezone', 'UTC', ...flags]);
    expect(result.stderr).toBe(`logweaver-pino: ${message}\n`);
    expect(result.code).toBe(2);
  });

  it('names the database but not its password when it cannot connect', async () => {
    const result = await runCli(['tail', '--database-url', 'postgres://reader:s3cret-pw@127.0.0.1:1/logs']);
    expect(result.stderr).toBe(
      'logweaver-pino: connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED), connecting as reader@127.0.0.1:1/logs (from --database-url)\n',
    );
    expect(result.code).toBe(1);
  });

  it('says which table is missing', async () => {
    const result = await runCli(['tail', '--database-url', db.url, '--table', 'nolog']);
    expect(result.stderr).toMatch(
      /^logweaver-pino: table public\.nolog does not exist or cannot be read \(see --schema and --table\), connecting as /,
    );
    expect(result.code).toBe(1);
  });
});
