// `logweaver-pino view`: the server and its JSON API, through the real process (the page itself is
// tested in Chromium by `npm run test:browser`).
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaSql } from '../src/write/ddl.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { runCli } from './support/spawn.js';
import { startViewerProcess, type RunningViewer } from './support/viewer.js';

let db: TestDatabase;
let viewer: RunningViewer;

beforeAll(async () => {
  db = await createTestDatabase('view');
  await db.query(schemaSql({ schema: 'public', table: 'log' }));
  await db.query(`
    INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address, record)
    SELECT 1, 'render', true, timestamptz '2026-11-28 09:00:00+00' + i * interval '1 second', 'row ' || i, '', 'INFO',
           'gpu-1', '10.0.0.5', json_build_object('seq', i)
      FROM generate_series(1, 600) AS i`);
  viewer = await startViewerProcess(db.url);
});
afterAll(async () => {
  viewer?.cli.kill();
  await db?.drop();
});

interface Page {
  rows: { log_id: number }[];
  next?: number;
  follow?: string;
  cursor?: string;
}

async function get(path: string) {
  const response = await fetch(new URL(path, viewer.url));
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Page & { error?: string },
  };
}

/** fetch() may not set Host; node:http may. */
function statusWithHost(host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    http
      .get(new URL('/api/meta', viewer.url), { headers: { host } }, (response) => {
        response.resume();
        resolve(response.statusCode);
      })
      .on('error', reject);
  });
}

const ids = (page: Page) => page.rows.map((row) => row.log_id);

describe('the viewer API', () => {
  it('pages by log_id: 250 rows, then the next 250 after the cursor', async () => {
    const first = await get('/api/rows');
    expect(first.status).toBe(200);
    expect(ids(first.body)).toEqual(Array.from({ length: 250 }, (_, index) => 600 - index));
    expect(first.body.next).toBe(351);
    const second = await get(`/api/rows?cursor=${first.body.next}`);
    expect(ids(second.body)[0]).toBe(350);
    const third = await get('/api/rows?cursor=101');
    expect(ids(third.body)).toEqual(Array.from({ length: 100 }, (_, index) => 100 - index));
    expect(third.body.next).toBeUndefined();
  });

  it('starts a page at a log id, in either order', async () => {
    expect(ids((await get('/api/rows?at=300&order=asc')).body).slice(0, 2)).toEqual([300, 301]);
    expect(ids((await get('/api/rows?at=300')).body).slice(0, 2)).toEqual([300, 299]);
  });

  it('follows: a row inserted after the first page comes from /api/follow with its cursor', async () => {
    const { body } = await get('/api/rows?grep=follow');
    expect(body.rows).toEqual([]);
    await db.query(`INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
                    VALUES (1, 'render', true, now(), 'to follow', '', 'INFO', 'gpu-1', '10.0.0.5')`);
    const polled = await get(`/api/follow?grep=follow&cursor=${encodeURIComponent(body.follow as string)}`);
    expect(polled.body.rows).toMatchObject([{ message: 'to follow' }]);
    const again = await get(`/api/follow?grep=follow&cursor=${encodeURIComponent(polled.body.cursor as string)}`);
    expect(again.body.rows).toEqual([]);
  });

  it('returns one row with its record, or 404', async () => {
    expect((await get('/api/rows/7')).body).toMatchObject({ row: { log_id: 7, record: { seq: 7 } } });
    expect(await get('/api/rows/100000')).toMatchObject({ status: 404, body: { error: 'no row with log_id 100000' } });
  });

  it.for<[string, string]>([
    [
      '/api/rows?level=loud',
      'level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (or trace, warn, fatal), got "loud"',
    ],
    [
      '/api/rows?since=soon',
      'since must be a duration such as 15m, 2h or 7d, or a date and time such as 2026-11-28T14:00 (read in UTC), got "soon"',
    ],
    ['/api/rows?order=up', 'order must be asc or desc, got "up"'],
    ['/api/rows?cursor=x', 'cursor must be a log id (a whole number), got "x"'],
    ['/api/rows?thirdParty=perhaps', 'thirdParty must be true or false, got "perhaps"'],
    ['/api/follow?cursor=1.2.3', `cursor must be a cursor returned by the viewer's API, got "1.2.3"`],
    ['/api/follow?cursor=1.0.5:3:', `cursor must be a cursor returned by the viewer's API, got "1.0.5:3:"`],
    ['/api/rows?since=99999999999999d', 'since must be a time between the years 1 and 9999, got "99999999999999d"'],
    ['/api/follow?until=-100000-01-01', 'until must be a time between the years 1 and 9999, got "-100000-01-01"'],
    ['/api/rows?since=1h&since=2h', 'since may be given once, got an array'],
    ['/api/runs?application=a%00b', 'application must not contain a NUL character, got "a\\u0000b"'],
  ])('%s is a 400 naming the parameter and the value', async ([path, error]) => {
    expect(await get(path)).toMatchObject({ status: 400, body: { error } });
  });

  it('serves the page with a policy that lets only its own script and styles apply, and local images load', async () => {
    const response = await fetch(viewer.url);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<script src="viewer.js" defer></script>');
    const policy = response.headers.get('content-security-policy')?.split('; ');
    expect(policy).toEqual(
      expect.arrayContaining(["script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:"]),
    );
    expect((await get('/api/meta')).body).toMatchObject({ remoteImages: false });
  });

  it('lets images from other servers load with --remote-images, and says so', async () => {
    const remote = await startViewerProcess(db.url, '--remote-images');
    try {
      const policy = (await fetch(remote.url)).headers.get('content-security-policy')?.split('; ');
      expect(policy).toEqual(expect.arrayContaining(["style-src 'self'", 'img-src * data: blob:']));
      expect(await (await fetch(new URL('/api/meta', remote.url))).json()).toMatchObject({ remoteImages: true });
    } finally {
      remote.cli.kill();
    }
  });

  it('refuses requests for another host name (DNS rebinding) and anything but GET', async () => {
    expect(await statusWithHost('attacker.example')).toBe(421);
    expect(await statusWithHost(`localhost:${new URL(viewer.url).port}`)).toBe(200);
    expect((await fetch(new URL('/api/rows', viewer.url), { method: 'POST' })).status).toBe(405);
    expect((await get('/nothing')).status).toBe(404);
  });
});

