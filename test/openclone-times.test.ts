// Issue 15 items 1 and 3, on OpenClone's table shared with LogWeaver: times printed by `runs` can be
// typed back into `tail --since/--until` and find every row of the run (LogWeaver stores
// microseconds, which are printed cut to the millisecond); and logweaver-pino's marker is stamped by
// the application's clock, opening its run by time as it does by log_id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredRow } from '../src/read/rows.js';
import type { RunSummary } from '../src/read/runs.js';
import { queryOnce } from './support/database.js';
import { openCloneDatabase, type OpenCloneDatabase } from './support/openclone.js';
import { cliStdout, FIXTURES, jsonLines, runNode } from './support/spawn.js';
import { startViewerProcess } from './support/viewer.js';

let openClone: OpenCloneDatabase;
let writerUrl: string;

/**
 * A LogWeaver run as LogWeaver writes it: psycopg2 sends datetime.now(US/Eastern), microseconds
 * and all, one INSERT per row; the marker first. Several rows share a millisecond.
 */
async function logWeaverRun(run: number, second: number): Promise<void> {
  const at = (micros: string) => `2026-11-28T09:00:${String(second).padStart(2, '0')}.${micros}-05:00`;
  const messages = ['SadTalker - Run Number Incremented', 'loading', 'frame 1', 'frame 2', 'frame 3', 'saved', 'done'];
  const micros = ['000417', '120250', '120731', '120999', '500001', '999998', '999999'];
  for (const [index, message] of messages.entries()) {
    await queryOnce(
      writerUrl,
      `INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
       VALUES ($1, 'SadTalker', true, $2, $3, '', 'INFO', 'gpu-box', '10.0.0.5')`,
      [run, at(micros[index] as string), message],
    );
  }
}

beforeAll(async () => {
  openClone = await openCloneDatabase('openclone_times');
  writerUrl = openClone.url;
});
afterAll(async () => openClone.drop());

const read = (...args: string[]) => cliStdout([...args, '--database-url', writerUrl, '--timezone', 'America/New_York']);

describe('issue 15: LogWeaver and logweaver-pino runs on one OpenClone table', () => {
  beforeAll(async () => {
    await logWeaverRun(1, 1);
    // Run 2: logweaver-pino's transport, in a real worker, on the same table.
    const app = await runNode(`${FIXTURES}app.mjs`, ['natural', '5'], {
      env: {
        FIXTURE_OPTIONS: JSON.stringify({
          connectionString: writerUrl,
          application: 'SadTalker',
          machineName: 'gpu-box',
        }),
      },
    });
    expect(app.code).toBe(0);
    await logWeaverRun(3, 59);
  });

  it('item 1: the window `runs` prints for each run holds all its rows, through tail --since/--until', async () => {
    const runs = jsonLines<RunSummary>(await read('runs', '--json'));
    expect(runs.map((run) => [run.run_number, run.rows])).toEqual([
      [1, 7],
      [2, 6],
      [3, 7],
    ]);
    for (const run of runs) {
      const rows = jsonLines<StoredRow>(
        await read('tail', '--json', '--limit', '1000', '--since', run.first_timestamp, '--until', run.last_timestamp),
      );
      expect({ run: run.run_number, rows: rows.filter((row) => row.run_number === run.run_number).length }).toEqual({
        run: run.run_number,
        rows: run.rows,
      });
    }
  });

  it("item 1: the viewer's range, given the times it printed, holds the whole run too", async () => {
    const viewer = await startViewerProcess(writerUrl, '--timezone', 'America/New_York');
    try {
      const get = async (query: string) =>
        ((await (await fetch(`${viewer.url}api/rows?${query}`)).json()) as { rows: StoredRow[] }).rows;
      const rows = await get('run=1&order=asc');
      const [first, last] = [rows[0]?.timestamp as string, rows.at(-1)?.timestamp as string];
      const range = await get(`run=1&order=asc&since=${encodeURIComponent(first)}&until=${encodeURIComponent(last)}`);
      expect(range.map((row) => row.log_id)).toEqual(rows.map((row) => row.log_id));
      expect(range).toHaveLength(7);
    } finally {
      await viewer.cli.interrupt();
    }
  });

  it('item 1: a row stored with microseconds is found by the millisecond printed for it', async () => {
    const [last] = jsonLines<StoredRow>(await read('tail', '--json', '--limit', '1', '--run', '3'));
    expect(last?.timestamp).toBe('2026-11-28T09:00:59.999-05:00');
    const found = jsonLines<StoredRow>(await read('tail', '--json', '--until', last?.timestamp as string));
    expect(found.at(-1)?.log_id).toBe(last?.log_id);
  });

  it("item 3: logweaver-pino's marker is stamped by the application's clock, before its records", async () => {
    const rows = await openClone.db.query<{ message: string; by_time: number; by_id: number }>(
      `SELECT message, row_number() OVER (ORDER BY "timestamp", log_id)::int AS by_time,
              row_number() OVER (ORDER BY log_id)::int AS by_id
         FROM log WHERE run_number = 2 ORDER BY log_id`,
    );
    expect(rows[0]).toEqual({ message: 'SadTalker - Run Number Incremented', by_time: 1, by_id: 1 });
    // Stamped by JavaScript's clock: whole milliseconds, never the server's now() with microseconds.
    const [marker] = await openClone.db.query<{ micros: number }>(
      `SELECT (extract(microseconds FROM "timestamp")::int % 1000) AS micros FROM log
        WHERE run_number = 2 AND message LIKE '% - Run Number Incremented'`,
    );
    expect(marker).toEqual({ micros: 0 });
  });
});
