// Issue 10 item 1, FAULTS.md #27: writing and reading through PgBouncer in transaction mode with its
// stock settings (which refuse startup parameters such as statement_timeout), and its restarts.
// Oracle: numbered records, each stored exactly once; distinct run numbers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';
import { queryOnce } from './support/database.js';
import { startPgBouncer, type PrivatePgBouncer } from '../support/pgbouncer.mjs';
import { eventually, range, seqs, startReader } from './support/records.js';
import { FIXTURES, cliStdout, jsonLines, runCli, runNode } from './support/spawn.js';
import { startViewerProcess } from './support/viewer.js';

let server: PrivateServer;
let pooler: PrivatePgBouncer;

beforeAll(async () => {
  server = await startPrivateServer('pooler');
  pooler = await startPgBouncer(server.url);
});
afterAll(async () => {
  await pooler?.remove();
  await server?.remove();
});

/** How many rows each seq of the application has: exactly once means every count is 1. */
async function copiesPerSeq(application: string): Promise<Map<number, number>> {
  const rows = await queryOnce<{ seq: number; copies: number }>(
    server.url,
    `SELECT (record->>'seq')::int AS seq, count(*)::int AS copies FROM log
      WHERE application_name = $1 AND record->>'seq' IS NOT NULL GROUP BY 1 ORDER BY 1`,
    [application],
  );
  return new Map(rows.map((row) => [row.seq, row.copies]));
}

function expectEachOnce(copies: Map<number, number>, count: number): void {
  expect([...copies.keys()]).toEqual(range(count));
  expect([...copies.values()].filter((n) => n !== 1)).toEqual([]);
}

/**
 * The fixture app logs `count` records and ends once logger.flush has called back: with many
 * processes starting at once on a busy machine, connecting can take longer than the exit's deadline,
 * and what is left then waits in the spool for the next start (as it should, but not what this checks).
 */
function runApp(url: string, application: string, count: number) {
  return runNode(`${FIXTURES}app.mjs`, ['flushed', String(count)], {
    env: { FIXTURE_OPTIONS: JSON.stringify({ connectionString: url, application }) },
    timeoutMs: 120_000,
  });
}

/**
 * `processes` copies of the fixture app log `count` numbered records each at once, through the
 * transport: each record is stored once, and each process got its own run number.
 */
async function logAtOnce(url: string, application: string, processes: number, count: number): Promise<void> {
  const results = await Promise.all(range(processes).map(() => runApp(url, application, count)));
  for (const result of results) {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  }
  const perSeq = await copiesPerSeq(application);
  expect([...perSeq.keys()]).toEqual(range(count));
  expect([...perSeq.values()].every((n) => n === processes)).toBe(true);
  const runs = await queryOnce<{ run_number: number; rows: number }>(
    server.url,
    `SELECT run_number, count(*)::int AS rows FROM log WHERE application_name = $1
      AND record IS NOT NULL GROUP BY 1 ORDER BY 1`,
    [application],
  );
  expect(runs).toEqual(range(processes).map((index) => ({ run_number: index + 1, rows: count })));
}

