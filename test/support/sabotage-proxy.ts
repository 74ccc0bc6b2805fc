/**
 * A TCP proxy in front of PostgreSQL that produces an ambiguous commit (FAULTS #14): after the
 * client's first COPY, it forwards the COMMIT that follows, waits for the server's reply saying it
 * committed, withholds that reply, lets the test look at the database (`whileWithheld`), and only
 * then cuts the client off. So the server has committed before the client can know anything. Every
 * later connection passes untouched.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface SabotageProxy {
  port: number;
  /** Resolves once a COMMIT's reply has been withheld, whileWithheld has run and the client is cut off (rejects if whileWithheld did). */
  sabotaged: Promise<void>;
  close(): Promise<void>;
}

const COPY_DONE = 0x63; // 'c'
const QUERY = 0x51; // 'Q'
const COMMAND_COMPLETE = 0x43; // 'C'

/** The PostgreSQL messages (type byte, length, body) complete in `data` from `offset`; the rest is left. */
function* messages(data: Buffer, offset = 0): Generator<{ type: number; body: string; end: number }> {
  while (data.length - offset >= 5) {
    const end = offset + 1 + data.readInt32BE(offset + 1);
    if (data.length < end) return;
    yield { type: data[offset] as number, body: data.subarray(offset + 5, end).toString('utf8'), end };
    offset = end;
  }
}

export function startSabotageProxy(
  host: string,
  port: number,
  whileWithheld: () => Promise<void> = () => Promise.resolve(),
): Promise<SabotageProxy> {
  let done = false;
  let settle: (error?: Error) => void = () => undefined;
  const sabotaged = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const server = connect(port, host);
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    server.on('close', () => client.destroy());
    client.on('close', () => server.destroy());
    if (done) {
      client.pipe(server);
      server.pipe(client);
      return;
    }
    const cutOff = async () => {
      const failure = await whileWithheld().then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      client.destroy();
      server.destroy();
      settle(failure);
    };
    const forwardToClient = watchForCommitReply(client, cutOff);
    server.on('data', forwardToClient.data);
    client.on(
      'data',
      forwardToServer(server, () => ((done = true), forwardToClient.commitSent())),
    );
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

/**
 * Client to server: everything, message by message, until the COMMIT that follows a COPY has been
 * forwarded; then nothing more (the client waits for its reply, which never comes).
 */
function forwardToServer(server: Socket, onCommit: () => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  let startup = true;
  let copied = false;
  let committed = false;
  return (chunk) => {
    if (committed) return;
    pending = Buffer.concat([pending, chunk]);
    let offset = 0;
    if (startup) {
      // The startup message has no type byte: just its length.
      if (pending.length < 4 || pending.length < pending.readInt32BE(0)) return;
      offset = pending.readInt32BE(0);
      startup = false;
    }
    for (const { type, body, end } of messages(pending, offset)) {
      offset = end;
      if (type === COPY_DONE) copied = true;
      if (copied && type === QUERY && body.startsWith('COMMIT')) {
        committed = true;
        break;
      }
    }
    server.write(pending.subarray(0, offset));
    pending = pending.subarray(offset);
    if (committed) onCommit();
  };
}

/**
 * Server to client: everything until the COMMIT has been sent; after it, the server's answer is
 * withheld, and once it says COMMIT (the transaction is committed on the server), `onCommitted` runs.
 */
function watchForCommitReply(client: Socket, onCommitted: () => Promise<void>) {
  let state: 'forwarding' | 'watching' | 'withheld' = 'forwarding';
  let reply = Buffer.alloc(0);
  return {
    commitSent: () => (state = 'watching'),
    data: (chunk: Buffer) => {
      if (state === 'forwarding' && !client.destroyed) client.write(chunk);
      if (state !== 'watching') return;
      reply = Buffer.concat([reply, chunk]);
      for (const { type, body } of messages(reply)) {
        if (type === COMMAND_COMPLETE && body.startsWith('COMMIT')) {
          state = 'withheld';
          void onCommitted();
          return;
        }
      }
    },
  };
}
