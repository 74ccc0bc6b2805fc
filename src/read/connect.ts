/**
 * Connections of the reading commands: the writer's connection settings, a name that shows in
 * pg_stat_activity, and a connect timeout; each read sets its statement timeout (read-only.ts), so
 * that a slow query fails with a message instead of hanging. Connection failures name the database
 * (never its password), as the writer's do.
 */
import pg from 'pg';
import { errorText, PrintableError } from '../errors.js';
import type { ReadTarget } from './options.js';
import { tableNameOf } from '../write/ddl.js';
import { detectShape } from './table.js';
import type { ReadContext } from './reader.js';
import { readOnly } from './read-only.js';
import { connectClient } from '../tls.js';

const CONNECT_TIMEOUT_MS = 10_000;

export function readerConfig(target: ReadTarget, purpose: string): pg.ClientConfig {
  return {
    ...target.connection.config,
    password: target.connection.config.password,
    // Poolers accept application_name; no other startup parameter (read-only.ts).
    application_name: `logweaver-pino ${purpose}`,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
  };
}

/**
 * Adds where the database is to a failure, so the person knows which settings to look at. The
 * failure's text is masked here, once: the description names the user and database as they are.
 */
export function withDatabase(error: unknown, target: ReadTarget): Error {
  return new PrintableError(`${errorText(error)}, connecting as ${target.connection.description}`, { cause: error });
}

export interface OpenReader {
  client: pg.Client;
  context: ReadContext;
  /** pg's `ssl` option that connected (for sslmode allow and prefer, the attempt that worked). */
  ssl: pg.ClientConfig['ssl'];
  close(): Promise<void>;
}

/** Connects and learns the table's shape; the caller closes. */
export async function openReader(target: ReadTarget, purpose: string): Promise<OpenReader> {
  // A dropped connection surfaces as the failure of the query in flight; without a listener the
  // 'error' event would end the process with a stack trace instead.
  const ignoreErrors = (client: pg.Client) => client.on('error', () => undefined);
  const { client, ssl } = await connectClient(readerConfig(target, purpose), target.connection.tls, ignoreErrors).catch(
    (error: unknown) => {
      throw withDatabase(error, target);
    },
  );
  try {
    const shape = await readOnly(client, () => detectShape(client, tableNameOf(target)));
    const close = () => client.end().catch(() => undefined);
    return { client, context: { shape, timezone: target.timezone }, ssl, close };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw withDatabase(error, target);
  }
}
