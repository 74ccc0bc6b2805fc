export interface PrivateServer {
  /** Superuser URL of the `postgres` database (on 127.0.0.1, with this server's random password). */
  url: string;
  port: number;
  /** Holds the data directory and the socket; owned by the server's OS user, mode 0700. */
  directory: string;
  start(): Promise<void>;
  /** Fast shutdown; the data is kept for start(). */
  stop(): Promise<void>;
  /** Immediate shutdown, as after a crash: the next start() recovers from the WAL. */
  stopImmediately(): Promise<void>;
  remove(): Promise<void>;
}

export interface PrivateServerOptions {
  /** More `-c name=value` flags for the server. */
  extraFlags?: string[];
  /** The addresses it listens on (default: 127.0.0.1 only); add one to reach it from elsewhere. */
  listenAddresses?: string[];
}

/** A port on 127.0.0.1 that nothing listened on a moment ago. */
export function freePort(): Promise<number>;

export function startPrivateServer(label: string, options?: PrivateServerOptions): Promise<PrivateServer>;
