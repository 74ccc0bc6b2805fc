// Issue 10 item 2, FAULTS.md #28: sslmode with libpq's meanings. Each case connects (or is refused)
// through the package's own connection code, and psql, with the same URL and variables, is the
// oracle: same outcome, and TLS in use or not alike.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';
import { resolveConnection } from '../src/connection.js';
import { errorText } from '../src/errors.js';
import { connectClient } from '../src/tls.js';
import { makeCertificates, type TestCertificates } from './support/certificates.js';
import { queryOnce } from './support/database.js';
import { cleanEnv, runCli } from './support/spawn.js';

let certs: TestCertificates;
let tlsServer: PrivateServer;
let plainServer: PrivateServer;
/** HOME for psql and the package alike: no ~/.postgresql files to change the outcome. */
const home = mkdtempSync(join(tmpdir(), 'logweaver-tls-home-'));

function hbaFile(directory: string): string {
  const path = join(directory, 'pg_hba.conf');
  writeFileSync(
    path,
    [
      'hostssl all certuser 127.0.0.1/32 cert',
      'hostnossl all tlsonly 127.0.0.1/32 reject',
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  return path;
}

beforeAll(async () => {
  const owner = process.getuid?.() === 0 ? postgresIds() : undefined;
  certs = makeCertificates(owner);
  tlsServer = await startPrivateServer('tls', {
    extraFlags: [
      ...['-c', 'ssl=on', '-c', `ssl_cert_file=${certs.serverCert}`, '-c', `ssl_key_file=${certs.serverKey}`],
      ...['-c', `ssl_ca_file=${certs.caCert}`, '-c', `hba_file=${hbaFile(certs.directory)}`],
    ],
  });
  plainServer = await startPrivateServer('plain');
  for (const role of ['certuser', 'tlsonly']) {
    await queryOnce(tlsServer.url, `CREATE ROLE ${role} LOGIN PASSWORD 'role-secret-pw'`);
  }
});
afterAll(async () => {
  await tlsServer?.remove();
  await plainServer?.remove();
});

function postgresIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

interface Case {
  server?: 'tls' | 'plain';
  host?: string;
  user?: string;
  params?: Record<string, string>;
  env?: Record<string, string>;
}

function urlOf(c: Case): string {
  const url = new URL(c.server === 'plain' ? plainServer.url : tlsServer.url);
  if (c.host) url.hostname = c.host;
  if (c.user) {
    url.username = c.user;
    url.password = 'role-secret-pw';
  }
  if (c.user === 'certuser') url.password = '';
  for (const [name, value] of Object.entries(c.params ?? {})) url.searchParams.set(name, value);
  return url.toString();
}

type Outcome = 'tls' | 'plain' | 'refused';

/** What the package does: connected with TLS or without, or refused (with the message). */
async function ours(c: Case): Promise<{ outcome: Outcome; message?: string }> {
  const env = { HOME: home, ...c.env };
  const previousHome = process.env.HOME;
  process.env.HOME = home;
  try {
    const settings = resolveConnection(urlOf(c), 'the test URL', env);
    const config = { ...settings.config, password: settings.config.password, connectionTimeoutMillis: 5000 };
    const { client } = await connectClient(config, settings.tls, (client) => client.on('error', () => undefined));
    try {
      const result = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      return { outcome: result.rows[0]?.ssl ? 'tls' : 'plain' };
    } finally {
      await client.end();
    }
  } catch (error) {
    return { outcome: 'refused', message: errorText(error) };
  } finally {
    process.env.HOME = previousHome;
  }
}

/** What psql does with the same URL and variables. */
async function psql(c: Case): Promise<Outcome> {
  try {
    const { stdout } = await promisify(execFile)(
      'psql',
      [urlOf(c), '-Atc', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'],
      { env: cleanEnv({ HOME: home, PGCONNECT_TIMEOUT: '5', ...c.env }) },
    );
    return stdout.trim() === 't' ? 'tls' : 'plain';
  } catch {
    return 'refused';
  }
}

const ca = () => certs.caCert;
/** verify-full with the right CA, from the URL or the variables; to 127.0.0.1 unless `host`. */
function verifyFull(from: 'url' | 'env', host?: string): Case {
  return from === 'url'
    ? { host, params: { sslmode: 'verify-full', sslrootcert: ca() } }
    : { host, env: { PGSSLMODE: 'verify-full', PGSSLROOTCERT: ca() } };
}
const other = () => certs.otherCaCert;

/** [name, case, what libpq does] */
const CASES: [string, () => Case, Outcome][] = [
  ['disable: no TLS', () => ({ params: { sslmode: 'disable' } }), 'plain'],
  [
    'disable, to a role allowed only over TLS: refused',
    () => ({ user: 'tlsonly', params: { sslmode: 'disable' } }),
    'refused',
  ],
  ['allow: plain first, TLS when plain is refused', () => ({ user: 'tlsonly', params: { sslmode: 'allow' } }), 'tls'],
  ['allow, to a server without TLS: plain', () => ({ server: 'plain', params: { sslmode: 'allow' } }), 'plain'],
  ['prefer: TLS, unverified', () => ({ params: { sslmode: 'prefer' } }), 'tls'],
  ['prefer, to a server without TLS: plain', () => ({ server: 'plain', params: { sslmode: 'prefer' } }), 'plain'],
  ['require, no root certificate: TLS, unverified', () => ({ params: { sslmode: 'require' } }), 'tls'],
  ['require, to a server without TLS: refused', () => ({ server: 'plain', params: { sslmode: 'require' } }), 'refused'],
  ['require with the right CA: as verify-ca', () => ({ params: { sslmode: 'require', sslrootcert: ca() } }), 'tls'],
  [
    'require with a wrong CA: refused, as verify-ca',
    () => ({ params: { sslmode: 'require', sslrootcert: other() } }),
    'refused',
  ],
  ['verify-ca: the chain, not the host name', () => ({ params: { sslmode: 'verify-ca', sslrootcert: ca() } }), 'tls'],
  ['verify-ca with a wrong CA: refused', () => ({ params: { sslmode: 'verify-ca', sslrootcert: other() } }), 'refused'],
  ['verify-ca without a root certificate: refused', () => ({ params: { sslmode: 'verify-ca' } }), 'refused'],
  ['verify-full for the name in the certificate', () => verifyFull('url', 'localhost'), 'tls'],
  ['verify-full for another name: refused', () => verifyFull('url'), 'refused'],
  ['PGSSLMODE and PGSSLROOTCERT: verify-full', () => verifyFull('env', 'localhost'), 'tls'],
  ['PGSSLMODE=verify-full for another name: refused', () => verifyFull('env'), 'refused'],
  ['the URL overrides PGSSLMODE', () => ({ params: { sslmode: 'disable' }, env: { PGSSLMODE: 'require' } }), 'plain'],
  [
    'a client certificate',
    () => ({ user: 'certuser', params: { sslmode: 'require', sslcert: certs.clientCert, sslkey: certs.clientKey } }),
    'tls',
  ],
  [
    'a client certificate from PGSSLCERT and PGSSLKEY',
    () => ({ user: 'certuser', env: { PGSSLMODE: 'require', PGSSLCERT: certs.clientCert, PGSSLKEY: certs.clientKey } }),
    'tls',
  ],
  [
    'no client certificate, where one is required: refused',
    () => ({ user: 'certuser', params: { sslmode: 'require' } }),
    'refused',
  ],
];

describe('sslmode as libpq means it (psql is the oracle)', () => {
  it.each(CASES)('%s', async (_name, make, expected) => {
    const c = make();
    expect(await psql(c)).toBe(expected);
    const result = await ours(c);
    expect(result.outcome, result.message).toBe(expected);
    if (expected === 'refused') {
      const mode = c.params?.sslmode ?? c.env?.PGSSLMODE ?? 'prefer';
      expect(result.message).toContain(`sslmode=${mode}`);
      expect(result.message).not.toContain('role-secret-pw');
    }
  });
});

describe('the CLI over TLS', () => {
  it('FAULTS #28: refused for a name the certificate lacks, naming the mode and the cause; the records kept and delivered once fixed', async () => {
    const env = { HOME: home, LOGWEAVER_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'logweaver-tls-spool-')) };
    const pipe = (url: string, input = '') =>
      runCli(['--database-url', url, '--application', 'over-tls'], { input, env });
    const refused = await pipe(urlOf(verifyFull('url')), '{"level":30,"msg":"encrypted"}\n');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("sslmode=verify-full: Hostname/IP does not match certificate's altnames");
    expect(refused.stderr).toContain('(ERR_TLS_CERT_ALTNAME_INVALID)');
    expect(refused.stderr).toContain('1 records were not delivered');
    expect(refused.stderr).not.toContain(new URL(tlsServer.url).password);
    const fixed = await pipe(urlOf(verifyFull('url', 'localhost')));
    expect(fixed.code).toBe(0);
    const rows = await queryOnce(
      tlsServer.url,
      "SELECT message FROM log WHERE application_name = 'over-tls' AND record IS NOT NULL",
    );
    expect(rows).toEqual([{ message: 'encrypted' }]);
  });

  it('tail: the same refusal, naming the database but no secret', async () => {
    const refused = await runCli(['tail', '--database-url', urlOf(verifyFull('url'))], { env: { HOME: home } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("sslmode=verify-full: Hostname/IP does not match certificate's altnames");
    expect(refused.stderr).toContain('connecting as postgres@127.0.0.1:');
    expect(refused.stderr).not.toContain(new URL(tlsServer.url).password);
  });
});

describe('TLS options, validated at start', () => {
  const url = (query: string) => `postgres://app:s3cret-pw@db.example/logs?${query}`;
  const refusal = (query: string, env: Record<string, string> = {}) => {
    try {
      resolveConnection(url(query), 'connectionString', { HOME: home, ...env });
    } catch (error) {
      return errorText(error);
    }
    return 'accepted';
  };

  it('an unknown sslmode, from the URL or PGSSLMODE, named with where it came from', () => {
    expect(refusal('sslmode=verify')).toBe(
      'sslmode in connectionString must be one of disable, allow, prefer, require, verify-ca, verify-full; got "verify"',
    );
    expect(refusal('', { PGSSLMODE: 'on' })).toBe(
      'PGSSLMODE must be one of disable, allow, prefer, require, verify-ca, verify-full; got "on"',
    );
  });

  it('files that cannot be read, a certificate without its key, a key others may read', () => {
    expect(refusal('sslmode=verify-full&sslrootcert=/nonexistent/ca.crt')).toBe(
      'sslrootcert in connectionString: cannot read "/nonexistent/ca.crt" (ENOENT)',
    );
    expect(refusal(`sslmode=require&sslcert=${certs.clientCert}`)).toBe(
      'sslcert in connectionString is set but sslkey is not: a client certificate needs both',
    );
    const open = join(certs.directory, 'open.key');
    writeFileSync(open, 'not a key', { mode: 0o644 });
    expect(refusal(`sslmode=require&sslcert=${certs.clientCert}&sslkey=${open}`)).toBe(
      `sslkey in connectionString: "${open}" may be read by other users; make it 0600 (chmod 600), as libpq requires`,
    );
  });

  it('the CLI exits 2 on a bad sslmode, naming it, without the password', async () => {
    const result = await runCli(['tail', '--database-url', url('sslmode=verify')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sslmode in --database-url must be one of');
    expect(result.stderr).not.toContain('s3cret-pw');
  });
});
