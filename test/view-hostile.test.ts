// FAULTS #30: hostile HTTP to `view`. Odd paths, methods, Host headers and query values, sent as raw
// bytes (fetch() refuses most of them) to the real process, on the package's table (bigint log_id)
// and on OpenClone's (integer log_id). Each gets a clear 4xx (or the right status), never a 5xx, and
// the server answers a normal request afterwards.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaSql } from '../src/write/ddl.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { OPENCLONE_TABLE } from './support/seed.js';
import { startViewerProcess, type RunningViewer } from './support/viewer.js';

let db: TestDatabase;
const viewers: Record<string, RunningViewer> = {};

beforeAll(async () => {
  db = await createTestDatabase('view_hostile');
  await db.query(
    `${schemaSql({ schema: 'public', table: 'log' })}; CREATE SCHEMA openclone; SET search_path TO openclone; ${OPENCLONE_TABLE}`,
  );
  for (const table of ['public.log', 'openclone.log']) {
    await db.query(`
      INSERT INTO ${table} (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
      SELECT 1, 'render', true, now(), 'row ' || i, '', 'INFO', 'gpu-1', '10.0.0.5' FROM generate_series(1, 300) AS i`);
  }
  viewers.package = await startViewerProcess(db.url);
  viewers.openclone = await startViewerProcess(db.url, '--schema', 'openclone');
});
afterAll(async () => {
  for (const viewer of Object.values(viewers)) viewer.cli.kill();
  await db?.drop();
});

const AUTHORITY = '{authority}';

/** A request as raw text; `{authority}` becomes the viewer's 127.0.0.1:PORT. */
function request(method: string, target: string, headers = [`Host: ${AUTHORITY}`], version = 'HTTP/1.1'): string {
  return [`${method} ${target} ${version}`, ...headers, 'Connection: close', '', ''].join('\r\n');
}
const get = (target: string) => request('GET', target);

/** Sends the bytes as they are and resolves with the status code of the answer. */
function rawStatus(viewer: RunningViewer, text: string): Promise<number> {
  const { hostname, port } = new URL(viewer.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let answer = '';
    const status = () => /^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1];
    socket.setEncoding('latin1');
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (status()) socket.destroy();
    });
    // The server may close while a huge request is still being written: the answer is what counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const code = status();
      if (code) resolve(Number(code));
      else reject(new Error(`no HTTP answer to ${JSON.stringify(text.slice(0, 100))}: ${JSON.stringify(answer)}`));
    });
    socket.write(text.replaceAll(AUTHORITY, `${hostname}:${port}`), 'latin1');
  });
}

async function stillServing(viewer: RunningViewer): Promise<number> {
  return (await fetch(new URL('/api/meta', viewer.url))).status;
}

