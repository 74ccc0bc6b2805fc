export interface PrivateServer {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** Holds the data directory and the socket. */
  directory: string;
  start(): Promise<void>;
  /** Fast shutdown; the data is kept for start(). */
  stop(): Promise<void>;
  /** Immediate shutdown, as after a crash: the next start() recovers from the WAL. */
  stopImmediately(): Promise<void>;
  remove(): Promise<void>;
}

export function startPrivateServer(label: string, options?: { extraFlags?: string[] }): Promise<PrivateServer>;
