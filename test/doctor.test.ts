/** `logweaver-pino doctor` (issue 10): each verdict, as the real binary prints it, and its exit code. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase, queryOnce, type TestDatabase } from './support/database.js';
import { OPENCLONE_TABLE } from './support/seed.js';
import { cliStdout, runCli } from './support/spawn.js';

const ROLE = `doctor_${Math.random().toString(36).slice(2, 8)}`;
const PASSWORD = 'doctor-sees-no-secret';
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('doctor');
  await queryOnce(adminUrl(), `CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await db.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
  await db.query(`GRANT USAGE ON SCHEMA public TO ${ROLE}`);
});
afterAll(async () => {
  await db.drop();
  await queryOnce(adminUrl(), `DROP ROLE IF EXISTS ${ROLE}`);
});

/** doctor's output, one line per finding (`ok    table       …`) and the fixes under them. */
async function doctor(url: string, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const spoolDir = mkdtempSync(join(tmpdir(), 'doctor-spool-'));
  const result = await runCli(['doctor', '--database-url', url, '--spool-dir', spoolDir, ...args]);
  expect(result.stderr).toBe('');
  return { code: result.code, out: result.stdout };
}

const line = (out: string, check: string) => out.split('\n').find((text) => text.slice(6).startsWith(check)) ?? '';