const CASES: [string, string, number][] = [
  // paths
  ['GET //', get('//'), 404],
  ['GET //evil.example/api/meta (a path, not another host)', get('//evil.example/api/meta'), 404],
  ['GET /%', get('/%'), 404],
  ['GET /%zz', get('/%zz'), 404],
  ['GET /..', get('/..'), 404],
  ['GET /../../etc/passwd', get('/../../etc/passwd'), 404],
  ['GET /%2e%2e/viewer.js', get('/%2e%2e/viewer.js'), 404],
  ['GET /api/rows/%31', get('/api/rows/%31'), 404],
  ['GET /a%00b', get('/a%00b'), 404],
  ['GET a path of 10,000 characters', get(`/${'a'.repeat(10_000)}`), 404],
  ['GET a path of 200 KB', get(`/${'a'.repeat(200_000)}`), 431],
  ['GET with no leading slash', get('api/meta'), 400],
  ['GET *', get('*'), 400],
  ['GET absolute form, this host', get(`http://${AUTHORITY}/api/meta`), 200],
  ['GET absolute form, another host', get('http://evil.example/api/meta'), 421],
  ['GET absolute form, another scheme', get(`ftp://${AUTHORITY}/api/meta`), 400],
  ['GET a byte 0x7f in the path', get('/\x7f'), 400],
  // methods
  ...['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'].map((method): [string, string, number] => [
    `${method} /api/rows`,
    request(method, '/api/rows', [`Host: ${AUTHORITY}`, 'Content-Length: 0']),
    405,
  ]),
  ['OPTIONS *', request('OPTIONS', '*'), 405],
  ['CONNECT', request('CONNECT', AUTHORITY), 405],
  ['FOO /', request('FOO', '/'), 400],
  ['HEAD /', request('HEAD', '/'), 200],
  ['GET with a body', `${request('GET', '/api/meta', [`Host: ${AUTHORITY}`, 'Content-Length: 5'])}hello`, 200],
  [
    'Content-Length and Transfer-Encoding both',
    request('GET', '/api/meta', [`Host: ${AUTHORITY}`, 'Content-Length: 5', 'Transfer-Encoding: chunked']),
    400,
  ],
  // Host headers
  ['no Host (HTTP/1.1)', request('GET', '/api/meta', []), 400],
  ['no Host (HTTP/1.0)', request('GET', '/api/meta', [], 'HTTP/1.0'), 400],
  ['an empty Host', request('GET', '/api/meta', ['Host: ']), 400],
  ['two Host headers', request('GET', '/api/meta', [`Host: ${AUTHORITY}`, 'Host: evil.example']), 400],
  ['Host: evil.example', request('GET', '/api/meta', ['Host: evil.example']), 421],
  ['Host: localhost:abc', request('GET', '/api/meta', ['Host: localhost:abc']), 421],
  ['Host: 127.0.0.1.', request('GET', '/api/meta', ['Host: 127.0.0.1.']), 421],
  ['a Host of 10,000 characters', request('GET', '/api/meta', [`Host: ${'h'.repeat(10_000)}`]), 421],
  ['Host: LOCALHOST', request('GET', '/api/meta', ['Host: LOCALHOST']), 200],
  // query strings
  ['a query string of 300 KB', get(`/api/rows?grep=${'a'.repeat(300_000)}`), 431],
  ['a grep of 10,000 characters', get(`/api/rows?grep=${'x'.repeat(10_000)}`), 200],
  ['since=99999999999999d', get('/api/rows?since=99999999999999d'), 400],
  ['until=99999999999999d', get('/api/follow?until=99999999999999d'), 400],
  ['since=-100000-01-01', get('/api/rows?since=-100000-01-01'), 400],
  ['since=2026-13-45', get('/api/rows?since=2026-13-45'), 400],
  ['since twice', get('/api/rows?since=1h&since=2h'), 400],
  ['cursor of 20 digits', get('/api/rows?cursor=99999999999999999999'), 400],
  ['cursor of 15 digits', get('/api/rows?cursor=999999999999999'), 200],
  ['at=999999999999999', get('/api/rows?at=999999999999999'), 200],
  ['at=-5', get('/api/rows?at=-5'), 400],
  ['row 999999999999999', get('/api/rows/999999999999999'), 404],
  ['row 99999999999 (beyond an integer column)', get('/api/rows/99999999999'), 404],
  ['a follow cursor whose xmax is below its xmin', get('/api/follow?cursor=1.0.5:3:'), 400],
  ['a follow cursor with txid 0', get('/api/follow?cursor=1.0.0:0:'), 400],
  ['a follow cursor with txids out of order', get('/api/follow?cursor=1.0.3:9:5,4'), 400],
  ['a follow cursor with ,,', get('/api/follow?cursor=1.0.3:9:4,,5'), 400],
  ['a follow cursor beyond 64 bits', get(`/api/follow?cursor=1.0.${'9'.repeat(20)}:${'9'.repeat(20)}:`), 400],
  ['a follow cursor beyond bigint', get('/api/follow?cursor=1.0.9223372036854775808:9223372036854775809:'), 400],
  ['a NUL in grep', get('/api/rows?grep=a%00b'), 400],
  ['a NUL in application', get('/api/rows?application=%00'), 400],
  ['a NUL in tag', get('/api/rows?tag=x%00'), 400],
  ['a NUL in machine (runs)', get('/api/runs?machine=%00'), 400],
  ['invalid UTF-8 in grep', get('/api/rows?grep=%ff%fe'), 200],
  ['a lone % in grep', get('/api/rows?grep=%'), 200],
  ['limit=1e999', get('/api/runs?limit=1e999'), 400],
  ['run=99999999999', get('/api/rows?run=99999999999'), 400],
  ['level=%00', get('/api/rows?level=%00'), 400],
];

describe.for(['package', 'openclone'])('#30 hostile HTTP to view (%s table)', (table) => {
  it.for(CASES.map(([name, text, status]) => [name, status, text] as const))(
    '#30 hostile HTTP: %s gets %i, and the server keeps serving',
    async ([, status, text]) => {
      const viewer = viewers[table] as RunningViewer;
      expect(await rawStatus(viewer, text)).toBe(status);
      expect(await stillServing(viewer)).toBe(200);
    },
  );

  it('#30 hostile HTTP: 300 random odd requests, each a status below 500, and the server keeps serving', async () => {
    const viewer = viewers[table] as RunningViewer;
    const random = seeded(30);
    const answers: string[] = [];
    for (let index = 0; index < 300; index += 1) {
      const target = randomTarget(random);
      const status = await rawStatus(viewer, get(target));
      if (status >= 500) answers.push(`${status} for ${target}`);
    }
    expect(answers).toEqual([]);
    expect(await stillServing(viewer)).toBe(200);
  });
});

const PATHS = ['/api/rows', '/api/follow', '/api/runs', '/api/meta', '/api/rows/', '/', '//', '/viewer.js', ''];
const NAMES = ['application', 'machine', 'run', 'level', 'tag', 'grep', 'since', 'until', 'thirdParty', 'order'];
const MORE_NAMES = ['cursor', 'at', 'limit', '', '%', 'since%00'];
const PIECES = [
  ...['/', '//', '%', '%zz', '%00', '%ff', '%2F', '%26', '..', '.', '?', '&', '=', '#', ';', ',', ':', '@', '-', '+'],
  ...['~', '1', '0', '-1', '1e9', '999999999999999', '99999999999999999999', '99999999999999d', '5:3:', '1.0.'],
  ...['1.0.5:9:', 'latest', 'asc', 'desc', 'true', 'maybe', 'INFO', 'warn', '2026-11-28', 'T14:00', 'Z', '15m'],
];

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

/** A path the server knows (or nearly), then parameters it knows with values of random odd pieces. */
function randomTarget(random: () => number): string {
  const value = () => Array.from({ length: Math.floor(random() * 4) }, () => pick(random, PIECES)).join('');
  const parameters = Array.from(
    { length: Math.floor(random() * 5) },
    () => `${pick(random, random() < 0.8 ? NAMES : MORE_NAMES)}=${value()}`,
  );
  const path = `${pick(random, PATHS)}${random() < 0.3 ? value() : ''}`;
  return `${path.startsWith('/') ? path : `/${path}`}${parameters.length > 0 ? `?${parameters.join('&')}` : ''}`;
}

/** mulberry32: the same "random" requests on every run, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}
