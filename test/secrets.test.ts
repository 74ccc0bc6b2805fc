// Issue 14, item 6: no error path prints a password. Each case gives a password in one form (a URL
// as typed or percent-encoded, a password= parameter, a libpq keyword/value string, PGPASSWORD,
// OpenClone_LogDB_Password), through one source (--database-url / connectionString,
// LOGWEAVER_DATABASE_URL, DATABASE_URL), to one program a user runs (pipe mode, the transport in a
// real pino worker, tail, runs), which then fails in one way (a malformed option; a wrong password
// for a real role, on a server that checks passwords; a closed port; an unknown host). Oracle:
// everything the process printed names the problem and the database, and holds no password.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorText } from '../src/errors.js';
import { resolveOptions } from '../src/options.js';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';
import { queryOnce } from './support/database.js';
import { FIXTURES, runCli, runNode, type Finished } from './support/spawn.js';

const USER = 'lw_app';
const DATABASE = 'lw_logs';
const UNKNOWN_HOST = 'lw-no-such-host.invalid';

interface Secret {
  password: string;
  /** Parts a URL parser would take for a host, port or database: they must not show either. */
  fragments?: string[];
  /** Text around the password that contains it and is printed on purpose (the scheme). */
  allowed?: string[];
}

const SECRETS: Secret[] = [
  { password: 'p/ss?w#rd' },
  { password: 'a@b' },
  { password: 'x y' },
  // The part after the space shows whether a quoted keyword value was redacted whole.
  { password: 'two words', fragments: ['words'] },
  { password: 'k3y@hostpart/dbpart', fragments: ['hostpart', 'dbpart'] },
  { password: '6543/portdb', fragments: ['portdb'] },
  { password: "q'uote\\d" },
  // Also a part of the `postgres://` in front of it: found by its place, not by a search.
  { password: 'post', allowed: ['postgres'] },
];

type Entry = 'pipe' | 'transport' | 'tail' | 'runs';
type Failure = 'malformed' | 'wrong password' | 'closed port' | 'unknown host';
type Way =
  | 'URL as typed'
  | 'URL with a bad port'
  | 'URL percent-encoded'
  | 'password= parameter'
  | 'keyword/value'
  | 'PGPASSWORD'
  | 'OpenClone_LogDB_Password';
/** `option`: --database-url for the CLI, connectionString for the transport. */
type Source = 'option' | 'LOGWEAVER_DATABASE_URL' | 'DATABASE_URL';

interface Case {
  secret: Secret;
  way: Way;
  source: Source;
  entry: Entry;
  failure: Failure;
}

const WRITERS: Entry[] = ['pipe', 'transport'];
const READERS: Entry[] = ['tail', 'runs'];
const SOURCES: Source[] = ['option', 'LOGWEAVER_DATABASE_URL', 'DATABASE_URL'];
const CONNECT_FAILURES: Failure[] = ['wrong password', 'closed port', 'unknown host'];