describe('logweaver-pino doctor', () => {
  it('a table made by `schema apply`, written as its owner: every check ok, exit 0', async () => {
    await cliStdout(['schema', 'apply', '--database-url', db.url, '--table', 'healthy']);
    const { code, out } = await doctor(db.url, '--table', 'healthy');
    expect(code).toBe(0);
    expect(out).toMatch(
      /^ok {4}connection {2}PostgreSQL \d+\.\d+.* at 127\.0\.0\.1:\d+ as \w+; not encrypted; no pooler seen$/m,
    );
    expect(line(out, 'table')).toBe(`ok    table       "public"."healthy" is the package's table`);
    expect(line(out, 'privileges')).toMatch(/^ok {4}privileges {2}\w+ has what the writer and the readers need$/);
    expect(line(out, 'indexes')).toBe('ok    indexes     every index the readers use is there');
    expect(line(out, 'spool')).toMatch(/^ok {4}spool {7}\/.* is writable; nothing waits in it$/);
    expect(out.endsWith('writing will work\n')).toBe(true);
  });

  it('a missing table the role may not create: FAIL, with the command that makes it', async () => {
    const { code, out } = await doctor(db.urlFor(ROLE, PASSWORD), '--table', 'absent');
    expect(code).toBe(1);
    expect(out).toContain(
      'FAIL  table       "public"."absent" does not exist, and this role may not create it\n' +
        '      fix: logweaver-pino schema apply --schema public --table absent   (as a role with CREATE on the schema)\n',
    );
    expect(out).not.toContain(PASSWORD);
    expect(out.endsWith('writing will fail: fix the 1 FAIL line(s) first\n')).toBe(true);
  });

  it('a role without INSERT: FAIL with the GRANT, and once that is run, exit 0', async () => {
    await cliStdout(['schema', 'apply', '--database-url', db.url, '--table', 'guarded']);
    await db.query(`GRANT SELECT ON guarded, guarded_runs, guarded_batches TO ${ROLE}`);
    const before = await doctor(db.urlFor(ROLE, PASSWORD), '--table', 'guarded');
    expect(before.code).toBe(1);
    const grant = `GRANT INSERT ON "public"."guarded" TO "${ROLE}";`;
    expect(before.out).toContain(`may not INSERT on "public"."guarded": no row can be written`);
    expect(before.out).toContain(`      fix: ${grant}   (as the table's owner)\n`);
    expect(before.out).toContain(`may not INSERT on "public"."guarded_runs": no run can start`);
    expect(before.out).toContain(`may not UPDATE on "public"."guarded_runs": the end of each run is not recorded`);

    for (const statement of before.out.matchAll(/fix: (GRANT .*;)/g)) await db.query(statement[1] as string);
    const after = await doctor(db.urlFor(ROLE, PASSWORD), '--table', 'guarded');
    expect(after.out).toMatch(/^ok {4}privileges /m);
    expect(after.code).toBe(0);
  });

  it("OpenClone's table under an INSERT and SELECT role: its shape named, exit 0, and what is lost without the package's tables", async () => {
    await db.query(OPENCLONE_TABLE.replace('CREATE TABLE log', 'CREATE TABLE openclone'));
    await db.query(`GRANT INSERT, SELECT ON openclone TO ${ROLE}`);
    const { code, out } = await doctor(db.urlFor(ROLE, PASSWORD), '--table', 'openclone');
    expect(code).toBe(0);
    expect(line(out, 'table')).toBe(
      `ok    table       "public"."openclone" has OpenClone's shape (no record column): written as it is`,
    );
    expect(line(out, 'privileges')).toBe(
      `warn  privileges  no "public"."openclone_runs": run ends are not recorded; ` +
        `no "public"."openclone_batches": a batch retried after an ambiguous failure may be stored twice`,
    );
    expect(line(out, 'indexes')).toBe('ok    indexes     every index the readers use is there');

    const without = await doctor(db.urlFor(ROLE, PASSWORD), '--table', 'openclone', '--no-meta-tables');
    expect(line(without.out, 'privileges')).toBe(`ok    privileges  ${ROLE} has what the writer and the readers need`);
  });

  it('a table of another shape: FAIL naming each column that differs', async () => {
    await db.query(
      'CREATE TABLE odd (log_id bigint PRIMARY KEY, run_number integer, application_name text, open_clone_log boolean, "timestamp" timestamptz, message integer, level text, machine_name text, ip_address text)',
    );
    const { code, out } = await doctor(db.url, '--table', 'odd');
    expect(code).toBe(1);
    expect(line(out, 'table')).toBe(
      'FAIL  table       "public"."odd" is not a LogWeaver table: table "public"."odd" has no column tags; ' +
        'column message of "public"."odd" has type int4; logweaver-pino writes text or varchar or bpchar',
    );
  });

  it('a missing read index: warn, with the CREATE INDEX CONCURRENTLY that restores it', async () => {
    await cliStdout(['schema', 'apply', '--database-url', db.url, '--table', 'unindexed']);
    await db.query('DROP INDEX unindexed_time_brin');
    const { code, out } = await doctor(db.url, '--table', 'unindexed');
    expect(code).toBe(0);
    expect(out).toContain(
      'warn  indexes     no brin index on (timestamp): reads scan the table\n' +
        '      fix: CREATE INDEX CONCURRENTLY IF NOT EXISTS "unindexed_time_brin" ON "public"."unindexed" USING brin ("timestamp");\n',
    );
  });

  it('the spool: what waits in it, and a directory that cannot be made', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'doctor-waiting-'));
    const segment = '1700000000000\t\t{"msg":"waiting"}\n';
    writeFileSync(join(spoolDir, 'left-0000001700000000-abcdef.spool'), segment, { mode: 0o600 });
    const waiting = await runCli(['doctor', '--database-url', db.url, '--spool-dir', spoolDir]);
    expect(line(waiting.stdout, 'spool')).toBe(
      `ok    spool       ${spoolDir} is writable; ${segment.length} bytes in 1 segment file(s) wait to be delivered (by the next start, or the running writer)`,
    );

    const file = join(mkdtempSync(join(tmpdir(), 'doctor-file-')), 'a-file');
    writeFileSync(file, '');
    const blocked = await runCli(['doctor', '--database-url', db.url, '--spool-dir', join(file, 'spool')]);
    expect(line(blocked.stdout, 'spool')).toBe(
      `warn  spool       ${join(file, 'spool')} cannot be made (${file} is not a directory): an outage loses records`,
    );
    expect(blocked.stdout).toContain('      fix: set --spool-dir (LOGWEAVER_SPOOL_DIR) to a private directory');
  });

  it('a database that cannot be reached: FAIL, exit 1, and no password printed', async () => {
    const closed = await freePort();
    const { code, out } = await doctor(`postgres://${ROLE}:${PASSWORD}@127.0.0.1:${closed}/x`);
    expect(code).toBe(1);
    expect(line(out, 'connection')).toMatch(
      new RegExp(`^FAIL  connection  cannot reach the database as ${ROLE}@127\\.0\\.0\\.1:${closed}/x .*ECONNREFUSED`),
    );
    expect(out).not.toContain(PASSWORD);
  });

  it('a proxy in front of the server is seen as a pooler or proxy', async () => {
    const server = new URL(db.url);
    const proxy = await tcpProxy(server.hostname, Number(server.port));
    try {
      const through = new URL(db.url);
      through.port = String(proxy.port);
      const { code, out } = await doctor(through.toString());
      expect(code).toBe(0);
      expect(line(out, 'connection')).toContain(
        `a pooler or proxy is in between (port ${proxy.port} leads to a server on port ${server.port})`,
      );
    } finally {
      proxy.server.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A plain TCP relay, as a pooler or a cloud proxy stands between a client and the server. */
function tcpProxy(host: string, port: number): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((client) => {
      const upstream = connect(port, host);
      client.pipe(upstream).pipe(client);
      for (const socket of [client, upstream]) socket.on('error', () => [client, upstream].forEach((s) => s.destroy()));
    }).listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}
