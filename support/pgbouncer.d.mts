export interface PrivatePgBouncer {
  /** The server's URL with the host and port replaced by the pooler's. */
  url: string;
  port: number;
  /** Immediate shutdown (SIGTERM): client connections are cut, as in a crash or a redeploy. */
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

/** A PgBouncer in front of the server of `serverUrl` (its user and password), on a free port. */
export function startPgBouncer(serverUrl: string, options?: { poolMode?: string }): Promise<PrivatePgBouncer>;
