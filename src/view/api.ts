/**
 * The viewer's JSON API. Every list is a keyset page of PAGE_ROWS rows (or fewer); parameters are
 * validated by the same parser as the CLI's flags and a bad one is a 400 naming it.
 *
 *   GET /api/meta                 table, time zone, page size, applications and their machines,
 *                                 whether remote images may load
 *   GET /api/rows?filters&order=desc|asc[&cursor=ID | &at=ID]
 *                                 a page: { rows, next } (+ follow, a cursor for /api/follow, on the
 *                                 first page); `at` starts the page at that log_id, inclusive
 *   GET /api/follow?filters&cursor=TOKEN   rows committed since: { rows, cursor }
 *   GET /api/rows/ID              one row with its record (the details view)
 *   GET /api/runs?application&machine&limit   the last runs (no counts), for jumping to one
 *   GET /api/runs/summary?application&machine&limit   the last runs with times, rows per level and
 *                                 how they ended (the runs page)
 *   GET /api/histogram?filters&buckets=N   rows per time bucket and level (the volume chart); when
 *                                 it says `next`: &from&to&bucketMs&below=next&lowest for the next part
 */
import type pg from 'pg';
import { OptionError } from '../errors.js';
import { wholeNumber } from '../options.js';
import { decodeCursor, encodeCursor } from '../read/follow.js';
import { parseFilters, parseLimit, parseLogId, parseOrder, type Filters, type RawFilters } from '../read/options.js';
import type { PageRequest } from '../read/query.js';
import { pollNewRows, readFirstPage, readPage, readRow, type ReadContext } from '../read/reader.js';
import { isBucketWidth, readHistogram, readHistogramPart, type Axis } from '../read/histogram.js';
import { listMachines, listRunIdentities, listRuns } from '../read/runs.js';
import { zoneName } from '../read/time.js';

const PAGE_ROWS = 250;
const DEFAULT_RUNS_PER_MACHINE = 20;
const MAX_RUNS_PER_MACHINE = 200;
const DEFAULT_BUCKETS = 60;
/** More bars than a screen has room for would only cost time. */
const MAX_BUCKETS = 400;
/** The end of the year 9999 in epoch milliseconds, and the largest log id the API reads (15 digits). */
const MAX_EPOCH_MS = 253_402_300_800_000;
const MAX_LOG_ID = 999_999_999_999_999;

export class NotFound extends Error {
  override name = 'NotFound';
}

/** What the handlers read from, and what the page is told of how it is served. */
export interface ViewContext extends ReadContext {
  remoteImages: boolean;
}

/** A handler gets a pooled connection and the query string; what it returns is sent as JSON. */
type Handler = (client: pg.ClientBase, context: ViewContext, query: URLSearchParams) => Promise<unknown>;

/**
 * Repeatable parameters arrive as several values; the rest as one (or absent). A single-valued one
 * given twice is passed on as both, for the parser to refuse, rather than one of them silently used.
 */
function rawFilters(query: URLSearchParams): RawFilters {
  const one = (name: string) => {
    const values = query.getAll(name);
    return values.length > 1 ? values : values[0];
  };
  return {
    application: query.getAll('application'),
    machine: query.getAll('machine'),
    tag: query.getAll('tag'),
    run: one('run'),
    level: one('level'),
    grep: one('grep'),
    since: one('since'),
    until: one('until'),
    thirdParty: one('thirdParty'),
  };
}

function filtersOf(context: ReadContext, query: URLSearchParams): Filters {
  return parseFilters(rawFilters(query), context.timezone, 'api');
}

const meta: Handler = async (client, context) => ({
  table: `${context.shape.name.schema}.${context.shape.name.table}`,
  shape: context.shape.hasRecord ? 'logweaver-pino' : 'openclone',
  timezone: context.timezone,
  zone: zoneName(context.timezone),
  pageRows: PAGE_ROWS,
  remoteImages: context.remoteImages,
  machines: await listMachines(client, context.shape),
});

