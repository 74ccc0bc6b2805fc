/**
 * Where a time range lies in the id space: log ids grow with time, so a binary search on log_id (one
 * primary-key probe per step, about twenty for a million ids) finds the ids of a time range on any
 * table shape without scanning it.
 */
import type pg from 'pg';
import type { Filters } from './options.js';
import type { ReadContext } from './reader.js';

export interface IdRange {
  low: number;
  high: number;
}

interface Probe {
  id: number;
  time: Date;
}

/** The nearest row at or above an id (`up`), or at or below it: one probe of the primary key. */
async function nearestRow(
  client: pg.ClientBase,
  context: ReadContext,
  id: number,
  up: boolean,
): Promise<Probe | undefined> {
  const [compare, order] = up ? ['>=', 'ASC'] : ['<=', 'DESC'];
  const result = await client.query<{ log_id: string; timestamp: Date }>(
    `SELECT log_id, "timestamp" FROM ${context.shape.qualified} WHERE log_id ${compare} $1::bigint ORDER BY log_id ${order} LIMIT 1`,
    [id],
  );
  const row = result.rows[0];
  return row ? { id: Number(row.log_id), time: row.timestamp } : undefined;
}

/** The first row at or above an id (undefined above the last row). */
export const rowAtOrAbove = (client: pg.ClientBase, context: ReadContext, id: number) =>
  nearestRow(client, context, id, true);

/** The last row at or below an id (undefined below the first row). */
export const lastRowAtOrBelow = (client: pg.ClientBase, context: ReadContext, id: number) =>
  nearestRow(client, context, id, false);

/**
 * The lowest id at or above which every row is at or after `time` (ids grow with time): a binary
 * search of the id space, one primary-key probe per step, about 20 for a million ids.
 */
async function firstIdAtOrAfter(
  client: pg.ClientBase,
  context: ReadContext,
  time: Date,
  range: { low: number; high: number },
): Promise<number> {
  let { low, high } = range;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    const probe = await rowAtOrAbove(client, context, middle);
    if (!probe || probe.time >= time) high = middle;
    else low = probe.id + 1;
  }
  return low;
}

async function tableIds(client: pg.ClientBase, context: ReadContext): Promise<{ min: number; max: number }> {
  const result = await client.query<{ min: string | null; max: string | null }>(
    `SELECT min(log_id) AS min, max(log_id) AS max FROM ${context.shape.qualified}`,
  );
  return { min: Number(result.rows[0]?.min ?? 0), max: Number(result.rows[0]?.max ?? 0) };
}

/** The ids of the filters' time range (the whole table without one). */
export async function idRangeOf(client: pg.ClientBase, context: ReadContext, filters: Filters): Promise<IdRange> {
  const ids = await tableIds(client, context);
  const whole = { low: ids.min, high: ids.max + 1 };
  const low = filters.since ? await firstIdAtOrAfter(client, context, filters.since, whole) : ids.min;
  const end = filters.until ? new Date(filters.until.getTime() + 1) : undefined;
  const high = end ? (await firstIdAtOrAfter(client, context, end, whole)) - 1 : ids.max;
  return { low, high };
}
