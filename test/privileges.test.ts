// Issue 10 item 3: each role runs with exactly the grants the README lists (read from the README
// itself, so the two cannot drift apart), in databases where PUBLIC has no privilege on the schema.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase, queryOnce, type TestDatabase } from './support/database.js';
import { OPENCLONE_TABLE } from './support/seed.js';
import { ROOT, cliStdout, jsonLines, runCli } from './support/spawn.js';
import { startViewerProcess } from './support/viewer.js';

/** The README's grants, by the number of their comment line (1 to 4). */
function readmeGrants(): Map<number, string> {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('**Least privilege**'));
  const sql = (/```sql\n([\s\S]*?)```/.exec(section) as RegExpExecArray)[1] as string;
  const groups = sql.split(/^-- (?=\d\. )/m).filter((group) => /^\d\. /.test(group));
  return new Map(groups.map((group) => [Number(group[0]), group.slice(group.indexOf('\n') + 1).trim()]));
}

const suffix = Math.random().toString(36).slice(2, 8);
const roles = { first: `lp_first_${suffix}`, writer: `lp_writer_${suffix}`, reader: `lp_reader_${suffix}` };
let own: TestDatabase;
let openclone: TestDatabase;
const grants = readmeGrants();

/** Grants group `number` of the README to `role` (as app_writer or log_reader). */
async function grant(db: TestDatabase, number: number, role: string, edit = (sql: string) => sql): Promise<void> {
  const sql = edit(grants.get(number) as string).replaceAll(/\b(app_writer|log_reader)\b/g, role);
  await db.query(sql);
}

beforeAll(async () => {
  own = await createTestDatabase('privileges');
  openclone = await createTestDatabase('privileges_oc');
  await openclone.query(OPENCLONE_TABLE);
  for (const role of Object.values(roles))
    await queryOnce(adminUrl(), `CREATE ROLE ${role} LOGIN PASSWORD 'pw-${role}'`);
  for (const db of [own, openclone]) await db.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
});
afterAll(async () => {
  await own?.drop();
  await openclone?.drop();
  for (const role of Object.values(roles)) await queryOnce(adminUrl(), `DROP ROLE IF EXISTS ${role}`);
});

const urlOf = (db: TestDatabase, role: string) => db.urlFor(role, `pw-${role}`);

function pipe(url: string, application: string, lines: number) {
  const input = Array.from({ length: lines }, (_, seq) => `{"level":30,"seq":${seq},"msg":"m${seq}"}\n`).join('');
  return runCli(['--database-url', url, '--application', application, '--machine-name', 'box'], { input });
}

describe("the README's grants, exactly", () => {
  it('1 and 2: a first start creates the tables; later starts by another role write, use the ledger and record the end', async () => {
    expect(grants.size).toBe(4);
    await grant(own, 1, roles.first);
    const first = await pipe(urlOf(own, roles.first), 'svc', 10);
    expect(first.stderr).toBe('logweaver-pino: read 10 lines, wrote 10 rows, run 1 of svc\n');
    await grant(own, 2, roles.writer);
    const later = await pipe(urlOf(own, roles.writer), 'svc', 10);
    expect(later.stderr).toBe('logweaver-pino: read 10 lines, wrote 10 rows, run 2 of svc\n');
    expect(later.code).toBe(0);
    const runs = await own.query('SELECT run_number, ended_cleanly FROM log_runs ORDER BY 1');
    expect(runs).toEqual([
      { run_number: 1, ended_cleanly: true },
      { run_number: 2, ended_cleanly: true },
    ]);
    expect(await own.query('SELECT count(*)::int AS batches FROM log_batches')).toEqual([{ batches: 2 }]);
  });

  it('3: a writer into an OpenClone table', async () => {
    await grant(openclone, 3, roles.writer);
    const result = await pipe(urlOf(openclone, roles.writer), 'SadTalker', 5);
    expect(result.stderr).toBe('logweaver-pino: read 5 lines, wrote 5 rows, run 1 of SadTalker\n');
    expect(await openclone.query('SELECT count(*)::int AS rows FROM log')).toEqual([{ rows: 6 }]);
  });

  it("4: a reader runs tail, runs and view on the package tables, and tail on OpenClone's", async () => {
    await grant(own, 4, roles.reader);
    const url = urlOf(own, roles.reader);
    const tailed = jsonLines<{ message: string }>(
      await cliStdout(['tail', '--database-url', url, '--json', '--limit', '1']),
    );
    expect(tailed.map((row) => row.message)).toEqual(['m9']);
    const runs = jsonLines<{ ended_cleanly: boolean }>(await cliStdout(['runs', '--database-url', url, '--json']));
    expect(runs.map((run) => run.ended_cleanly)).toEqual([true, true]);
    const viewer = await startViewerProcess(url);
    try {
      const response = await fetch(new URL('/api/rows?order=desc', viewer.url));
      expect(response.status).toBe(200);
      expect(((await response.json()) as { rows: unknown[] }).rows).toHaveLength(22);
    } finally {
      viewer.cli.kill();
    }
    await grant(openclone, 4, roles.reader, (sql) => sql.replace('ON log, log_runs', 'ON log'));
    const oc = await cliStdout(['tail', '--database-url', urlOf(openclone, roles.reader), '--json', '--limit', '1']);
    expect(jsonLines<{ message: string }>(oc).map((row) => row.message)).toEqual(['m4']);
  });
});
