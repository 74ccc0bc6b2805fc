import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.js';
import { openCloneDatabase, type OpenCloneDatabase } from './support/openclone.js';
import { runCli } from './support/spawn.js';

let openClone: OpenCloneDatabase;
let db: TestDatabase;

beforeAll(async () => {
  openClone = await openCloneDatabase('openclone');
  db = openClone.db;
  await db.query(`
    INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
    VALUES (7, 'SadTalker', true, now() - interval '1 day', 'SadTalker - Run Number Incremented', '', 'INFO', 'gpu-box', '10.0.0.5'),
           (7, 'SadTalker', false, now() - interval '1 day', 'ffmpeg frame=1', '', 'INFO', 'gpu-box', '10.0.0.5')`);
});
afterAll(async () => openClone.drop());

describe('an existing OpenClone table, written by a role with only INSERT and SELECT', () => {
  it('writes to it as it is and continues its run numbers', async () => {
    const indexesBefore = await db.query("SELECT indexname FROM pg_indexes WHERE tablename = 'log'");
    const input = '{"level":30,"time":1700000000000,"msg":"talking head rendered","tags":["render"]}\nffmpeg frame=2\n';
    const result = await runCli(
      ['--database-url', openClone.url, '--application', 'SadTalker', '--machine-name', 'gpu-box'],
      { input },
    );
    expect(result.stderr).toBe('logweaver-pino: read 2 lines, wrote 2 rows, run 8 of SadTalker\n');
    expect(result.code).toBe(0);
    const rows = await db.query(
      `SELECT run_number, message, tags, level, open_clone_log FROM log WHERE run_number = 8 ORDER BY log_id`,
    );
    expect(rows).toEqual([
      { run_number: 8, message: 'SadTalker - Run Number Incremented', tags: '', level: 'INFO', open_clone_log: true },
      { run_number: 8, message: 'talking head rendered', tags: 'render', level: 'INFO', open_clone_log: true },
      { run_number: 8, message: 'ffmpeg frame=2', tags: '', level: 'INFO', open_clone_log: false },
    ]);
    expect(await db.query("SELECT indexname FROM pg_indexes WHERE tablename = 'log'")).toEqual(indexesBefore);
    const tables = await db.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    );
    expect(tables.map((table) => table.tablename)).toEqual(['log']);
  });
});
