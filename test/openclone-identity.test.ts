// Issue 15 item 4: the machine name. LogWeaver stores the reverse DNS name of its address; where
// OpenClone's variables say where the database is, logweaver-pino does the same, falling back to the
// hostname, and start-up never fails or waits long on the look-up.
import { promises as dns } from 'node:dns';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reverseDnsName } from '../src/identity.js';
import { openCloneDatabase, type OpenCloneDatabase } from './support/openclone.js';
import { runCli } from './support/spawn.js';

let openClone: OpenCloneDatabase;

beforeAll(async () => {
  openClone = await openCloneDatabase('openclone_identity');
});
afterAll(async () => openClone.drop());

/** OpenClone's own variables, naming the test database and its application role. */
function openCloneVariables(): Record<string, string> {
  const url = new URL(openClone.url);
  return {
    OpenClone_DB_Host: url.hostname,
    OpenClone_DB_Port: url.port || '5432',
    OpenClone_LogDB_Name: url.pathname.slice(1),
    OpenClone_LogDB_User: openClone.role,
    OpenClone_LogDB_Password: 'app-pw',
  };
}

/** Writes one line as `application` and returns the machine_name stored. */
async function storedMachineName(application: string, args: string[], env: Record<string, string>): Promise<string> {
  const result = await runCli(['--application', application, ...args], { input: 'one line\n', env });
  expect(result.code).toBe(0);
  const rows = await openClone.db.query<{ machine_name: string }>(
    'SELECT DISTINCT machine_name FROM log WHERE application_name = $1',
    [application],
  );
  expect(rows).toHaveLength(1);
  return rows[0]?.machine_name as string;
}

describe('machine_name with OpenClone variables', () => {
  it('is the reverse DNS name of the IP address, as LogWeaver stores it', async () => {
    const { hostname: expected } = await dns.lookupService('127.0.0.1', 0);
    expect(await storedMachineName('reverse', ['--ip-address', '127.0.0.1'], openCloneVariables())).toBe(expected);
  });

  it('is the hostname when the address has no name (192.0.2.1 is reserved for documentation)', async () => {
    expect(await storedMachineName('no-name', ['--ip-address', '192.0.2.1'], openCloneVariables())).toBe(hostname());
  });

  it('is --machine-name when given', async () => {
    const args = ['--ip-address', '127.0.0.1', '--machine-name', 'gpu-box'];
    expect(await storedMachineName('given', args, openCloneVariables())).toBe('gpu-box');
  });

  it('is the hostname when the database comes from elsewhere (DATABASE_URL)', async () => {
    const env = { DATABASE_URL: openClone.url };
    expect(await storedMachineName('elsewhere', ['--ip-address', '127.0.0.1'], env)).toBe(hostname());
  });
});

describe('reverseDnsName', () => {
  it('gives the hostname, within its time bound, when the look-up never answers', async () => {
    const started = Date.now();
    expect(await reverseDnsName('10.0.0.5', 100, () => undefined)).toBe(hostname());
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives the hostname for a look-up error and for an address that is not one', async () => {
    expect(await reverseDnsName('10.0.0.5', 1_000, (_, __, callback) => callback(new Error('ENOTFOUND'), ''))).toBe(
      hostname(),
    );
    expect(await reverseDnsName('not an address')).toBe(hostname());
  });
});