describe('pages on a table whose ids are far apart (more than one scan window)', () => {
  let sparse: RunningViewer;

  beforeAll(async () => {
    await db.query(`CREATE SCHEMA sparse; ${schemaSql({ schema: 'sparse', table: 'log' })}`);
    await db.query(`
      INSERT INTO sparse.log (log_id, run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
      SELECT id, 1, 'render', true, now(), 'row ' || id, '', 'INFO', 'gpu-1', '10.0.0.5'
        FROM unnest(ARRAY[1, 150000, 300000]) AS id`);
    sparse = await startViewerProcess(db.url, '--schema', 'sparse');
  });
  afterAll(() => sparse?.cli.kill());

  it('returns what one window holds and the window edge as the next cursor, to the end', async () => {
    const pages: [number[], number | undefined][] = [];
    let path = '/api/rows';
    for (;;) {
      const { body } = await get(new URL(path, sparse.url).toString());
      pages.push([ids(body), body.next]);
      if (body.next === undefined) break;
      path = `/api/rows?cursor=${body.next}`;
    }
    expect(pages).toEqual([
      [[300000], 200001],
      [[150000], 100001],
      [[1], undefined],
    ]);
  });

  it('a follow cursor from log id 0 (the page never sends one) gets one window of rows per poll', async () => {
    const { body } = await get(new URL('/api/rows', sparse.url).toString());
    const snapshot = (body.follow as string).split('.')[2] as string;
    let cursor = `0.0.${snapshot}`;
    const polls: number[][] = [];
    for (let poll = 0; poll < 4; poll += 1) {
      const answer = await get(new URL(`/api/follow?cursor=${encodeURIComponent(cursor)}`, sparse.url).toString());
      expect(answer.status).toBe(200);
      polls.push(ids(answer.body));
      cursor = answer.body.cursor as string;
    }
    expect(polls).toEqual([[1], [150000], [300000], []]);
  });

  it('tail goes through the windows for its last rows', async () => {
    const result = await runCli(['tail', '--json', '--database-url', db.url, '--schema', 'sparse']);
    expect(
      result.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as Page['rows'][number]).log_id),
    ).toEqual([1, 150000, 300000]);
  });
});

describe('logweaver-pino view', () => {
  it('exits 0 on Ctrl-C', async () => {
    const other = await startViewerProcess(db.url);
    expect(await other.cli.interrupt()).toBe(0);
  });

  it('says when the port is taken', async () => {
    const port = new URL(viewer.url).port;
    const result = await runCli(['view', '--database-url', db.url, '--port', port]);
    expect(result.stderr).toBe(
      `logweaver-pino: port ${port} on 127.0.0.1 is in use; choose another with --port (0 picks a free one)\n`,
    );
    expect(result.code).toBe(1);
  });

  it('refuses a bad --port with exit code 2', async () => {
    const result = await runCli(['view', '--database-url', db.url, '--port', '70000']);
    expect(result.stderr).toBe('logweaver-pino: --port must be a whole number from 0 to 65535, got "70000"\n');
    expect(result.code).toBe(2);
  });
});
