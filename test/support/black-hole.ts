/**
 * A network black hole (FAULTS #13), built from a network namespace and a veth pair: processes run
 * inside the namespace reach a private PostgreSQL server over the veth link; setting the host's end of
 * the link down makes every packet vanish without a refusal or a reset, as a dead route or a firewall
 * that drops does. Needs root and iproute2 (`ip`), as CI has; it throws, never skips, without them.
 *
 * The namespace comes first, so that the server can listen on the host's end of the link and on
 * 127.0.0.1 only, and admit() lets in only the namespace's end of it.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PrivateServer } from '../../support/private-postgres.mjs';
import { queryOnce } from './database.js';

export interface NetworkNamespace {
  /** The host's end of the link: the server listens here (besides 127.0.0.1), the namespace connects here. */
  serverHost: string;
  /** The command prefix that runs a program inside the namespace. */
  prefix: string[];
  /** Lets the namespace's end of the link in through the server's pg_hba.conf. */
  admit(server: PrivateServer): Promise<void>;
  /** The server's URL as a process inside the namespace reaches it. */
  urlOf(server: PrivateServer): string;
  blackHole(): void;
  restore(): void;
  remove(): void;
}

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`ip ${args.join(' ')} failed (root and iproute2 are needed): ${stderr ?? ''}`, { cause: error });
  }
}

/** A namespace linked to the host by a veth pair; start the server with `listenAddresses` including serverHost. */
export function createNetworkNamespace(): NetworkNamespace {
  const id = Math.random().toString(36).slice(2, 8);
  const name = `lw-${id}`;
  const hostEnd = `lwh${id}`;
  const innerEnd = `lwn${id}`;
  // A /30 in 10.0.0.0/8 picked at random, so parallel runs on one machine do not collide.
  const base = `10.${64 + Math.floor(Math.random() * 128)}.${Math.floor(Math.random() * 256)}`;
  const last = 4 * Math.floor(Math.random() * 63);
  const serverHost = `${base}.${last + 1}`;
  const clientHost = `${base}.${last + 2}`;
  ip('netns', 'add', name);
  try {
    ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', innerEnd);
    ip('link', 'set', innerEnd, 'netns', name);
    ip('addr', 'add', `${serverHost}/30`, 'dev', hostEnd);
    ip('link', 'set', hostEnd, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${clientHost}/30`, 'dev', innerEnd);
    ip('netns', 'exec', name, 'ip', 'link', 'set', innerEnd, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (error) {
    removeNamespace(name, hostEnd);
    throw error;
  }
  return {
    serverHost,
    prefix: ['ip', 'netns', 'exec', name],
    admit: async (server) => {
      appendFileSync(join(server.directory, 'data', 'pg_hba.conf'), `\nhost all all ${clientHost}/32 scram-sha-256\n`);
      await queryOnce(server.url, 'SELECT pg_reload_conf()');
    },
    urlOf: (server) => {
      const url = new URL(server.url);
      url.hostname = serverHost;
      return url.toString();
    },
    blackHole: () => ip('link', 'set', hostEnd, 'down'),
    restore: () => ip('link', 'set', hostEnd, 'up'),
    remove: () => removeNamespace(name, hostEnd),
  };
}

function removeNamespace(name: string, hostEnd: string): void {
  for (const args of [
    ['link', 'del', hostEnd],
    ['netns', 'del', name],
  ]) {
    try {
      ip(...args);
    } catch {
      // already gone
    }
  }
}
