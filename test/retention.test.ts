// Issue 11 part 2: retention on unpartitioned tables, through the real binary (the `retention`
// command, and pipe-mode writers that apply it themselves), against a real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaSql } from '../src/write/ddl.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { openCloneDatabase } from './support/openclone.js';
import { eventually, range, seqs } from './support/records.js';
import { runCli, startPipeReader } from './support/spawn.js';
import { startSteadyApp } from './support/steady-app.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('retention');
});
afterAll(async () => db.drop());

/** A package table `name` with `old` rows 40 days old and `fresh` rows of the last minutes. */
async function seededTable(name: string, old: number, fresh = 100): Promise<void> {
  await db.query(schemaSql({ schema: 'public', table: name }));
  await seedRows(db, name, old, fresh);
}

async function seedRows(target: TestDatabase, name: string, old: number, fresh: number): Promise<void> {
  const insert = (count: number, age: string, prefix: string) =>
    target.query(`INSERT INTO ${name} (run_number, application_name, open_clone_log, "timestamp", message, tags,
        level, machine_name, ip_address)
      SELECT 1, 'render', true, now() - ${age} + g * interval '1 second', '${prefix}' || g, '', 'INFO', 'gpu-1', '10.0.0.5'
        FROM generate_series(1, ${count}) g`);
  await insert(old, "interval '40 days'", 'old ');
  await insert(fresh, "interval '1 hour'", 'new ');
}

/** Every DELETE on the table, with the rows it removed, recorded by a statement trigger. */
async function countDeletes(name: string): Promise<() => Promise<number[]>> {
  await db.query(`CREATE TABLE ${name}_deletes (at serial, rows bigint);
    CREATE FUNCTION ${name}_count_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO ${name}_deletes (rows) SELECT count(*) FROM gone; RETURN NULL; END $$;
    CREATE TRIGGER ${name}_deletes AFTER DELETE ON ${name} REFERENCING OLD TABLE AS gone
      FOR EACH STATEMENT EXECUTE FUNCTION ${name}_count_deletes()`);
  return async () =>
    (await db.query<{ rows: string }>(`SELECT rows FROM ${name}_deletes ORDER BY at`)).map((row) => Number(row.rows));
}

const retention = (...args: string[]) => runCli(['retention', '--database-url', db.url, ...args]);
const messages = async (table: string, like: string) =>
  (
    await db.query<{ message: string }>(`SELECT message FROM ${table} WHERE message LIKE $1 ORDER BY log_id`, [like])
  ).map((row) => row.message);
