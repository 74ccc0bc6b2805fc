/**
 * The viewer's volume chart: matching rows per time bucket and level, counted by the server.
 *
 * Bounded like every other read: the chart counts the rows of at most HISTOGRAM_IDS ids of the
 * primary key. The ids of the time range are found by binary search on log_id (a few dozen probes
 * of the primary key, on both table shapes, since log ids grow with time); when the range holds more
 * ids than that, the chart covers its newest HISTOGRAM_IDS ids and says so (`truncated`). The time
 * conditions stay in the query as well, so rows whose timestamps lie outside the range (a spool
 * replayed late) are not counted, and on the package's table the BRIN index on "timestamp" can narrow
 * the scan further.
 */
import type pg from 'pg';
import { filterConditions, Parameters, whereClause } from './query.js';
import type { Filters } from './options.js';
import type { ReadContext } from './reader.js';

/** The most ids one chart counts: 1,000,000 rows are counted in about 200 ms here (bench/read.mjs). */
export const HISTOGRAM_IDS = 1_000_000;

/** Bucket widths a person can read off an axis, from a second to a week. */
const WIDTHS_MS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
].map((seconds) => seconds * 1000);

export interface HistogramBucket {
  /** Epoch milliseconds of the bucket's start. */
  start: number;
  /** Rows per level. */
  levels: Record<string, number>;
  /** The lowest and highest log_id counted in it: where "jump there" starts. */
  first: number;
  last: number;
}

export interface Histogram {
  /** Epoch milliseconds: the chart's start (aligned to a bucket) and end. */
  from: number;
  to: number;
  bucketMs: number;
  /** The non-empty buckets, oldest first. */
  buckets: HistogramBucket[];
  /** The range held more than HISTOGRAM_IDS ids: only the newest were counted. */
  truncated: boolean;
}

interface IdWindow {
  low: number;
  high: number;
  truncated: boolean;
}

interface Probe {
  id: number;
  time: Date;
}

/** The first row at or above an id (undefined above the last row): one probe of the primary key. */
async function rowAtOrAbove(client: pg.ClientBase, context: ReadContext, id: number): Promise<Probe | undefined> {
  const result = await client.query<{ log_id: string; timestamp: Date }>(
    `SELECT log_id, "timestamp" FROM ${context.shape.qualified} WHERE log_id >= $1::bigint ORDER BY log_id LIMIT 1`,
    [id],
  );
  const row = result.rows[0];
  return row ? { id: Number(row.log_id), time: row.timestamp } : undefined;
}

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

/** The ids of the filters' time range, cut to the newest HISTOGRAM_IDS. */
async function idWindow(client: pg.ClientBase, context: ReadContext, filters: Filters): Promise<IdWindow> {
  const ids = await tableIds(client, context);
  const whole = { low: ids.min, high: ids.max + 1 };
  const low = filters.since ? await firstIdAtOrAfter(client, context, filters.since, whole) : ids.min;
  const end = filters.until ? new Date(filters.until.getTime() + 1) : undefined;
  const high = end ? (await firstIdAtOrAfter(client, context, end, whole)) - 1 : ids.max;
  if (high - low + 1 <= HISTOGRAM_IDS) return { low, high, truncated: false };
  return { low: high - HISTOGRAM_IDS + 1, high, truncated: true };
}

/** The chart's time span: the filters' range, or the times of the window's first and last rows. */
async function timeSpan(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  window: IdWindow,
): Promise<{ from: number; to: number } | undefined> {
  const first = await rowAtOrAbove(client, context, window.low);
  const last = await lastRowAtOrBelow(client, context, window.high);
  if (!first || !last || first.id > window.high) return undefined;
  const from = filters.since && !window.truncated ? filters.since.getTime() : first.time.getTime();
  const to = filters.until ? filters.until.getTime() + 1 : last.time.getTime() + 1;
  return { from: Math.min(from, to - 1), to };
}

async function lastRowAtOrBelow(client: pg.ClientBase, context: ReadContext, id: number): Promise<Probe | undefined> {
  const result = await client.query<{ log_id: string; timestamp: Date }>(
    `SELECT log_id, "timestamp" FROM ${context.shape.qualified} WHERE log_id <= $1::bigint ORDER BY log_id DESC LIMIT 1`,
    [id],
  );
  const row = result.rows[0];
  return row ? { id: Number(row.log_id), time: row.timestamp } : undefined;
}

/**
 * Bars are counted in fine bins first (at most FINE_BINS over the range), then joined into readable
 * buckets around the rows found. A fine bin's width is one of FINE_UNITS, chosen so that every
 * readable width a chart would use with it is a whole number of fine bins.
 */
