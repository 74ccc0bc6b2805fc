// FAULTS #26 and #31: the spool through an outage with many retry cycles, a crash in the middle of
// it, logger.flush while the database is away, and a spool directory other users can reach.
// What is checked is what a user would find: rows in the table, files and their modes on disk.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';
import { diskUse } from './support/disk.js';
import { eventually, range, seqs } from './support/records.js';
import { CLI, FIXTURES, cleanEnv, runNode } from './support/spawn.js';

const APP = `${FIXTURES}app.mjs`;
const STEADY = `${FIXTURES}steady.mjs`;
const NOBODY = 65534;
let server: PrivateServer;

beforeAll(async () => {
  server = await startPrivateServer('spool-outage');
});
afterAll(async () => server.remove());

const newSpoolDir = () => mkdtempSync(join(tmpdir(), 'logweaver-spool-outage-'));

function start(args: string[], application: string, spoolDir: string, extra: Record<string, unknown> = {}) {
  const options = { connectionString: server.url, application, ...extra };
  return spawn(process.execPath, args, {
    env: cleanEnv({ FIXTURE_OPTIONS: JSON.stringify(options), LOGWEAVER_SPOOL_DIR: spoolDir }),
  });
}

/** Runs the app once with nothing to log: it delivers what the spool holds, then exits. */
function deliverLeftovers(application: string, spoolDir: string) {
  return runNode(APP, ['natural', '0'], {
    env: {
      FIXTURE_OPTIONS: JSON.stringify({ connectionString: server.url, application }),
      LOGWEAVER_SPOOL_DIR: spoolDir,
    },
  });
}

async function kill(child: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => child.on('close', resolve));
  child.kill('SIGKILL');
  await closed;
}

const spoolFiles = (directory: string) => readdirSync(directory).filter((name) => name.endsWith('.spool'));

function spooledLines(directory: string): number {
  return spoolFiles(directory).reduce(
    (sum, name) => sum + readFileSync(join(directory, name), 'utf8').split('\n').length - 1,
    0,
  );
}

const duplicates = (values: number[]) => values.filter((value, index) => values[index - 1] === value);