const count = async (table: string, where = 'true') =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`))[0]?.n;

const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';

describe('logweaver-pino retention', () => {
  it('deletes exactly the rows older than the period, in DELETEs of at most 10,000 rows, and says so in a row', async () => {
    await seededTable('batched', 25_000);
    const deletes = await countDeletes('batched');
    const result = await retention('--table', 'batched', '--retention', '30d');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^logweaver-pino: public\\.batched, retention 30d: retention dropped 25000 rows older than ${ISO} in 3 batches; 0 runs and 0 ledger entries expired\\n$`,
      ),
    );
    const sizes = await deletes();
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10_000);
    expect(sizes.reduce((sum, rows) => sum + rows, 0)).toBe(25_000);
    expect(await count('batched', "message LIKE 'old %'")).toBe(0);
    expect(await count('batched', "message LIKE 'new %'")).toBe(100);
    const [marker] = await db.query(
      "SELECT message, level, tags, open_clone_log, application_name FROM batched WHERE message LIKE 'logweaver:%'",
    );
    expect(marker).toMatchObject({
      level: 'INFO',
      tags: 'logweaver',
      open_clone_log: true,
      application_name: 'logweaver-pino',
    });
    expect((marker as { message: string }).message).toMatch(
      new RegExp(`^logweaver: retention dropped 25000 rows older than ${ISO}$`),
    );
    // A second pass finds nothing more, and writes no row for it.
    const again = await retention('--table', 'batched', '--retention', '30d');
    expect(again.stdout).toContain('retention dropped 0 rows');
    expect(await messages('batched', 'logweaver:%')).toHaveLength(1);
  });

  it('keeps the period on a timestamp-without-time-zone column, run east of UTC', async () => {
    // The writer stores UTC wall time in such a column (an older OpenClone schema has one); a cutoff
    // sent as Tokyo time (UTC+9) was read as 9 hours later, and rows younger than the period went too.
    const openClone = await openCloneDatabase('retention_tz');
    try {
      await openClone.db
        .query(`ALTER TABLE log ALTER COLUMN "timestamp" TYPE timestamp USING "timestamp" AT TIME ZONE 'UTC';
        INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message,
          tags, level, machine_name, ip_address)
        SELECT 1, 'render', true, (now() AT TIME ZONE 'UTC') - age, msg, '', 'INFO', 'gpu-1', '10.0.0.5'
          FROM (VALUES (interval '2 days', 'old'), (interval '1 hour', 'new')) AS seeded (age, msg)`);
      const result = await runCli(['retention', '--database-url', openClone.db.url, '--retention', '6h'], {
        env: { TZ: 'Asia/Tokyo' },
      });
      expect(result.code).toBe(0);
      expect(await openClone.db.query("SELECT message FROM log WHERE message IN ('old', 'new')")).toEqual([
        { message: 'new' },
      ]);
    } finally {
      await openClone.drop();
    }
  });

  it('--dry-run prints what it would delete and deletes nothing', async () => {
    await seededTable('dry', 1_234, 10);
    const result = await retention('--table', 'dry', '--retention', '720h', '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^logweaver-pino: public\\.dry, retention 720h: would drop 1234 rows older than ${ISO}; 0 runs and 0 ledger entries \\(dry run: nothing deleted\\)\\n$`,
      ),
    );
    expect(await count('dry')).toBe(1_244);
  });

  it('expires runs that ended (or crashed) before the period, keeping the latest of each machine, and old ledger entries', async () => {
    await seededTable('meta', 10, 10);
    await db.query(`INSERT INTO meta_runs (application_name, machine_name, run_number, run_key, started_at, ended_at) VALUES
      ('render', 'gpu-1', 1, 'ended long ago', now() - interval '41 days', now() - interval '40 days'),
      ('render', 'gpu-1', 2, 'crashed long ago, no rows left', now() - interval '40 days', NULL),
      ('render', 'gpu-1', 3, 'started long ago, still writing', now() - interval '39 days', NULL),
      ('render', 'gpu-2', 7, 'latest of its machine', now() - interval '50 days', now() - interval '50 days')`);
    await db.query(`UPDATE meta SET run_number = 3 WHERE message LIKE 'new %'`);
    await db.query(`INSERT INTO meta_batches (batch_id, rows, committed_at) VALUES
      (gen_random_uuid(), 10, now() - interval '40 days'), (gen_random_uuid(), 10, now())`);
    const result = await retention('--table', 'meta', '--retention', '30d');
    expect(result.stdout).toContain('retention dropped 10 rows older than');
    expect(result.stdout).toContain('2 runs and 1 ledger entries expired');
    const runs = await db.query<{ run_key: string }>('SELECT run_key FROM meta_runs ORDER BY run_number');
    expect(runs.map((run) => run.run_key)).toEqual(['started long ago, still writing', 'latest of its machine']);
    expect(await count('meta_batches')).toBe(1);
  });

  it('refuses a bad period with exit code 2, naming the value, the flag or the variable', async () => {
    const bad = await retention('--retention', '30x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--retention must be a number of hours, days or weeks such as 6h, 30d or 12w');
    expect(bad.stderr).toContain('"30x"');
    const missing = await retention();
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('give --retention (e.g. 30d) or LOGWEAVER_RETENTION');
    const pipe = await runCli(['--database-url', db.url], {
      env: { LOGWEAVER_RETENTION: '0d' },
      input: '{"msg":"x"}\n',
    });
    expect(pipe.code).toBe(2);
    expect(pipe.stderr).toContain('LOGWEAVER_RETENTION must be a number of hours, days or weeks');
    expect(pipe.stderr).toContain('"0d"');
  });
});