describe('through PgBouncer in transaction mode, stock settings', () => {
  it('four processes log at once with the transport: each record once, four distinct run numbers', async () => {
    await logAtOnce(pooler.url, 'pooled-transport', 4, 2000);
  });

  it('pipe mode: every line stored once', async () => {
    const input = range(500)
      .map((seq) => `{"level":30,"seq":${seq},"msg":"piped ${seq}"}\n`)
      .join('');
    const result = await runCli(['--database-url', pooler.url, '--application', 'pooled-pipe'], { input });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('logweaver-pino: read 500 lines, wrote 500 rows, run 1 of pooled-pipe\n');
    expectEachOnce(await copiesPerSeq('pooled-pipe'), 500);
  });

  it('tail and runs read through it', async () => {
    const args = ['--database-url', pooler.url, '--application', 'pooled-pipe'];
    const tailed = jsonLines<{ message: string }>(await cliStdout(['tail', ...args, '--json', '--limit', '3']));
    expect(tailed.map((row) => row.message)).toEqual(['piped 497', 'piped 498', 'piped 499']);
    const runs = jsonLines<{ run_number: number; rows: number }>(await cliStdout(['runs', ...args, '--json']));
    expect(runs.map(({ run_number, rows }) => ({ run_number, rows }))).toEqual([{ run_number: 1, rows: 501 }]);
  });

  it('view serves its API through it', async () => {
    const viewer = await startViewerProcess(pooler.url);
    try {
      const get = async (path: string) => (await fetch(new URL(path, viewer.url))).json();
      const meta = (await get('/api/meta')) as { machines: { application: string }[] };
      expect(meta.machines.map((machine) => machine.application)).toContain('pooled-pipe');
      const page = (await get('/api/rows?application=pooled-pipe&order=desc')) as {
        rows: { message: string; log_id: number }[];
        follow: string;
      };
      expect(page.rows[0]?.message).toBe('piped 499');
      const follow = (await get(`/api/follow?application=pooled-pipe&cursor=${page.follow}`)) as { rows: unknown[] };
      expect(follow.rows).toEqual([]);
      const one = (await get(`/api/rows/${page.rows[0]?.log_id}`)) as { row: { message: string } };
      expect(one.row.message).toBe('piped 499');
      expect(((await get('/api/runs?application=pooled-pipe')) as { runs: unknown[] }).runs).toHaveLength(1);
    } finally {
      viewer.cli.kill();
    }
  });
});

// Issue 10 item 4: many writers into one table.
describe('sixteen processes log at once into one table', () => {
  it('directly: each record once, sixteen distinct run numbers', { timeout: 180_000 }, async () => {
    await logAtOnce(server.url, 'sixteen-direct', 16, 500);
  });

  it('through PgBouncer in transaction mode: the same', { timeout: 180_000 }, async () => {
    await logAtOnce(pooler.url, 'sixteen-pooled', 16, 500);
  });
});

describe('through PgBouncer in session mode', () => {
  it('pipe mode and tail work as they do without a pooler', async () => {
    const session = await startPgBouncer(server.url, { poolMode: 'session' });
    try {
      const input = range(50)
        .map((seq) => `{"level":30,"seq":${seq},"msg":"session ${seq}"}\n`)
        .join('');
      const result = await runCli(['--database-url', session.url, '--application', 'session-pipe'], { input });
      expect(result.code).toBe(0);
      expectEachOnce(await copiesPerSeq('session-pipe'), 50);
      const args = ['tail', '--database-url', session.url, '--application', 'session-pipe', '--json', '--limit', '1'];
      expect(jsonLines<{ message: string }>(await cliStdout(args)).map((row) => row.message)).toEqual(['session 49']);
    } finally {
      await session.remove();
    }
  });
});

describe('FAULTS.md #27: the pooler and the server behind it fail while records flow', () => {
  // Behind PgBouncer a write waits in its queue while PostgreSQL is down, until the client's own
  // deadline; after a failed login PgBouncer waits server_login_retry (15 s) before trying again.
  it(
    'a killed backend, a PostgreSQL restart and a PgBouncer restart: nothing lost or duplicated',
    { timeout: 180_000 },
    async () => {
      const reader = startReader(pooler.url, 'pooled-faults');
      let written = 0;
      const writeAndWait = async (count: number) => {
        reader.write(count);
        written += count;
        const target = written;
        await eventually(async () => (await seqs(server.url, 'pooled-faults')).length >= target, 60_000);
      };
      await writeAndWait(200);
      await queryOnce(
        server.url,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      await writeAndWait(200);
      // Records arrive while each is down, and are stored once it is back.
      for (const away of [server, pooler]) {
        await away.stop();
        reader.write(200);
        written += 200;
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await away.start();
        await writeAndWait(200);
      }
      const end = await reader.end();
      expect(end.code).toBe(0);
      expectEachOnce(await copiesPerSeq('pooled-faults'), written);
    },
  );
});
