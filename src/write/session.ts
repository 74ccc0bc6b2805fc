/**
 * The writer's connection settings, and what each write transaction sets for itself: the timeouts
 * and the time zone.
 *
 * Nothing is sent as a startup parameter or SET for the session. A pooler in transaction mode
 * (PgBouncer with its stock settings) refuses startup parameters beyond a handful
 * (`unsupported startup parameter: statement_timeout`), and a session SET would stay on a server
 * connection that the pooler then lends to other clients. SET LOCAL lasts until the transaction
 * ends, explicit (BEGIN ... COMMIT) or implicit (the statements of one simple query), and costs no
 * round trip: it travels in the query string of the transaction's first statement.
 */
import pg from 'pg';
import type { ConnectionSettings } from '../connection.js';
import { inTransaction } from '../transaction.js';

// A batch is at most 8 MiB and normally commits in well under a second, so these are generous; they
// are short because the client-side deadline (statement timeout + margin) is also how long a black-holed
// network goes unnoticed: the server's own timeouts cannot reach a client whose packets vanish.
export const STATEMENT_TIMEOUT_MS = 10_000;
export const LOCK_TIMEOUT_MS = 5_000;
const CONNECT_TIMEOUT_MS = 5_000;
/** How much longer than the server's own timeout the client waits before it gives up on a statement. */
const WATCHDOG_MARGIN_MS = 3_000;
/** The client's own deadline for a statement: a black-holed network never answers the server's timeout. */
export const CLIENT_DEADLINE_MS = STATEMENT_TIMEOUT_MS + WATCHDOG_MARGIN_MS;

export function writerConfig(connection: ConnectionSettings): pg.ClientConfig {
  return {
    ...connection.config,
    password: connection.config.password,
    // The one startup parameter beyond pg's defaults that poolers accept (PgBouncer tracks it); the
    // timeouts and the time zone are set per transaction (localSettings).
    application_name: 'logweaver-pino',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: CLIENT_DEADLINE_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
  };
}

/** `SET LOCAL ...` statements, joined by `; `, for the start of every write transaction. */
export function localSettings(timezone: string): string {
  const settings = [
    `SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}`,
    `SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`,
  ];
  // 'system' leaves the server's own TimeZone, as a connection without the setting had before.
  if (timezone !== 'system') settings.push(`SET LOCAL TimeZone = ${pg.escapeLiteral(timezone)}`);
  return settings.join('; ');
}

/** Runs `work` in one transaction that starts with the settings. */
export function withSettings<T>(client: pg.Client, settings: string, work: () => Promise<T>): Promise<T> {
  return inTransaction(client, `BEGIN; ${settings}`, work);
}

/**
 * Processes starting together queue on the package's advisory locks (schema, run numbers), each
 * holder keeping its lock for a few round trips. With sixteen at once on two busy cores that queue
 * outlasted lock_timeout, which is meant for table locks held by DDL, and records waited for a retry
 * past the exit deadline. The queue has its own bound instead.
 */
const LOCK_QUEUE_TIMEOUT_MS = 60_000;

/**
 * Takes a transaction-scoped advisory lock, waiting in the queue up to LOCK_QUEUE_TIMEOUT_MS, then
 * sets the transaction's settings again. One simple query (its statements run with no round trip
 * between them), so the key is quoted as a literal: such a query takes no parameters.
 */
export async function queueForLock(client: pg.Client, key: string, settings: string): Promise<void> {
  const text =
    `SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = ${LOCK_QUEUE_TIMEOUT_MS}; ` +
    `SELECT pg_advisory_xact_lock(hashtextextended(${pg.escapeLiteral(key)}, 0)); ${settings}`;
  // pg reads query_timeout per query (client.js), though its types omit it.
  const query = { text, query_timeout: LOCK_QUEUE_TIMEOUT_MS + WATCHDOG_MARGIN_MS };
  await client.query(query as pg.QueryConfig);
}