/** A URL parser ends the host part at the first / ? or #: typed into a URL, such passwords are malformed. */
const breaksUrls = (secret: Secret) => /[/?#]/.test(secret.password);

/**
 * Every secret, in each form, through one writer (pipe mode or the transport) and one reader (tail
 * or runs: the two share their way of connecting and of printing errors). Forms take turns at the
 * sources, failures and programs, so that every pair of two of them comes up.
 */
function cases(): Case[] {
  const all: Case[] = [];
  let turn = 0;
  const add = (secret: Secret, way: Way, failure: Failure | undefined) => {
    const [source, connectFailure] = [pick(SOURCES, Math.floor(turn / 3)), pick(CONNECT_FAILURES, turn)];
    for (const entry of [pick(WRITERS, turn), pick(READERS, Math.floor(turn / 2))]) {
      all.push({ secret, way, source, entry, failure: failure ?? connectFailure });
    }
    turn++;
  };
  for (const secret of SECRETS) {
    const malformed: Way[] = ['keyword/value', 'URL with a bad port'];
    if (breaksUrls(secret)) malformed.push('URL as typed');
    for (const way of malformed) add(secret, way, 'malformed');
    const readable: Way[] = ['URL percent-encoded', 'password= parameter', 'PGPASSWORD', 'OpenClone_LogDB_Password'];
    if (!breaksUrls(secret)) readable.push('URL as typed');
    for (const way of readable) add(secret, way, undefined);
  }
  return all;
}

function pick<T>(list: T[], turn: number): T {
  return list[turn % list.length] as T;
}

const caseName = ({ entry, way, source, secret, failure }: Case) =>
  `${entry}: ${way}${isString(way) ? ` in ${source}` : ''}, password ${JSON.stringify(secret.password)}, ${failure}`;

const isString = (way: Way) => way !== 'PGPASSWORD' && way !== 'OpenClone_LogDB_Password';

let server: PrivateServer;
let closedPort: number;

beforeAll(async () => {
  server = await startPrivateServer('secrets');
  await queryOnce(server.url, `CREATE ROLE ${USER} LOGIN PASSWORD 'the-right-one'`);
  await queryOnce(server.url, `CREATE DATABASE ${DATABASE} OWNER ${USER}`);
  closedPort = await portNobodyListensOn();
});
afterAll(async () => server?.remove());

interface Place {
  host: string;
  port: string;
}

function placeOf(failure: Failure): Place {
  if (failure === 'wrong password') return { host: '127.0.0.1', port: String(server.port) };
  if (failure === 'unknown host') return { host: UNKNOWN_HOST, port: '5432' };
  return { host: '127.0.0.1', port: String(closedPort) };
}

/** libpq's quoting of a keyword value: in single quotes, with ' and \ escaped by \. */
const keywordQuote = (text: string) => `'${text.replace(/[\\']/g, '\\$&')}'`;

function connectionString(way: Way, password: string, { host, port }: Place): string {
  const encoded = encodeURIComponent(password);
  if (way === 'URL as typed') return `postgres://${USER}:${password}@${host}:${port}/${DATABASE}`;
  if (way === 'URL with a bad port') return `postgres://${USER}:${password}@${host}:${port}x/${DATABASE}`;
  if (way === 'URL percent-encoded') return `postgres://${USER}:${encoded}@${host}:${port}/${DATABASE}`;
  if (way === 'password= parameter') return `postgres://${USER}@${host}:${port}/${DATABASE}?password=${encoded}`;
  return `host=${host} port=${port} dbname=${DATABASE} user=${USER} password=${keywordQuote(password)}`;
}

function environment(way: Way, password: string, { host, port }: Place): Record<string, string> {
  if (way === 'PGPASSWORD') {
    return { PGHOST: host, PGPORT: port, PGUSER: USER, PGDATABASE: DATABASE, PGPASSWORD: password };
  }
  return {
    OpenClone_DB_Host: host,
    OpenClone_DB_Port: port,
    OpenClone_LogDB_User: USER,
    OpenClone_LogDB_Name: DATABASE,
    OpenClone_LogDB_Password: password,
  };
}

/**
 * How long a case's program may take: a transport case waits for its worker to start and fail, which
 * on a machine whose cores are busy can take many seconds (within the test's 60 s).
 */
const RUN_TIMEOUT_MS = 50_000;

/** Runs the case's program as a user would, with the password given the case's way. */
function runCase({ entry, way, source, secret, failure }: Case): Promise<Finished> {
  const place = placeOf(failure);
  const given = isString(way) ? connectionString(way, secret.password, place) : undefined;
  const env = given === undefined ? environment(way, secret.password, place) : {};
  if (given !== undefined && source !== 'option') env[source] = given;
  const explicit = given !== undefined && source === 'option' ? given : undefined;
  if (entry === 'transport') {
    const options = { application: 'secrets', ...(explicit === undefined ? {} : { connectionString: explicit }) };
    return runNode(`${FIXTURES}secrets-app.mjs`, [], {
      env: { ...env, FIXTURE_OPTIONS: JSON.stringify(options) },
      timeoutMs: RUN_TIMEOUT_MS,
    });
  }
  const args = [...(entry === 'pipe' ? ['--application', 'secrets'] : [entry])];
  if (explicit !== undefined) args.push('--database-url', explicit);
  return runCli(args, {
    env,
    input: entry === 'pipe' ? '{"level":30,"msg":"one record"}\n' : '',
    timeoutMs: RUN_TIMEOUT_MS,
  });
}

/** Every form of the password (and every part of it a parser may misread) found in the output. */
function leaks(output: string, secret: Secret): string[] {
  let text = output;
  for (const allowed of secret.allowed ?? []) text = text.replaceAll(allowed, '');
  const forms = new Set([
    secret.password,
    encodeURIComponent(secret.password),
    keywordQuote(secret.password).slice(1, -1),
    ...(secret.fragments ?? []),
  ]);
  return [...forms].filter((form) => text.includes(form));
}

function problemOf(failure: Failure, label: string): RegExp {
  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (failure === 'malformed') {
    return new RegExp(`${escaped(label)} is (not a valid PostgreSQL URL|a libpq keyword/value string)`);
  }
  if (failure === 'wrong password') return new RegExp(escaped(`password authentication failed for user "${USER}"`));
  if (failure === 'unknown host') return new RegExp(escaped(`ENOTFOUND ${UNKNOWN_HOST}`));
  return new RegExp(escaped(`ECONNREFUSED 127.0.0.1:${closedPort}`));
}

function sourceLabel({ entry, source }: Case): string {
  if (source !== 'option') return source;
  return entry === 'transport' ? 'connectionString' : '--database-url';
}

describe.concurrent('no error path prints a password (issue 14, item 6)', () => {
  for (const testCase of cases()) {
    it(caseName(testCase), async ({ expect }) => {
      const result = await runCase(testCase);
      const output = `${result.stdout}${result.stderr}`;
      expect(leaks(output, testCase.secret), output).toEqual([]);

      expect(output).toMatch(problemOf(testCase.failure, sourceLabel(testCase)));
      const { host, port } = placeOf(testCase.failure);
      if (testCase.failure === 'malformed') {
        // The connection string is echoed with its password masked: it still says where the database is.
        for (const part of [USER, host, DATABASE]) expect(output).toContain(part);
        if (testCase.entry === 'transport') expect(result.code).not.toBe(0);
        else expect(result.code).toBe(2);
        return;
      }
      expect(output).toContain(`${USER}@${host}:${port}/${DATABASE}`);
      if (testCase.entry === 'transport') {
        // The application's logweaver:error events, not only the worker's stderr.
        expect(result.stdout).toMatch(/^event logweaver:error /m);
        expect(result.stdout).toMatch(problemOf(testCase.failure, ''));
      } else {
        expect(result.code).toBe(1);
      }
    });
  }
});

describe('a mistyped command line (issue 14, item 6)', () => {
  it('masks the password of a URL glued to an unknown flag, which commander quotes whole', async () => {
    const result = await runCli(['--database-ur=postgres://lw_app:k3y@hostpart/dbpart@db.example/lw_logs']);
    expect(result.stderr).toContain("unknown option '--database-ur=postgres://lw_app:***@db.example/lw_logs'");
    expect(leaks(result.stderr, { password: 'k3y@hostpart/dbpart', fragments: ['hostpart', 'dbpart'] })).toEqual([]);
  });

  it('masks the password of a URL given to another flag', async () => {
    const result = await runCli(['runs', '--limit', 'postgres://lw_app:a@b@db.example/lw_logs']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      '--limit must be a whole number from 1 to 10000, got "postgres://lw_app:***@db.example/lw_logs"',
    );
  });
});

describe('errorText (issue 14, item 6)', () => {
  it('masks the passwords this process was given in messages from pg and Node, as given and encoded', () => {
    resolveOptions({ connectionString: 'postgres://app:s3cr%2Ft@db.example/logs' }, { PGPASSWORD: 'env-s3cret' });
    const error = new Error('quoting s3cr/t, s3cr%2Ft and env-s3cret');
    expect(errorText(error)).toBe('quoting ***, *** and ***');
  });

  it('leaves the user, host and database names readable when the password is one of them', () => {
    resolveOptions({ connectionString: 'postgres://postgres:postgres@localhost/postgres' }, {});
    const error = Object.assign(new Error('password authentication failed for user "postgres"'), { code: '28P01' });
    expect(errorText(error)).toBe('password authentication failed for user "postgres" (28P01)');
  });
});

function portNobodyListensOn(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
