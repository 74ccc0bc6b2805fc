/**
 * Runs the read queries on a connection: pages (keyset on log_id), polls for new rows, one row by
 * id. Shared by `tail`, and the viewer's API, so the terminal and the browser show the same rows.
 */
import type pg from 'pg';
import { followQuery, initialCursor, nextCursor, type FollowCursor } from './follow.js';
import type { Filters } from './options.js';
import { pageQuery, rowByIdQuery, type PageRequest, type SqlQuery } from './query.js';
import { toStoredRow, type RawRow, type StoredRow } from './rows.js';
import type { TableShape } from './table.js';

export interface ReadContext {
  shape: TableShape;
  timezone: string;
}

export interface Page {
  rows: StoredRow[];
  /** The cursor of the next page; undefined at the end. */
  next: number | undefined;
}

export interface FirstPage extends Page {
  /** Where following new rows starts, consistent with this page. */
  follow: FollowCursor;
}

export interface Poll {
  rows: StoredRow[];
  cursor: FollowCursor;
}

async function rowsOf(client: pg.ClientBase, context: ReadContext, query: SqlQuery): Promise<StoredRow[]> {
  const result = await client.query<RawRow>(query);
  return result.rows.map((row) => toStoredRow(row, context.timezone));
}

export async function readPage(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  request: PageRequest,
): Promise<Page> {
  const rows = await rowsOf(client, context, pageQuery(context.shape, filters, request));
  const last = rows[rows.length - 1];
  return { rows, next: rows.length >= request.limit && last ? last.log_id : undefined };
}

/** A page and the follow cursor, from one snapshot, so that following misses nothing after it. */
export async function readFirstPage(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  request: PageRequest,
): Promise<FirstPage> {
  return inOneSnapshot(client, context, async (snapshot, maxLogId) => ({
    ...(await readPage(client, context, filters, request)),
    follow: initialCursor(maxLogId, snapshot),
  }));
}

/** Rows committed since the cursor's snapshot, oldest first, at most `limit`. */
export async function pollNewRows(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  cursor: FollowCursor,
  page: { limit: number; withRecord: boolean },
): Promise<Poll> {
  return inOneSnapshot(client, context, async (snapshot, maxLogId) => {
    const rows = await rowsOf(client, context, followQuery(context.shape, filters, cursor, snapshot, page));
    const ids = rows.map((row) => row.log_id);
    return { rows, cursor: nextCursor(cursor, ids, page.limit, maxLogId, snapshot) };
  });
}

export async function readRow(
  client: pg.ClientBase,
  context: ReadContext,
  logId: number,
): Promise<StoredRow | undefined> {
  const [row] = await rowsOf(client, context, rowByIdQuery(context.shape, logId));
  return row;
}

/** A read-only REPEATABLE READ transaction: every statement in `work` sees the same snapshot. */
async function inOneSnapshot<T>(
  client: pg.ClientBase,
  context: ReadContext,
  work: (snapshot: string, maxLogId: number) => Promise<T>,
): Promise<T> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const result = await client.query<{ snapshot: string; max: string | null }>(
      `SELECT txid_current_snapshot()::text AS snapshot, (SELECT max(log_id) FROM ${context.shape.qualified}) AS max`,
    );
    const first = result.rows[0] as { snapshot: string; max: string | null };
    const value = await work(first.snapshot, Number(first.max ?? 0));
    await client.query('COMMIT');
    return value;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
