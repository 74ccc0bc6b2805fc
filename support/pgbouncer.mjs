/**
 * A private PgBouncer (Debian's package) in front of a private PostgreSQL server, on a free port:
 * transaction mode and otherwise the settings a stock install has, so the tests meet what users meet
 * (issue 10). As root it runs as the postgres OS user: PgBouncer refuses to run as root.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './private-postgres.mjs';

const BINARIES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'];

/**
 * The pgbouncer binary. On a fresh machine, as root with apt (Debian, as CI), it installs Debian's
 * package first, so that the README's test command needs no step by hand; elsewhere it says how.
 */
function pgbouncerBinary() {
  const found = () => BINARIES.find((path) => existsSync(path));
  if (found() || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return found();
  const install = () => execFileSync('apt-get', ['install', '-y', 'pgbouncer'], { stdio: 'ignore' });
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'ignore' }); // a fresh machine's package lists may be empty
    install();
  }
  return found();
}

/** pool_mode, and the one line a stock Debian pgbouncer.ini sets beyond the defaults. */
function config(directory, port, serverPort, poolMode) {
  return `[databases]
* = host=127.0.0.1 port=${serverPort}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir = ${directory}
auth_type = md5
auth_file = ${join(directory, 'userlist.txt')}
logfile = ${join(directory, 'pgbouncer.log')}
pidfile = ${join(directory, 'pgbouncer.pid')}
pool_mode = ${poolMode}
ignore_startup_parameters = extra_float_digits
`;
}

/** @returns {Promise<import('./pgbouncer.mjs').PrivatePgBouncer>} */
export async function startPgBouncer(serverUrl, { poolMode = 'transaction' } = {}) {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error('pgbouncer is not installed: apt-get install -y pgbouncer (as root the tests do it)');
  const server = new URL(serverUrl);
  const directory = await mkdtemp(join(tmpdir(), 'logweaver-pgbouncer-'));
  const port = await freePort();
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  await writeFile(join(directory, 'userlist.txt'), `"${user}" "${password}"\n`, { mode: 0o600 });
  await writeFile(join(directory, 'pgbouncer.ini'), config(directory, port, Number(server.port), poolMode));
  const owner = postgresOwner();
  if (owner) {
    for (const name of ['', 'userlist.txt', 'pgbouncer.ini']) await chown(join(directory, name), owner.uid, owner.gid);
  }
  let child;
  const start = async () => {
    child = spawn(binary, [join(directory, 'pgbouncer.ini')], { stdio: 'ignore', ...owner });
    await waitForPort(port, child);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise((resolve) => {
      running.once('exit', resolve);
      running.kill('SIGTERM');
    });
  };
  await start();
  const url = new URL(serverUrl);
  url.port = String(port);
  return {
    url: url.toString(),
    port,
    stop,
    start,
    remove: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function postgresOwner() {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Resolves once the port accepts connections; rejects if the process exits first. */
async function waitForPort(port, child) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with code ${child.exitCode}`);
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`pgbouncer did not listen on port ${port} within 10 s`);
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
