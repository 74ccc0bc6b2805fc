/**
 * Least privilege (issue 10): each role of the README's "Roles and grants" runs with exactly the
 * statements printed there, read from README.md itself, so the two cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase, queryOnce, type TestDatabase } from './support/database.js';
import { OPENCLONE_TABLE } from './support/seed.js';
import { cliStdout, ROOT, runCli } from './support/spawn.js';
import { startViewerProcess } from './support/viewer.js';

const suffix = Math.random().toString(36).slice(2, 8);
const WRITER = `app_logger_${suffix}`;
const READER = `log_reader_${suffix}`;
const PASSWORD = 'least-privilege';
const databases: TestDatabase[] = [];

afterAll(async () => {
  for (const db of databases) await db.drop();
  for (const role of [WRITER, READER]) await queryOnce(adminUrl(), `DROP ROLE IF EXISTS ${role}`);
});

/** The README's grants, by the label of their comment line ("writer, first start", "reader", …). */
function readmeGrants(): Map<string, string> {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('### Roles and grants'));
  const sql = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
  if (sql === undefined) throw new Error('README.md has no sql block under "### Roles and grants"');
  const groups = new Map<string, string>();
  for (const group of sql.trim().split(/\n\s*\n/)) {
    const [comment = '', ...statements] = group.split('\n');
    const label = /^-- ([^:(]+?)\s*(?:[:(]|$)/.exec(comment)?.[1];
    if (label === undefined) throw new Error(`a group of grants in README.md has no label: ${comment}`);
    groups.set(label, statements.join('\n'));
  }
  return groups;
}

/** Runs the README's grants whose label starts with `label` on `db`, for this test's roles. */
async function grant(db: TestDatabase, label: string): Promise<void> {
  const statements = [...readmeGrants()].find(([found]) => found.startsWith(label))?.[1];
  if (statements === undefined) throw new Error(`README.md has no grants for "${label}"`);
  await db.query(statements.replaceAll('app_logger', WRITER).replaceAll('log_reader', READER));
}

/** A fresh database where PUBLIC may do nothing in schema public, and the two roles exist. */
async function lockedDownDatabase(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  databases.push(db);
  await db.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
  for (const role of [WRITER, READER]) {
    await queryOnce(
      adminUrl(),
      `DO $$ BEGIN CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    );
  }
  return db;
}

const lines = (run: string, count: number) =>
  Array.from(
    { length: count },
    (_, n) => `${JSON.stringify({ level: 30, time: 1_700_000_000_000 + n, msg: `${run} ${n}` })}\n`,
  ).join('');

/** Pipe mode as the writer role: it must store every line and say nothing but its summary. */
async function writeAsWriter(db: TestDatabase, run: number, count: number): Promise<void> {
  const result = await runCli(
    ['--database-url', db.urlFor(WRITER, PASSWORD), '--application', 'granted', '--machine-name', 'box'],
    { input: lines(`run ${run}`, count) },
  );
  expect(result.stderr).toBe(`logweaver-pino: read ${count} lines, wrote ${count} rows, run ${run} of granted\n`);
  expect(result.code).toBe(0);
}

describe("the README's grants, each role with exactly those", () => {
  it('a writer at its first start creates the tables, and records each run and its end', async () => {
    const db = await lockedDownDatabase('grants_first');
    await grant(db, 'writer, first start');
    await writeAsWriter(db, 1, 3);
    await writeAsWriter(db, 2, 2);
    const owners = await db.query<{ tablename: string; tableowner: string }>(
      "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    );
    expect(owners).toEqual(['log', 'log_batches', 'log_runs'].map((tablename) => ({ tablename, tableowner: WRITER })));
    expect(await db.query('SELECT run_number, ended_cleanly FROM log_runs ORDER BY run_number')).toEqual([
      { run_number: 1, ended_cleanly: true },
      { run_number: 2, ended_cleanly: true },
    ]);
    expect(await db.query("SELECT count(*)::int AS n FROM log WHERE message LIKE 'run %'")).toEqual([{ n: 5 }]);
  });

  it('a writer at later starts, with DML grants only on tables made by `schema apply`, writes and ends its runs', async () => {
    const db = await lockedDownDatabase('grants_later');
    await cliStdout(['schema', 'apply', '--database-url', db.url]);
    await grant(db, 'writer, later starts');
    await writeAsWriter(db, 1, 4);
    await writeAsWriter(db, 2, 1);
    expect(await db.query('SELECT run_number, ended_cleanly FROM log_runs ORDER BY run_number')).toEqual([
      { run_number: 1, ended_cleanly: true },
      { run_number: 2, ended_cleanly: true },
    ]);
    expect(await db.query('SELECT count(*)::int AS n FROM log_batches')).toEqual([{ n: 2 }]);
    const [may] = await db.query<{ create: boolean }>(`SELECT has_schema_privilege($1, 'public', 'CREATE') AS create`, [
      WRITER,
    ]);
    expect(may?.create).toBe(false);
  });

  it("a writer of OpenClone's table writes to it with INSERT and SELECT, and creates nothing", async () => {
    const db = await lockedDownDatabase('grants_openclone');
    await db.query(OPENCLONE_TABLE);
    await grant(db, 'writer, OpenClone');
    await writeAsWriter(db, 1, 3);
    await writeAsWriter(db, 2, 3);
    const rows = await db.query<{ run_number: number; n: number }>(
      'SELECT run_number, count(*)::int AS n FROM log GROUP BY 1 ORDER BY 1',
    );
    expect(rows).toEqual([
      { run_number: 1, n: 4 }, // the marker row and 3 lines
      { run_number: 2, n: 4 },
    ]);
    expect(await db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([
      { tablename: 'log' },
    ]);
  });

  it('a reader runs tail, runs and view, and may not write', async () => {
    const db = await lockedDownDatabase('grants_reader');
    await runCli(['--database-url', db.url, '--application', 'granted'], { input: lines('stored', 5) });
    await grant(db, 'reader');
    const url = db.urlFor(READER, PASSWORD);

    const tailed = await cliStdout(['tail', '--json', '--database-url', url, '--application', 'granted']);
    expect(
      tailed
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { message: string }).message),
    ).toEqual(['granted - Run Number Incremented', ...Array.from({ length: 5 }, (_, n) => `stored ${n}`)]);
    expect(await cliStdout(['runs', '--database-url', url, '--timezone', 'UTC'])).toMatch(
      /^granted \S+ run 1: .*, 6 rows \(INFO 6\), ended cleanly at /,
    );

    const viewer = await startViewerProcess(url);
    try {
      const rows = await fetch(new URL('/api/rows?application=granted', viewer.url));
      expect(rows.status).toBe(200);
      expect(((await rows.json()) as { rows: unknown[] }).rows).toHaveLength(6);
      expect((await fetch(new URL('/api/runs', viewer.url))).status).toBe(200);
    } finally {
      viewer.cli.kill();
    }

    const [may] = await db.query<{ insert: boolean }>(`SELECT has_table_privilege($1, 'log', 'INSERT') AS insert`, [
      READER,
    ]);
    expect(may?.insert).toBe(false);
  });
});
