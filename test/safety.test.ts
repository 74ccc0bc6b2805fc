// The safety floor: an unreachable, restarted or disconnecting database never crashes the
// application, and writing resumes by itself.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, queryOnce, withDatabase, type TestDatabase } from './support/database.js';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';
import { eventually, range, seqs, startReader } from './support/records.js';
import { FIXTURES, runNode } from './support/spawn.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('safety');
});
afterAll(async () => db.drop());

describe('when the database is unreachable', () => {
  it('#6 app exits while the database is unreachable: exits within the budget, stderr names the count not delivered', async () => {
    const started = Date.now();
    const result = await runNode(`${FIXTURES}app.mjs`, ['natural', '20'], {
      env: {
        FIXTURE_OPTIONS: JSON.stringify({
          connectionString: 'postgres://nobody@127.0.0.1:9/none',
          application: 'down',
        }),
      },
    });
    const elapsed = Date.now() - started;
    expect(result.code).toBe(0);
    expect(elapsed).toBeLessThan(10_000);
    expect(result.stderr).toMatch(
      /logweaver-pino: error: cannot reach the database yet; records are kept: .*ECONNREFUSED.*; database nobody@127\.0\.0\.1:9\/none \(from connectionString\)/,
    );
    expect(result.stderr).toContain('20 records were not delivered to the database before the exit deadline');
  });
});

describe('when the connection or the server goes away', () => {
  it('#7 #8 idle connection terminated by the server: the worker lives, the error is reported, it reconnects on the next batch, no loss', async () => {
    const reader = startReader(db.url, 'terminated');
    reader.write(50);
    await eventually(async () => (await seqs(db.url, 'terminated')).length === 50);
    const killed = await db.query<{ killed: boolean }>(
      "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'logweaver-pino' AND datname = current_database()",
    );
    expect(killed).toEqual([{ killed: true }]);
    reader.write(50);
    const { code, stderr } = await reader.end();
    expect(code).toBe(0);
    expect(stderr).toContain('terminating connection due to administrator command (57P01)');
    expect(stderr).toContain('wrote 100 rows');
    expect(await seqs(db.url, 'terminated')).toEqual(range(100));
  });

  describe('with a private server', () => {
    let server: PrivateServer;
    beforeAll(async () => {
      server = await startPrivateServer('restart');
    });
    afterAll(async () => server.remove());

    it('#9 PostgreSQL restarted (fast): records kept and delivered once it is back', async () => {
      const url = withDatabase(server.url, 'postgres');
      const reader = startReader(url, 'restarted');
      reader.write(100);
      await eventually(async () => (await seqs(url, 'restarted')).length === 100);
      await server.stop();
      reader.write(100);
      // Back only once the reader has met the outage, so that what follows is a real retry.
      await eventually(() => reader.stderr().includes('writing a batch failed; it will be retried'));
      await server.start();
      await eventually(async () => (await seqs(url, 'restarted')).length === 200);
      const { code, stderr } = await reader.end();
      expect(code).toBe(0);
      expect(stderr).toContain('writing a batch failed; it will be retried');
      expect(stderr).toContain('writing to the database again');
      expect(await seqs(url, 'restarted')).toEqual(range(200));
    });

    it('#9 PostgreSQL restarted (immediate) under load: every record exactly once', async () => {
      const url = withDatabase(server.url, 'postgres');
      const reader = startReader(url, 'immediate');
      // Under load: the server goes down once delivery has begun, with more lines on their way.
      reader.write(250);
      await eventually(async () => (await seqs(url, 'immediate')).length > 0);
      reader.write(250);
      await server.stopImmediately();
      reader.write(100);
      await eventually(() => reader.stderr().includes('writing a batch failed; it will be retried'));
      await server.start();
      reader.write(100);
      await eventually(async () => (await seqs(url, 'immediate')).length >= 700);
      const { code } = await reader.end();
      expect(code).toBe(0);
      expect(await seqs(url, 'immediate')).toEqual(range(700));
    });
  });
});

describe('FAULTS #18: too many connections', () => {
  let crowded: PrivateServer;
  beforeAll(async () => {
    crowded = await startPrivateServer('crowded', {
      extraFlags: ['-c', 'max_connections=4', '-c', 'superuser_reserved_connections=1'],
    });
    await queryOnce(crowded.url, "CREATE ROLE app_writer LOGIN PASSWORD 'w'");
    await queryOnce(crowded.url, 'GRANT ALL ON SCHEMA public TO app_writer');
  });
  afterAll(async () => crowded.remove());

  it('#18 too many connections: retries until a connection is free, then delivers everything', async () => {
    const writer = new URL(crowded.url);
    writer.username = 'app_writer';
    writer.password = 'w';
    const hogs = await Promise.all(
      [1, 2, 3].map(async () => {
        const client = new pg.Client({ connectionString: writer.toString() });
        client.on('error', () => undefined);
        await client.connect();
        return client;
      }),
    );
    const reader = startReader(writer.toString(), 'crowded');
    reader.write(20);
    await eventually(() => Promise.resolve(reader.stderr().includes('(53300)')));
    await hogs[0]?.end();
    await eventually(async () => (await seqs(crowded.url, 'crowded')).length === 20);
    const { code } = await reader.end();
    await Promise.all(hogs.slice(1).map((client) => client.end()));
    expect(code).toBe(0);
    expect(await seqs(crowded.url, 'crowded')).toEqual(range(20));
  });
});
