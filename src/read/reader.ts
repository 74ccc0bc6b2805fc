/**
 * Runs the read queries on a connection: pages (keyset on log_id), polls for new rows, one row by
 * id. Shared by `tail`, and the viewer's API, so the terminal and the browser show the same rows.
 *
 * A page, and a poll for new rows, scans at most WINDOW_IDS ids of the primary key. Without this, a filter that matches few
 * rows (a rare word, an old run) makes one query walk the whole table, and PostgreSQL's planner,
 * which assumes matching rows are spread evenly over log_id, often picks exactly that plan. With
 * it, each query costs at most one window; a page that ends at the window's edge returns the rows
 * it found (maybe none) and the window's edge as its `next` cursor, and the reader goes on.
 */
import type pg from 'pg';
import { followQuery, initialCursor, nextCursor, type FollowCursor } from './follow.js';
import type { Filters } from './options.js';
import { pageQuery, rowByIdQuery, WINDOW_IDS, type PageRequest, type SqlQuery } from './query.js';
import { toStoredRow, type RawRow, type StoredRow } from './rows.js';
import type { TableShape } from './table.js';
import { readOnly } from './read-only.js';

export { WINDOW_IDS };

/** The table's lowest and highest log_id (0 and 0 when empty). */
interface IdRange {
  min: number;
  max: number;
}

export interface ReadContext {
  shape: TableShape;
  timezone: string;
}

export interface Page {
  rows: StoredRow[];
  /** The cursor of the next page; undefined at the end. */
  next: number | undefined;
}

interface FirstPage extends Page {
  /** Where following new rows starts, consistent with this page. */
  follow: FollowCursor;
}

interface Poll {
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
  known?: IdRange,
): Promise<Page> {
  const range = known ?? (await idRange(client, context));
  const cursor = request.cursor ?? (request.order === 'desc' ? range.max + 1 : range.min - 1);
  const bound = request.order === 'desc' ? cursor - WINDOW_IDS : cursor + WINDOW_IDS;
  const lastWindow = request.order === 'desc' ? bound <= range.min : bound >= range.max;
  const rows = await rowsOf(client, context, pageQuery(context.shape, filters, { ...request, cursor, bound }));
  const last = rows[rows.length - 1];
  if (rows.length >= request.limit && last) return { rows, next: last.log_id };
  return { rows, next: lastWindow ? undefined : bound };
}

/** A page and the follow cursor, from one snapshot, so that following misses nothing after it. */
export async function readFirstPage(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  request: PageRequest,
): Promise<FirstPage> {
  return inOneSnapshot(client, context, async (snapshot, range) => ({
    ...(await readPage(client, context, filters, request, range)),
    follow: initialCursor(range.max, snapshot),
  }));
}

/** The last `limit` matching rows, newest first, going through as many windows as it takes (tail). */
export async function readLastRows(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  request: { limit: number; withRecord: boolean },
): Promise<{ rows: StoredRow[]; follow: FollowCursor }> {
  return inOneSnapshot(client, context, async (snapshot, range) => {
    const rows: StoredRow[] = [];
    let cursor: number | undefined;
    while (rows.length < request.limit) {
      const limit = request.limit - rows.length;
      const page = await readPage(client, context, filters, { ...request, order: 'desc', cursor, limit }, range);
      rows.push(...page.rows);
      if (page.next === undefined) break;
      cursor = page.next;
    }
    return { rows, follow: initialCursor(range.max, snapshot) };
  });
}

/** Rows committed since the cursor's snapshot, oldest first, at most `limit`. */
export async function pollNewRows(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  cursor: FollowCursor,
  page: { limit: number; withRecord: boolean },
): Promise<Poll> {
  return inOneSnapshot(client, context, async (snapshot, range) => {
    const rows = await rowsOf(client, context, followQuery(context.shape, filters, cursor, snapshot, page));
    const ids = rows.map((row) => row.log_id);
    return { rows, cursor: nextCursor(cursor, ids, page.limit, range.max, snapshot) };
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

/** min and max of the primary key: two index probes. */
async function idRange(client: pg.ClientBase, context: ReadContext): Promise<IdRange> {
  const result = await client.query<{ min: string | null; max: string | null }>(
    `SELECT min(log_id) AS min, max(log_id) AS max FROM ${context.shape.qualified}`,
  );
  const row = result.rows[0];
  return { min: Number(row?.min ?? 0), max: Number(row?.max ?? 0) };
}

/** A read-only REPEATABLE READ transaction: every statement in `work` sees the same snapshot. */
async function inOneSnapshot<T>(
  client: pg.ClientBase,
  context: ReadContext,
  work: (snapshot: string, range: IdRange) => Promise<T>,
): Promise<T> {
  return readOnly(client, async () => {
    const result = await client.query<{ snapshot: string }>('SELECT txid_current_snapshot()::text AS snapshot');
    return work((result.rows[0] as { snapshot: string }).snapshot, await idRange(client, context));
  });
}
