/**
 * The viewer's volume chart: matching rows per time bucket and level, counted by the server.
 *
 * Bounded like every other read: one request counts the rows of at most HISTOGRAM_IDS ids of the
 * primary key. The ids of the time range are found by binary search on log_id (id-search.ts). A range
 * of more ids is counted newest first, one request per HISTOGRAM_IDS ids, on an axis fixed by the
 * first answer: the answer's `next` is where the page's next request starts (`below`), and the page
 * draws the chart as the parts arrive. The time conditions stay in the query as well, so rows whose
 * timestamps lie outside the range (a spool replayed late) are not counted, and on the package's table
 * the BRIN index on "timestamp" can narrow the scan further.
 */
import type pg from 'pg';
import { idRangeOf, lastRowAtOrBelow, rowAtOrAbove, type IdRange } from './id-search.js';
import { filterConditions, Parameters, whereClause } from './query.js';
import type { Filters } from './options.js';
import type { ReadContext } from './reader.js';
import { readOnly } from './read-only.js';

/** The most ids one request counts: 110-200 ms here for 250,000 rows, with filters (bench/read.mjs). */
export const HISTOGRAM_IDS = 250_000;

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
  /** More ids remain to count, from this one down (`below` of the next request); absent when done. */
  next?: number;
  /** The lowest id of the range (`lowest` of the next request). */
  lowest: number;
}

/** A fixed axis: what the parts of one chart share. */
export interface Axis {
  from: number;
  to: number;
  width: number;
}

/** The chart's time span: the filters' range, or the times of the window's first and last rows. */
async function timeSpan(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  window: IdRange,
): Promise<{ from: number; to: number } | undefined> {
  const first = await rowAtOrAbove(client, context, window.low);
  const last = await lastRowAtOrBelow(client, context, window.high);
  if (!first || !last || first.id > window.high) return undefined;
  const from = filters.since?.getTime() ?? first.time.getTime();
  const to = filters.until ? filters.until.getTime() + 1 : last.time.getTime() + 1;
  return { from: Math.min(from, to - 1), to };
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
  window: IdRange,
  axis: Axis,
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
  // Inside the handler's read-only transaction (read-only.ts), or one of its own when called alone.
  return readOnly(client, async () => {
    await client.query('SET LOCAL jit = off');
    const result = await client.query<CountRow>(
      `SELECT ${bin} AS bin, level, count(*)::int AS rows, min(log_id) AS first, max(log_id) AS last
         FROM ${context.shape.qualified} ${whereClause(conditions)} GROUP BY 1, 2`,
      params.values,
    );
    return result.rows;
  });
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

/** Readable widths only: a part's axis comes back from the page. */
export function isBucketWidth(width: number): boolean {
  return WIDTHS_MS.includes(width);
}

/** The rows of one part of the chart: the HISTOGRAM_IDS ids at and below `below`, not below `lowest`. */
export async function readHistogramPart(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  axis: Axis,
  ids: { below: number; lowest: number },
): Promise<Histogram> {
  const window = { low: Math.max(ids.lowest, ids.below - HISTOGRAM_IDS + 1), high: ids.below };
  const rows = await countBuckets(client, context, filters, window, axis);
  const part = { from: axis.from, to: axis.to, bucketMs: axis.width, buckets: foldBuckets(rows, axis.width) };
  return window.low > ids.lowest
    ? { ...part, next: window.low - 1, lowest: ids.lowest }
    : { ...part, lowest: ids.lowest };
}

/** A range counted in one request: spans the rows found (a filter to one run shows that run across the chart). */
async function wholeChart(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  range: IdRange,
  request: { span: { from: number; to: number }; buckets: number },
): Promise<Histogram> {
  const fine = fineWidth(request.span.to - request.span.from);
  const rows = await countBuckets(client, context, filters, range, { ...request.span, width: fine });
  if (rows.length === 0) return { ...request.span, bucketMs: 1000, buckets: [], lowest: range.low };
  const shown = chartSpan(rows, filters, fine);
  const width = bucketWidth(shown.to - shown.from, request.buckets, fine);
  const from = Math.floor(shown.from / width) * width;
  // The axis ends at a bucket's edge, so that every bar is as wide as the others.
  const to = Math.max(Math.ceil(shown.to / width) * width, from + width);
  return { from, to, bucketMs: width, buckets: foldBuckets(rows, width), lowest: range.low };
}

export async function readHistogram(
  client: pg.ClientBase,
  context: ReadContext,
  filters: Filters,
  buckets: number,
): Promise<Histogram> {
  const range = await idRangeOf(client, context, filters);
  const span = range.high >= range.low ? await timeSpan(client, context, filters, range) : undefined;
  if (!span) return { from: 0, to: 0, bucketMs: 1000, buckets: [], lowest: range.low };
  if (range.high - range.low < HISTOGRAM_IDS) return wholeChart(client, context, filters, range, { span, buckets });
  // Too many ids for one request: an axis over the whole range, counted newest part first.
  const width = bucketWidth(span.to - span.from, buckets);
  const from = Math.floor(span.from / width) * width;
  const axis = { from, to: Math.max(Math.ceil(span.to / width) * width, from + width), width };
  return readHistogramPart(client, context, filters, axis, { below: range.high, lowest: range.low });
}