const rows: Handler = async (client, context, query) => {
  const filters = filtersOf(context, query);
  const order = parseOrder(query.get('order') ?? undefined);
  const cursor = parseLogId(query.get('cursor') ?? undefined, 'cursor');
  const at = parseLogId(query.get('at') ?? undefined, 'at');
  if (cursor !== undefined && at !== undefined) {
    throw new OptionError(`give cursor or at, not both; got cursor=${cursor} and at=${at}`);
  }
  const request: PageRequest = { order, limit: PAGE_ROWS, withRecord: false };
  if (cursor !== undefined) return readPage(client, context, filters, { ...request, cursor });
  // `at` is inclusive: start just past it.
  const start = at === undefined ? undefined : order === 'desc' ? at + 1 : at - 1;
  const first = await readFirstPage(client, context, filters, { ...request, cursor: start });
  return { rows: first.rows, next: first.next, follow: encodeCursor(first.follow) };
};

const follow: Handler = async (client, context, query) => {
  const filters = filtersOf(context, query);
  const cursor = decodeCursor(query.get('cursor') ?? undefined, 'cursor');
  const poll = await pollNewRows(client, context, filters, cursor, { limit: PAGE_ROWS, withRecord: false });
  return { rows: poll.rows, cursor: encodeCursor(poll.cursor) };
};

const runs: Handler = async (client, context, query) => {
  const { applications, machines } = filtersOf(context, query);
  const perMachine = runsLimit(query);
  return { runs: await listRunIdentities(client, context.shape, { applications, machines, perMachine }) };
};

function runsLimit(query: URLSearchParams): number {
  return parseLimit(query.get('limit') ?? undefined, 'api', {
    fallback: DEFAULT_RUNS_PER_MACHINE,
    min: 1,
    max: MAX_RUNS_PER_MACHINE,
  });
}

const runSummaries: Handler = async (client, context, query) => {
  const { applications, machines } = filtersOf(context, query);
  return { runs: await listRuns(client, context, { applications, machines, perMachine: runsLimit(query) }) };
};

/** A parameter that must be there (a part of the chart names its axis and ids). */
function requiredNumber(query: URLSearchParams, name: string, max: number): number {
  const value = query.get(name);
  if (value === null) throw new OptionError(`${name} is needed with below, got none`);
  return wholeNumber({ value, source: name }, 0, 0, max);
}

/** A later part of a chart: the axis of its first answer, and the ids still to count. */
function partOf(query: URLSearchParams): { axis: Axis; ids: { below: number; lowest: number } } {
  const below = requiredNumber(query, 'below', MAX_LOG_ID);
  const lowest = requiredNumber(query, 'lowest', below);
  const width = requiredNumber(query, 'bucketMs', MAX_EPOCH_MS);
  if (!isBucketWidth(width)) throw new OptionError(`bucketMs must be a bucket width of the chart, got ${width}`);
  const from = requiredNumber(query, 'from', MAX_EPOCH_MS);
  const to = requiredNumber(query, 'to', MAX_EPOCH_MS);
  // The first answer's axis may end one bucket past `buckets`: its ends are rounded out to buckets.
  if (to <= from || (to - from) / width > MAX_BUCKETS + 1) {
    throw new OptionError(`from to to must be 1 to ${MAX_BUCKETS + 1} buckets of bucketMs, got ${from} to ${to}`);
  }
  return { axis: { from, to, width }, ids: { below, lowest } };
}

const histogram: Handler = async (client, context, query) => {
  const filters = filtersOf(context, query);
  const zone = zoneName(context.timezone);
  if (query.has('below')) {
    const { axis, ids } = partOf(query);
    return { ...(await readHistogramPart(client, context, filters, axis, ids)), zone };
  }
  const buckets = wholeNumber(
    { value: query.get('buckets') ?? undefined, source: 'buckets' },
    DEFAULT_BUCKETS,
    1,
    MAX_BUCKETS,
  );
  return { ...(await readHistogram(client, context, filters, buckets)), zone };
};

function rowById(logId: number): Handler {
  return async (client, context) => {
    const row = await readRow(client, context, logId);
    if (!row) throw new NotFound(`no row with log_id ${logId}`);
    return { row };
  };
}

/** The handler for a path, or undefined when the path is not part of the API. */
export function apiHandler(pathname: string): Handler | undefined {
  const fixed: Record<string, Handler> = {
    '/api/meta': meta,
    '/api/rows': rows,
    '/api/follow': follow,
    '/api/runs': runs,
    '/api/runs/summary': runSummaries,
    '/api/histogram': histogram,
  };
  if (fixed[pathname]) return fixed[pathname];
  const match = /^\/api\/rows\/(\d{1,15})$/.exec(pathname);
  return match ? rowById(Number(match[1])) : undefined;
}