describe('writers with the retention option', () => {
  it('two writers starting together: one does the pass, the other skips it, and both write every record', async () => {
    await seededTable('shared', 25_000);
    const args = ['--database-url', db.url, '--table', 'shared', '--retention', '30d', '--flush-interval', '100'];
    const writers = ['one', 'two'].map((name) => startPipeReader([...args, '--application', name]));
    for (const [index, writer] of writers.entries()) await writer.write(`{"level":30,"msg":"from ${index}"}\n`);
    await eventually(async () => (await messages('shared', 'logweaver: retention%')).length > 0, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // room for a second pass, were there one
    const codes = await Promise.all(writers.map((writer) => writer.end(`{"level":30,"msg":"last"}\n`)));
    expect(codes).toEqual([0, 0]);
    expect(await messages('shared', 'logweaver: retention%')).toHaveLength(1);
    expect(await count('shared', "message LIKE 'old %'")).toBe(0);
    expect(await count('shared', "message LIKE 'new %'")).toBe(100);
    expect(await count('shared', "message IN ('from 0', 'from 1', 'last')")).toBe(4);
    const told = writers.filter((writer) => writer.stderr().includes('info: retention dropped 25000 rows'));
    expect(told).toHaveLength(1);
    expect((await db.query('SELECT retention_started_at IS NOT NULL AS claimed FROM shared_meta'))[0]).toEqual({
      claimed: true,
    });
  });

  it('the transport applies it while the application keeps logging: every record stored once, in its run', async () => {
    await seededTable('through_transport', 25_000);
    const app = startSteadyApp(500, {
      connectionString: db.url,
      table: 'through_transport',
      application: 'steady',
      retention: '30d',
    });
    await eventually(async () => (await messages('through_transport', 'logweaver: retention%')).length > 0, 60_000);
    const { logged } = await app.stop();
    expect(app.stderr()).not.toContain('retention failed');
    expect(await count('through_transport', "message LIKE 'old %'")).toBe(0);
    expect(await seqs(db.url, 'steady', 'through_transport')).toEqual(range(logged));
    const [marker] = await db.query(
      `SELECT application_name, tags, run_number = (SELECT max(run_number) FROM through_transport
          WHERE message = 'steady - Run Number Incremented') AS in_its_run
         FROM through_transport WHERE message LIKE 'logweaver: retention%'`,
    );
    expect(marker).toEqual({ application_name: 'steady', tags: 'logweaver', in_its_run: true });
  });

  it("on OpenClone's table, with a role that may only INSERT and SELECT: warns once, deletes nothing, writes on", async () => {
    const openClone = await openCloneDatabase('retention_oc');
    try {
      await seedRows(openClone.db, 'log', 50, 5);
      const writer = startPipeReader([
        '--database-url',
        openClone.url,
        '--application',
        'SadTalker',
        '--retention',
        '30d',
      ]);
      await writer.write('{"level":30,"msg":"rendered"}\n');
      await eventually(() => writer.stderr().includes('retention needs DELETE'), 30_000);
      expect(await writer.end()).toBe(0);
      expect(writer.stderr().match(/retention needs DELETE on "public"\."log"/g)).toHaveLength(1);
      const rows = await openClone.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM log WHERE message LIKE 'old %' OR message = 'rendered'",
      );
      expect(rows).toEqual([{ n: 51 }]);
      const command = await runCli(['retention', '--database-url', openClone.url, '--retention', '30d']);
      expect(command.code).toBe(1);
      expect(command.stdout).toContain('nothing done: retention needs DELETE on "public"."log"');
    } finally {
      await openClone.drop();
    }
  });
});
