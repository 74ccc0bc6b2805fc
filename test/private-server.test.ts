// The private servers tests start (support/private-postgres.mjs, issue 14 C): no one else on the
// machine may reach them, read their files or plant anything in their directory.
import { statSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';

let server: PrivateServer;
beforeAll(async () => {
  server = await startPrivateServer('private');
});
afterAll(async () => server?.remove());

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('a private PostgreSQL server', () => {
  it('issue 14 C: its directory is its own, mode 0700, and its superuser password is not a well-known one', () => {
    const directory = statSync(server.directory);
    expect(directory.mode & 0o777).toBe(0o700);
    if (process.getuid?.() === 0) expect(directory.uid).not.toBe(0); // the postgres OS user's, not root's
    expect(new URL(server.url).password).not.toBe('postgres');
    expect(new URL(server.url).password.length).toBeGreaterThanOrEqual(16);
  });

  it("issue 14 C: it listens on 127.0.0.1 only, not on the machine's other addresses", async () => {
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((address) => address !== undefined && address.family === 'IPv4' && !address.internal)
      .map((address) => address?.address as string);
    expect(others.length).toBeGreaterThan(0);
    expect(await accepts('127.0.0.1', server.port)).toBe(true);
    for (const address of others) expect(await accepts(address, server.port)).toBe(false);
  });
});
