/**
 * A TCP proxy in front of PostgreSQL that produces an ambiguous commit: after the client's first
 * COPY, it forwards the COMMIT that follows to the server and then cuts the client off, so the
 * server commits but the client never hears. Every later connection passes untouched.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface SabotageProxy {
  port: number;
  /** Resolves once a COMMIT has been cut off. */
  sabotaged: Promise<void>;
  close(): Promise<void>;
}

const COPY_DONE = 0x63; // 'c'
const QUERY = 0x51; // 'Q'

export function startSabotageProxy(host: string, port: number): Promise<SabotageProxy> {
  let done = false;
  let markSabotaged: () => void = () => undefined;
  const sabotaged = new Promise<void>((resolve) => (markSabotaged = resolve));
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const server = connect(port, host);
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    server.on('data', (chunk) => client.destroyed || client.write(chunk));
    server.on('close', () => client.destroy());
    client.on('close', () => setTimeout(() => server.destroy(), 1_000)); // let the server finish the COMMIT
    let pending = Buffer.alloc(0);
    let startup = true;
    let copied = false;
    client.on('data', (chunk) => {
      if (done) {
        server.write(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      let offset = 0;
      for (;;) {
        if (startup) {
          if (pending.length - offset < 4 || pending.length - offset < pending.readInt32BE(offset)) break;
          offset += pending.readInt32BE(offset);
          startup = false;
          continue;
        }
        if (pending.length - offset < 5) break;
        const type = pending[offset] as number;
        const length = pending.readInt32BE(offset + 1);
        if (pending.length - offset < 1 + length) break;
        const body = pending.subarray(offset + 5, offset + 1 + length).toString('utf8');
        offset += 1 + length;
        if (type === COPY_DONE) copied = true;
        if (copied && type === QUERY && body.startsWith('COMMIT')) {
          server.write(pending.subarray(0, offset));
          done = true;
          client.destroy();
          markSabotaged();
          return;
        }
      }
      server.write(pending.subarray(0, offset));
      pending = pending.subarray(offset);
    });
  });
  return new Promise((resolve) => {
    proxy.listen(0, '127.0.0.1', () => {
      const address = proxy.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        sabotaged,
        close: () =>
          new Promise((closed) => {
            for (const socket of sockets) socket.destroy();
            proxy.close(() => closed());
          }),
      });
    });
  });
}
