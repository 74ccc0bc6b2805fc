// `logweaver-pino view`: the server and its JSON API, through the real process (the page itself is
// tested in Chromium by `npm run test:browser`).
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaSql } from '../src/write/ddl.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createWideTable } from './support/seed.js';
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

interface Histogram {
  from: number;
  to: number;
  bucketMs: number;
  next?: number;
  lowest: number;
  buckets: { start: number; levels: Record<string, number>; first: number; last: number }[];
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

  // Before the follow test: it adds a row logged now, days after the others.
  it('counts rows per time bucket and level for the volume chart, over the span of the matching rows', async () => {
    const { status, body } = await get('/api/histogram?buckets=60');
    expect(status).toBe(200);
    const chart = body as unknown as Histogram;
    // 600 rows a second apart, 09:00:01 to 09:10:00: ten-second buckets, 61 of them.
    expect(chart).toMatchObject({ bucketMs: 10_000, lowest: 1, zone: 'UTC' });
    expect(chart.next).toBeUndefined();
    expect(chart.from).toBe(Date.parse('2026-11-28T09:00:00Z'));
    expect(chart.buckets).toHaveLength(61);
    expect(chart.buckets[0]).toEqual({ start: chart.from, levels: { INFO: 9 }, first: 1, last: 9 });
    expect(chart.buckets.reduce((sum, bucket) => sum + (bucket.levels.INFO ?? 0), 0)).toBe(600);
  });

  it('follows the filters in the volume chart', async () => {
    const ranged = (await get('/api/histogram?since=2026-11-28T09:05:00&until=2026-11-28T09:05:59')).body;
    const chart = ranged as unknown as Histogram;
    expect(chart.from).toBe(Date.parse('2026-11-28T09:05:00Z'));
    expect(chart.bucketMs).toBe(1000);
    expect(chart.buckets.map((bucket) => bucket.first)).toEqual(Array.from({ length: 60 }, (_, i) => 300 + i));
    const grepped = (await get('/api/histogram?grep=row%2012')).body as unknown as Histogram;
    // Rows 12 and 120-129, 09:00:12 to 09:02:09: the chart spans them, in two-second buckets.
    expect(grepped).toMatchObject({ from: Date.parse('2026-11-28T09:00:12Z'), bucketMs: 2000 });
    expect(grepped.buckets.map((bucket) => [bucket.first, bucket.last, bucket.levels.INFO])).toEqual([
      [12, 12, 1],
      [120, 121, 2],
      [122, 123, 2],
      [124, 125, 2],
      [126, 127, 2],
      [128, 129, 2],
    ]);
    expect(((await get('/api/histogram?level=ERROR')).body as unknown as Histogram).buckets).toEqual([]);
  });

  it('lists runs with their times, rows per level and how they ended, for the runs page', async () => {
    expect((await get('/api/runs/summary')).body).toEqual({
      runs: [
        {
          application_name: 'render',
          machine_name: 'gpu-1',
          run_number: 1,
          first_timestamp: '2026-11-28T09:00:01.000Z',
          last_timestamp: '2026-11-28T09:10:00.000Z',
          rows: 600,
          levels: { INFO: 600 },
          ended_cleanly: null,
          ended_at: null,
          end_recorded: null,
        },
      ],
    });
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
    ['/api/runs/summary?limit=0', 'limit must be a whole number from 1 to 200, got "0"'],
    ['/api/histogram?buckets=0', 'buckets must be a whole number from 1 to 400, got "0"'],
    [
      '/api/histogram?level=loud',
      'level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (or trace, warn, fatal), got "loud"',
    ],
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

  it('serves every script and stylesheet its pages name itself, under the same policy (issue 13: no CDN)', async () => {
    for (const path of ['/', '/runs']) {
      const response = await fetch(new URL(path, viewer.url));
      const policy = response.headers.get('content-security-policy');
      const html = await response.text();
      const named = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
      const files = named.filter((name) => /\.(js|css)$/.test(name));
      expect(files.length).toBeGreaterThan(1);
      for (const file of files) {
        expect(file).toMatch(/^[\w-]+\.(js|css)$/); // relative: this server, never another
        expect((await fetch(new URL(file, viewer.url))).status).toBe(200);
      }
      expect(policy).toContain("script-src 'self'");
    }
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

describe('the volume chart on a table of more than 250,000 ids', () => {
  let wide: RunningViewer;

  beforeAll(async () => {
    await createWideTable(db, 'wide');
    wide = await startViewerProcess(db.url, '--schema', 'wide');
  });
  afterAll(() => wide?.cli.kill());

  const chart = async (query: string) =>
    (await get(new URL(`/api/histogram?${query}`, wide.url).toString())).body as unknown as Histogram;

  it('counts 250,000 ids per request, newest first, on the axis of the first answer', async () => {
    const first = await chart('');
    // 09:00 to 12:00 in at most 60 buckets: five-minute ones.
    expect(first).toMatchObject({ from: Date.parse('2026-11-28T09:00:00Z'), bucketMs: 300_000, next: 1_250_000 });
    expect(first.buckets.map((bucket) => [bucket.first, bucket.levels])).toEqual([[1500000, { INFO: 1 }]]);
    const axis = `from=${first.from}&to=${first.to}&bucketMs=${first.bucketMs}&lowest=${first.lowest}`;
    const parts: Histogram[] = [];
    for (let below = first.next; below !== undefined; below = parts[parts.length - 1]?.next) {
      parts.push(await chart(`${axis}&below=${below}`));
    }
    expect(parts).toHaveLength(5);
    expect(parts.flatMap((part) => part.buckets.map((bucket) => bucket.first))).toEqual([500000, 1]);
    // Up to 10:30: the binary search ends the range at the row of 10:00 (id 500,000).
    const earlier = await chart('until=2026-11-28T10:30:00Z');
    expect(earlier.next).toBe(250_000);
  });

  it.for<[string, string]>([
    ['below=5&bucketMs=1000&from=0&to=1000', 'lowest is needed with below, got none'],
    ['below=5&lowest=1&bucketMs=7&from=0&to=1000', 'bucketMs must be a bucket width of the chart, got 7'],
    [
      'below=5&lowest=1&bucketMs=1000&from=0&to=1000000',
      'from to to must be 1 to 401 buckets of bucketMs, got 0 to 1000000',
    ],
    ['below=5&lowest=9&bucketMs=1000&from=0&to=1000', 'lowest must be a whole number from 0 to 5, got "9"'],
  ])('a later part with %s is a 400 naming the parameter', async ([query, error]) => {
    expect(await get(new URL(`/api/histogram?${query}`, wide.url).toString())).toMatchObject({
      status: 400,
      body: { error },
    });
  });
});
