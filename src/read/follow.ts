/**
 * Following new rows without missing any.
 *
 * "log_id > the last id seen" alone loses rows: identity values are handed out before commit, so
 * when two writers COPY at once, the one holding the lower ids may commit after a poll has already
 * seen the other's higher ids. The cursor therefore also keeps the snapshot of the previous poll;
 * each poll returns, besides the rows above `boundary`, the rows in the last LOOKBACK_IDS ids below
 * it whose inserting transaction that snapshot did not see (committed since). Left uncaught: a row
 * whose transaction stayed open while more than LOOKBACK_IDS later ids were written, and a row
 * inserted inside a SAVEPOINT (its xid is a subtransaction's, which a txid_snapshot does not list;
 * neither this package's writer nor LogWeaver inserts log rows in one).
 *
 * Cursor (all three from one REPEATABLE READ snapshot):
 * - boundary: the table's highest log_id the snapshot saw; every row at or below it that matches
 *   and that the snapshot saw has been returned (or deliberately paged past, for the first page);
 * - after: rows at or below it are not looked at (boundary - LOOKBACK_IDS, or the last id returned
 *   when a poll was cut off by its limit and the next one continues it);
 * - snapshot: txid_current_snapshot() as text, `xmin:xmax:xip,...`.
 *
 * A poll scans at most WINDOW_IDS ids above `after`, like a page: the viewer's cursor comes back
 * from the browser, and one with a small `after` would otherwise make a single query walk the
 * table. A poll that stops at the window's edge continues from there, like one cut off by its limit
 * (rows that commit behind a continuing poll are caught only within LOOKBACK_IDS, as above).
 */
import { OptionError, describe } from '../errors.js';
import { Parameters, WINDOW_IDS, filterConditions, selectList, whereClause, type SqlQuery } from './query.js';
import type { Filters } from './options.js';
import type { TableShape } from './table.js';

export interface FollowCursor {
  boundary: number;
  after: number;
  snapshot: string;
}

/** How far below the boundary a late commit is still found (the writer's batches are 2,000 rows). */
const LOOKBACK_IDS = 10_000;

const EPOCH = 2n ** 32n;

export function initialCursor(maxLogId: number, snapshot: string): FollowCursor {
  return { boundary: maxLogId, after: Math.max(0, maxLogId - LOOKBACK_IDS), snapshot };
}

/**
 * The 32-bit xmin of a row as a 64-bit txid, using the current snapshot's xmax for the epoch (rows
 * in the look-back window are recent; an xmin above xmax's low half belongs to the previous epoch).
 */
function xminAsTxid(currentSnapshot: string, params: Parameters): string {
  const xmax = BigInt(currentSnapshot.split(':')[1] as string);
  const base = (xmax / EPOCH) * EPOCH;
  const low = params.add((xmax % EPOCH).toString());
  return `(CASE WHEN xmin::text::bigint > ${low}::bigint THEN ${params.add((base - EPOCH).toString())}::bigint
                ELSE ${params.add(base.toString())}::bigint END + xmin::text::bigint)`;
}

/** Rows above the boundary, and rows below it that the cursor's snapshot did not see; oldest first. */
export function followQuery(
  shape: TableShape,
  filters: Filters,
  cursor: FollowCursor,
  currentSnapshot: string,
  page: { limit: number; withRecord: boolean },
): SqlQuery {
  const params = new Parameters();
  const conditions = filterConditions(filters, shape, params);
  conditions.push(`log_id > ${params.add(cursor.after)}::bigint`);
  conditions.push(`log_id <= ${params.add(windowEdge(cursor))}::bigint`);
  const late = `NOT txid_visible_in_snapshot(${xminAsTxid(currentSnapshot, params)}, ${params.add(cursor.snapshot)}::txid_snapshot)`;
  conditions.push(`(log_id > ${params.add(cursor.boundary)}::bigint OR ${late})`);
  const text = `SELECT ${selectList(shape, page.withRecord)} FROM ${shape.qualified} ${whereClause(conditions)}
    ORDER BY log_id ASC LIMIT ${params.add(page.limit)}`;
  return { text, values: params.values };
}

/** The highest id a poll from this cursor looks at. */
function windowEdge(cursor: FollowCursor): number {
  return cursor.after + WINDOW_IDS;
}

/**
 * After a poll: a full page means more may wait, so the next poll continues this one (same boundary
 * and snapshot, after the last id returned); so does a poll that stopped at its window's edge below
 * the table's highest id. Otherwise everything the current snapshot saw is done.
 */
export function nextCursor(
  cursor: FollowCursor,
  returnedIds: number[],
  limit: number,
  maxLogId: number,
  currentSnapshot: string,
): FollowCursor {
  const last = returnedIds[returnedIds.length - 1];
  if (last !== undefined && returnedIds.length >= limit) return { ...cursor, after: last };
  if (windowEdge(cursor) < maxLogId) return { ...cursor, after: windowEdge(cursor) };
  return initialCursor(Math.max(cursor.boundary, maxLogId), currentSnapshot);
}

/** `boundary.after.snapshot`, for the viewer's API. */
export function encodeCursor(cursor: FollowCursor): string {
  return `${cursor.boundary}.${cursor.after}.${cursor.snapshot}`;
}

export function decodeCursor(token: unknown, source: string): FollowCursor {
  const match =
    typeof token === 'string' ? /^(\d{1,15})\.(\d{1,15})\.(\d{1,20}:\d{1,20}:[\d,]{0,20000})$/.exec(token) : null;
  if (!match || !isSnapshot(match[3] as string)) {
    throw new OptionError(`${source} must be a cursor returned by the viewer's API, got ${describe(token)}`);
  }
  return { boundary: Number(match[1]), after: Number(match[2]), snapshot: match[3] as string };
}

/** txids go through bigint arithmetic (xminAsTxid), so they stay below 2^63. */
const MAX_TXID = 2n ** 63n - 1n;

/**
 * What PostgreSQL accepts as a txid_snapshot (checked here, so that a forged cursor is a 400, not a
 * failed query): 0 < xmin <= xmax, and the in-progress txids ascending within [xmin, xmax).
 */
function isSnapshot(text: string): boolean {
  const [low = '', high = '', list = ''] = text.split(':');
  const xmin = BigInt(low);
  const xmax = BigInt(high);
  const inProgress = list === '' ? [] : list.split(',');
  if (inProgress.includes('')) return false;
  const txids = inProgress.map((txid) => BigInt(txid));
  const ordered = txids.every((txid, index) => txid >= (txids[index - 1] ?? xmin) && txid < xmax);
  return xmin > 0n && xmin <= xmax && xmax <= MAX_TXID && ordered;
}
