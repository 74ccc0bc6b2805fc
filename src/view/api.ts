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
 *   GET /api/histogram?filters&buckets=N   rows per time bucket and level (the volume chart)
 */
import type pg from 'pg';
import { OptionError } from '../errors.js';
import { wholeNumber } from '../options.js';
import { decodeCursor, encodeCursor } from '../read/follow.js';
import { parseFilters, parseLimit, parseLogId, parseOrder, type Filters, type RawFilters } from '../read/options.js';
import type { PageRequest } from '../read/query.js';
import { pollNewRows, readFirstPage, readPage, readRow, type ReadContext } from '../read/reader.js';
import { readHistogram } from '../read/histogram.js';
import { listMachines, listRunIdentities, listRuns } from '../read/runs.js';
import { zoneName } from '../read/time.js';

const PAGE_ROWS = 250;
const DEFAULT_RUNS_PER_MACHINE = 20;
const MAX_RUNS_PER_MACHINE = 200;
const DEFAULT_BUCKETS = 60;
/** More bars than a screen has room for would only cost time. */
const MAX_BUCKETS = 400;

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

const histogram: Handler = async (client, context, query) => {
  const filters = filtersOf(context, query);
  const buckets = wholeNumber(
    { value: query.get('buckets') ?? undefined, source: 'buckets' },
    DEFAULT_BUCKETS,
    1,
    MAX_BUCKETS,
  );
  return { ...(await readHistogram(client, context, filters, buckets)), zone: zoneName(context.timezone) };
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