const FINE_BINS = 1000;
const FINE_UNITS_MS = [1, 5, 15, 60, 300, 900, 3600, 10_800, 86_400].map((seconds) => seconds * 1000);

function fineWidth(spanMs: number): number {
  return (
    FINE_UNITS_MS.find((unit) => spanMs / unit <= FINE_BINS) ?? (FINE_UNITS_MS[FINE_UNITS_MS.length - 1] as number)
  );
}

/** The narrowest readable width, a multiple of `unit`, that draws the span in at most `buckets` bars. */
export function bucketWidth(spanMs: number, buckets: number, unit = 1000): number {
  const widths = WIDTHS_MS.filter((width) => width % unit === 0);
  return widths.find((width) => spanMs / width <= buckets) ?? (widths[widths.length - 1] as number);
}

interface CountRow {
  bin: Date;
  level: string;
  rows: number;
  first: string;
  last: string;
}

/**
 * Rows per bucket and level: one aggregate over the id window, with every filter. date_bin works on
 * timestamps directly (extract(epoch) would make every row a numeric); JIT is off because compiling
 * the expressions costs more than it saves on a million rows.
 */
async function countBuckets(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  window: IdWindow,
  axis: { from: number; to: number; width: number },
): Promise<CountRow[]> {
  const params = new Parameters();
  const conditions = filterConditions(filters, context.shape, params);
  conditions.push(`log_id >= ${params.add(window.low)}::bigint AND log_id <= ${params.add(window.high)}::bigint`);
  const from = params.add(new Date(axis.from));
  conditions.push(
    `"timestamp" >= ${from}::timestamptz AND "timestamp" < ${params.add(new Date(axis.to))}::timestamptz`,
  );
  // Bins start at multiples of the width since the epoch, so that readable buckets are unions of them.
  const stride = `make_interval(secs => ${params.add(axis.width / 1000)}::float8)`;
  const bin = `date_bin(${stride}, "timestamp", timestamptz '1970-01-01 00:00:00+00')`;
  await client.query('BEGIN READ ONLY');
  try {
    await client.query('SET LOCAL jit = off');
    const result = await client.query<CountRow>(
      `SELECT ${bin} AS bin, level, count(*)::int AS rows, min(log_id) AS first, max(log_id) AS last
         FROM ${context.shape.qualified} ${whereClause(conditions)} GROUP BY 1, 2`,
      params.values,
    );
    await client.query('COMMIT');
    return result.rows;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Joins the fine counts into buckets of `width` (a multiple of the fine width; both aligned to the epoch). */
function foldBuckets(rows: CountRow[], width: number): HistogramBucket[] {
  const buckets = new Map<number, HistogramBucket>();
  for (const row of rows) {
    const start = Math.floor(row.bin.getTime() / width) * width;
    const bucket = buckets.get(start) ?? { start, levels: {}, first: Number(row.first), last: Number(row.last) };
    bucket.levels[row.level] = (bucket.levels[row.level] ?? 0) + row.rows;
    bucket.first = Math.min(bucket.first, Number(row.first));
    bucket.last = Math.max(bucket.last, Number(row.last));
    buckets.set(start, bucket);
  }
  return [...buckets.values()].sort((a, b) => a.start - b.start);
}

/**
 * The chart's span: the range asked for where given, else from the first to the last matching row
 * (a filter to one run shows that run across the chart, not squeezed into one bar of the table's life).
 */
function chartSpan(rows: CountRow[], filters: Filters, fine: number): { from: number; to: number } {
  const bins = rows.map((row) => row.bin.getTime());
  const from = filters.since?.getTime() ?? Math.min(...bins);
  const to = filters.until ? filters.until.getTime() + 1 : Math.max(...bins) + fine;
  return { from, to: Math.max(to, from + 1) };
}

export async function readHistogram(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  buckets: number,
): Promise<Histogram> {
  const window = await idWindow(client, context, filters);
  const span = window.high >= window.low ? await timeSpan(client, context, filters, window) : undefined;
  const empty = { from: 0, to: 0, bucketMs: 1000, buckets: [], truncated: window.truncated };
  if (!span) return empty;
  const fine = fineWidth(span.to - span.from);
  const rows = await countBuckets(client, context, filters, window, { ...span, width: fine });
  if (rows.length === 0) return { ...empty, from: span.from, to: span.to };
  const shown = chartSpan(rows, filters, fine);
  const width = bucketWidth(shown.to - shown.from, buckets, fine);
  const from = Math.floor(shown.from / width) * width;
  // The axis ends at a bucket's edge, so that every bar is as wide as the others.
  const to = Math.max(Math.ceil(shown.to / width) * width, from + width);
  return { from, to, bucketMs: width, buckets: foldBuckets(rows, width), truncated: window.truncated };
}
