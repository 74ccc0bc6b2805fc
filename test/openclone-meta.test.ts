// Issue 15 item 5: the package's own tables (`log_runs`, `log_batches`, and `log_meta` since issue 11) in OpenClone's database,
// whose real grants include CREATE on schema public. By default they go beside `log`; metaSchema
// puts them elsewhere; metaTables: false leaves OpenClone's schema with its one table.
import { afterEach, describe, expect, it } from 'vitest';
import { openCloneDatabase, type OpenCloneDatabase } from './support/openclone.js';
import { cliStdout, runCli } from './support/spawn.js';

const OPENCLONE_GRANTS = ['INSERT, SELECT ON log', 'CREATE ON SCHEMA public'];
let openClone: OpenCloneDatabase | undefined;

afterEach(async () => {
  await openClone?.drop();
  openClone = undefined;
});

async function database(grants = OPENCLONE_GRANTS): Promise<OpenCloneDatabase> {
  openClone = await openCloneDatabase('openclone_meta', grants);
  return openClone;
}

async function write(target: OpenCloneDatabase, ...args: string[]): Promise<void> {
  await writeRun(1, target, ...args);
}

async function writeRun(run: number, target: OpenCloneDatabase, ...args: string[]): Promise<void> {
  const result = await runCli(['--database-url', target.url, '--application', 'SadTalker', ...args], {
    input: '{"level":30,"msg":"rendered"}\n',
  });
  expect(result.stderr).toBe(`logweaver-pino: read 1 lines, wrote 1 rows, run ${run} of SadTalker\n`);
}

async function tables(target: OpenCloneDatabase): Promise<string[]> {
  const rows = await target.db.query<{ name: string }>(
    `SELECT schemaname || '.' || tablename AS name FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  return rows.map((row) => row.name);
}

const runs = (target: OpenCloneDatabase, ...args: string[]) =>
  cliStdout(['runs', '--database-url', target.url, '--timezone', 'UTC', ...args]);

describe("the package's own tables in OpenClone's database", () => {
  it('by default go beside log, in public, when the role may create tables there', async () => {
    const target = await database();
    await write(target);
    expect(await tables(target)).toEqual(['public.log', 'public.log_batches', 'public.log_meta', 'public.log_runs']);
    expect(await runs(target)).toMatch(/, ended cleanly at /);
  });

  it('go to --meta-schema instead, and runs finds their ends there', async () => {
    const target = await database();
    await target.db.query(`CREATE SCHEMA logweaver; GRANT USAGE, CREATE ON SCHEMA logweaver TO ${target.role}`);
    await write(target, '--meta-schema', 'logweaver');
    expect(await tables(target)).toEqual([
      'logweaver.log_batches',
      'logweaver.log_meta',
      'logweaver.log_runs',
      'public.log',
    ]);
    const ended = await target.db.query('SELECT ended_cleanly FROM logweaver.log_runs');
    expect(ended).toEqual([{ ended_cleanly: true }]);
    expect(await runs(target, '--meta-schema', 'logweaver')).toMatch(/, ended cleanly at /);
    // The same through the environment, as a service would be configured.
    expect(await runs(target)).toMatch(/, end unknown\n$/);
    const fromEnv = await runCli(['runs', '--database-url', target.url], {
      env: { LOGWEAVER_META_SCHEMA: 'logweaver' },
    });
    expect(fromEnv.stdout).toMatch(/, ended cleanly at /);
  });

  it('are not made with --no-meta-tables: OpenClone keeps its one table, and runs have no known end', async () => {
    const target = await database();
    await write(target, '--no-meta-tables');
    expect(await tables(target)).toEqual(['public.log']);
    expect(await runs(target)).toMatch(/, end unknown\n$/);
  });

  it('are done without when the meta schema is missing and cannot be created, and the rows still land', async () => {
    const target = await database();
    await write(target, '--meta-schema', 'nowhere');
    expect(await tables(target)).toEqual(['public.log']);
    expect(await target.db.query("SELECT count(*)::int AS n FROM log WHERE message = 'rendered'")).toEqual([{ n: 1 }]);
    // With CREATE on the database, the schema is created.
    await target.db.query(`GRANT CREATE ON DATABASE ${target.db.name} TO ${target.role}`);
    await writeRun(2, target, '--meta-schema', 'nowhere');
    expect(await tables(target)).toEqual(['nowhere.log_batches', 'nowhere.log_meta', 'nowhere.log_runs', 'public.log']);
  });

  it('schema print puts them in the meta schema, or leaves them out', async () => {
    const separate = await cliStdout(['schema', 'print', '--meta-schema', 'logweaver']);
    expect(separate).toContain('CREATE SCHEMA IF NOT EXISTS "logweaver";');
    expect(separate).toContain('CREATE TABLE IF NOT EXISTS "logweaver"."log_runs"');
    const none = await runCli(['schema', 'print'], { env: { LOGWEAVER_META_TABLES: 'false' } });
    expect(none.stdout).toContain('CREATE TABLE IF NOT EXISTS "public"."log"');
    expect(none.stdout).not.toContain('log_runs');
  });
});
