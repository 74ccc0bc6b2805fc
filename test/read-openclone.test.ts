// tail and runs on OpenClone's own table: ten columns, no index but the primary key, no runs
// table, read by a role that may only SELECT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.js';
import { openCloneDatabase, type OpenCloneDatabase } from './support/openclone.js';
import { insertRows, type SeedRow } from './support/seed.js';
import type { StoredRow } from '../src/read/rows.js';
import { cliStdout, jsonLines, startCli } from './support/spawn.js';

let openClone: OpenCloneDatabase;
let db: TestDatabase;
let readerUrl: string;

const SEED: SeedRow[] = [
  {
    application: 'SadTalker',
    machine: 'gpu-box',
    run: 7,
    message: 'SadTalker - Run Number Incremented',
    time: '2026-11-28T14:00:00Z',
  },
  {
    application: 'SadTalker',
    machine: 'gpu-box',
    run: 7,
    message: '<img src="data:image/png;base64,AAAA">',
    time: '2026-11-28T14:00:01Z',
    tags: 'frame',
  },
  {
    application: 'SadTalker',
    machine: 'gpu-box',
    run: 7,
    message: 'ffmpeg frame=1',
    time: '2026-11-28T14:00:02Z',
    thirdParty: true,
  },
  {
    application: 'U2Net',
    machine: 'gpu-box',
    run: 3,
    message: 'mask failed',
    time: '2026-11-28T14:00:03Z',
    level: 'ERROR',
  },
];

beforeAll(async () => {
  openClone = await openCloneDatabase('read_openclone', ['SELECT ON log']);
  db = openClone.db;
  readerUrl = openClone.url;
  await insertRows(db.url, SEED, 'log', false);
});
afterAll(async () => openClone.drop());

const cli = (...args: string[]) => cliStdout([...args, '--database-url', readerUrl, '--timezone', 'America/New_York']);

describe('reading an OpenClone table with a role that may only SELECT', () => {
  it('tail --json prints its ten columns', async () => {
    expect(await cli('tail', '--json', '--application', 'SadTalker', '--limit', '2')).toBe(
      '{"log_id":2,"run_number":7,"application_name":"SadTalker","open_clone_log":true,"timestamp":"2026-11-28T09:00:01.000-05:00",' +
        '"message":"<img src=\\"data:image/png;base64,AAAA\\">","tags":"frame","level":"INFO","machine_name":"gpu-box","ip_address":"10.0.0.5"}\n' +
        '{"log_id":3,"run_number":7,"application_name":"SadTalker","open_clone_log":false,"timestamp":"2026-11-28T09:00:02.000-05:00",' +
        '"message":"ffmpeg frame=1","tags":"","level":"INFO","machine_name":"gpu-box","ip_address":"10.0.0.5"}\n',
    );
  });

  it('tail filters work on it', async () => {
    const ids = async (...flags: string[]) =>
      jsonLines<StoredRow>(await cli('tail', '--json', ...flags)).map((row) => row.log_id);
    expect(await ids('--run', 'latest', '--application', 'SadTalker', '--no-third-party')).toEqual([1, 2]);
    expect(await ids('--level', 'ERROR')).toEqual([4]);
    expect(await ids('--since', '2026-11-28T09:00:02', '--grep', 'FRAME')).toEqual([3]);
  });

  it('runs lists them, with the end unknown (no runs table)', async () => {
    expect(await cli('runs')).toBe(
      'SadTalker gpu-box run 7: 2026-11-28T09:00:00.000-05:00 to 2026-11-28T09:00:02.000-05:00, 3 rows (INFO 3), end unknown\n' +
        'U2Net gpu-box run 3: 2026-11-28T09:00:03.000-05:00 to 2026-11-28T09:00:03.000-05:00, 1 rows (ERROR 1), end unknown\n',
    );
  });

  it('tail --follow prints a row LogWeaver inserts after it started', async () => {
    const follower = startCli(['tail', '--follow', '--json', '--limit', '1', '--application', 'U2Net'], {
      DATABASE_URL: readerUrl,
    });
    try {
      await follower.waitForOutput((stdout) => stdout.includes('"mask failed"'));
      await insertRows(
        db.url,
        [{ application: 'U2Net', machine: 'gpu-box', run: 3, message: 'mask retried', time: '2026-11-28T14:00:04Z' }],
        'log',
        false,
      );
      await follower.waitForOutput((stdout) => stdout.includes('"mask retried"'));
      expect(await follower.interrupt()).toBe(0);
    } finally {
      follower.kill();
    }
  });
});
