/**
 * Every read runs in a read-only REPEATABLE READ transaction that sets its own statement timeout.
 *
 * Not a startup parameter, nor a session SET: a pooler in transaction mode (PgBouncer with its stock
 * settings) refuses the first and would lend the second's server connection to other clients. One
 * snapshot per transaction also keeps the statements of one answer (a page and its follow cursor,
 * the runs and their counts) consistent with each other.
 */
import type pg from 'pg';
import { inTransaction } from '../transaction.js';

/** Every read is a bounded page; one that takes longer than this is reported, not waited for. */
export const READ_STATEMENT_TIMEOUT_MS = 30_000;

const BEGIN = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = ${READ_STATEMENT_TIMEOUT_MS}`;

/** Clients inside readOnly(): nested calls join the transaction already open. */
const open = new WeakSet<pg.ClientBase>();

export async function readOnly<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  if (open.has(client)) return work();
  open.add(client);
  try {
    return await inTransaction(client, BEGIN, work);
  } finally {
    open.delete(client);
  }
}