async function watchFor(ms: number, look: () => void): Promise<void> {
  for (const until = Date.now() + ms; Date.now() < until;) {
    look();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('#26 an outage with many retry cycles', () => {
  it('#26 outage, retries, SIGKILL, next start: each record stored at most once; du within maxSpoolBytes plus one segment; no file left', async () => {
    const spoolDir = newSpoolDir();
    const cap = 2_000_000;
    await server.stop();
    const app = start(['--expose-gc', STEADY, '3000'], 'cycles', spoolDir, { batchSize: 500, maxSpoolBytes: cap });
    let peak = 0;
    try {
      await watchFor(12_000, () => (peak = Math.max(peak, diskUse(spoolDir))));
    } finally {
      await kill(app);
    }
    await server.start();
    expect(peak).toBeGreaterThan(cap * 0.7); // the outage did fill the spool
    expect(peak).toBeLessThanOrEqual(cap + cap / 8); // one segment is an eighth of the cap
    const next = await deliverLeftovers('cycles', spoolDir);
    expect(next.code).toBe(0);
    const stored = await seqs(server.url, 'cycles');
    expect(duplicates(stored)).toEqual([]);
    expect(stored.length).toBeGreaterThan(3_000);
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('#26 ten lines and a flush during an outage stay one spool file through the retries, and come back once after a SIGKILL', async () => {
    const spoolDir = newSpoolDir();
    await server.stop();
    // The flush makes every retry a write of the ten (without one, a retry only tries to connect).
    const app = start([APP, 'flush-and-wait', '10'], 'ten', spoolDir);
    let most = 0;
    try {
      await eventually(() => spooledLines(spoolDir) === 10);
      // Retries come after 0.25, 0.5, 1, 2 and 4 s: each used to leave a copy of the ten behind.
      await watchFor(8_000, () => (most = Math.max(most, spoolFiles(spoolDir).length)));
      expect(spooledLines(spoolDir)).toBe(10);
    } finally {
      await kill(app);
    }
    await server.start();
    expect(most).toBeLessThanOrEqual(2); // a new copy is written before the old one is removed
    expect((await deliverLeftovers('ten', spoolDir)).code).toBe(0);
    expect(await seqs(server.url, 'ten')).toEqual(range(10));
    expect(readdirSync(spoolDir)).toEqual([]);
  });
});

describe('logger.flush(cb) while the database is down', () => {
  it('calls back once the records are safely in the spool; the next start delivers them once', async () => {
    const spoolDir = newSpoolDir();
    await server.stop();
    const app = start([APP, 'flush-and-wait', '50'], 'flush-down', spoolDir, { flushInterval: 60_000 });
    let stdout = '';
    app.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    try {
      await eventually(() => stdout.includes('flushed'), 20_000);
      expect(stdout).toBe('flushed \n'); // no error
      expect(spooledLines(spoolDir)).toBe(50);
    } finally {
      await kill(app);
    }
    await server.start();
    expect((await deliverLeftovers('flush-down', spoolDir)).code).toBe(0);
    expect(await seqs(server.url, 'flush-down')).toEqual(range(50));
  });
});

describe('#31 another local user and the spool', () => {
  it('#31 spool directories are 0700 and files 0600; a segment another user planted is refused and reported', async () => {
    const spoolDir = join(newSpoolDir(), 'spool');
    await server.stop();
    const down = await runNode(APP, ['natural', '20'], {
      env: {
        FIXTURE_OPTIONS: JSON.stringify({ connectionString: server.url, application: 'private' }),
        LOGWEAVER_SPOOL_DIR: spoolDir,
      },
    });
    await server.start();
    expect(down.code).toBe(0);
    expect(statSync(spoolDir).mode & 0o777).toBe(0o700);
    const files = readdirSync(spoolDir);
    expect(files.length).toBeGreaterThan(0);
    for (const name of files) expect([name, statSync(join(spoolDir, name)).mode & 0o777]).toEqual([name, 0o600]);

    const planted = join(spoolDir, 'left-0000000000000001-0badc0ffee00.spool');
    writeFileSync(planted, `${Date.now()}\t\t{"level":30,"seq":999,"msg":"planted"}\n`);
    chownSync(planted, NOBODY, NOBODY);
    chmodSync(spoolDir, 0o755);
    const up = await deliverLeftovers('private', spoolDir);
    expect(up.code).toBe(0);
    expect(up.stderr).toContain(`the spool file ${planted} belongs to uid ${NOBODY}: refused, not delivered`);
    expect(await seqs(server.url, 'private')).toEqual(range(20));
    expect(statSync(spoolDir).mode & 0o777).toBe(0o700);
  });

  it('#31 a spool directory that belongs to another user is not used, and that is said', async () => {
    const spoolDir = join(newSpoolDir(), 'theirs');
    mkdirSync(spoolDir);
    chownSync(spoolDir, NOBODY, NOBODY);
    const result = await runNode(CLI, ['--database-url', server.url, '--application', 'theirs'], {
      input: '{"level":30,"seq":0,"msg":"kept"}\n',
      env: { LOGWEAVER_SPOOL_DIR: spoolDir },
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `the spool directory ${spoolDir} belongs to uid ${NOBODY}, not to this user: not used`,
    );
    expect(await seqs(server.url, 'theirs')).toEqual([0]);
  });

  it('#31 a user with no home directory gets a private spool directory of a name no one can guess', async () => {
    const [first, second] = [await runAsHomelessUser(0), await runAsHomelessUser(1)];
    const directory = (stderr: string) => /no home directory: spooling to (\S+),/.exec(stderr)?.[1];
    expect(directory(first.stderr)).toMatch(new RegExp(`^${tmpdir()}/logweaver-pino-homeless-[0-9a-f]{8}-\\w{6}$`));
    expect(directory(second.stderr)).not.toBe(directory(first.stderr));
    expect(await seqs(server.url, 'homeless')).toEqual([0, 1]);
  });
});

/**
 * Pipe mode as a service user with no home directory: HOME is `/` (as for daemon accounts). A uid with
 * no passwd entry, where os.homedir() throws, takes the same path; it is not used here because that
 * uid could not read a checkout under a private directory.
 */
function runAsHomelessUser(seq: number): Promise<{ code: number | null; stderr: string }> {
  return runNode(CLI, ['--database-url', server.url, '--application', 'homeless'], {
    input: `{"level":30,"seq":${seq},"msg":"kept"}\n`,
    env: { HOME: '/', XDG_STATE_HOME: undefined, LOGWEAVER_SPOOL_DIR: undefined },
  });
}
