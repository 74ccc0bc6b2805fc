/**
 * Filters → parameterised SQL. Every page is a keyset page on log_id (`log_id < $cursor ORDER BY
 * log_id DESC LIMIT n`), never OFFSET: the primary key finds the next page at the same cost however
 * deep the reader has scrolled, on the package's table and on OpenClone's alike. A page also stops
 * at a window edge (`log_id >= $bound`): with a filter that matches few rows, no single query scans
 * the whole table (see reader.ts). Values are always parameters; the table name is quoted by
 * qualifiedTable(). Log ids are compared as bigint: on OpenClone's table log_id is an integer, and
 * an id from the API beyond its range then matches nothing instead of failing the query.
 */
import type { Filters } from './options.js';
import { LEVELS } from '../levels.js';
import { READ_COLUMNS, type TableShape } from './table.js';

/** Ids one query may scan: about 50 ms of primary-key scan on a 2-core machine. */
export const WINDOW_IDS = 100_000;

export interface SqlQuery {
  text: string;
  values: unknown[];
}

/** Collects parameter values; add() returns the placeholder. */
export class Parameters {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

type Order = 'asc' | 'desc';

export interface PageRequest {
  order: Order;
  /** Exclusive: the last log_id of the previous page. */
  cursor?: number | undefined;
  /** Inclusive: the far edge of the window this page may scan (below the cursor when descending). */
  bound?: number | undefined;
  limit: number;
  /** Include the record column (where the table has one). */
  withRecord: boolean;
}

export function selectList(shape: TableShape, withRecord: boolean): string {
  const columns = READ_COLUMNS.map((column) => (column === 'timestamp' ? '"timestamp"' : column));
  return [...columns, ...(withRecord && shape.hasRecord ? ['record'] : [])].join(', ');
}

/** The WHERE conditions of the filters (an empty list matches every row). */
export function filterConditions(filters: Filters, shape: TableShape, params: Parameters): string[] {
  const conditions: string[] = [];
  if (filters.applications.length > 0)
    conditions.push(`application_name = ANY(${params.add(filters.applications)}::text[])`);
  if (filters.machines.length > 0) conditions.push(`machine_name = ANY(${params.add(filters.machines)}::text[])`);
  if (typeof filters.run === 'number') conditions.push(`run_number = ${params.add(filters.run)}`);
  if (filters.run === 'latest') conditions.push(latestRunCondition(filters, shape, params));
  const below = filters.minLevel ? LEVELS.slice(0, LEVELS.indexOf(filters.minLevel)) : [];
  if (below.length > 0) conditions.push(`level <> ALL(${params.add(below)}::text[])`);
  if (filters.tags.length > 0) {
    conditions.push(`regexp_split_to_array(tags, '\\s*,\\s*') && ${params.add(filters.tags)}::text[]`);
  }
  if (filters.grep !== undefined) conditions.push(`message ILIKE ${params.add(`%${escapeLike(filters.grep)}%`)}`);
  if (filters.since) conditions.push(`"timestamp" >= ${params.add(filters.since)}`);
  if (filters.until) conditions.push(`"timestamp" < ${params.add(endOfMillisecond(filters.until))}`);
  if (filters.thirdParty !== undefined) conditions.push(filters.thirdParty ? 'NOT open_clone_log' : 'open_clone_log');
  return conditions;
}

/**
 * The run of the newest row of each application asked for (of the newest row of all when none),
 * re-evaluated at each query, so that `tail --follow --run latest` moves on to the next run when the
 * application restarts. An application's newest row is one probe of the (application_name,
 * timestamp) index where it exists; OpenClone's table walks the primary key back to it.
 */
function latestRunCondition(filters: Filters, shape: TableShape, params: Parameters): string {
  const machines = filters.machines.length > 0 ? `AND machine_name = ANY(${params.add(filters.machines)}::text[])` : '';
  const newest = (where: string, order: string) =>
    `SELECT application_name, machine_name, run_number FROM ${shape.qualified}
      WHERE ${where} ${machines} ORDER BY ${order} LIMIT 1`;
  if (filters.applications.length === 0) {
    return `(application_name, machine_name, run_number) IN (${newest('true', 'log_id DESC')})`;
  }
  const order = shape.hasApplicationTimeIndex ? '"timestamp" DESC, log_id DESC' : 'log_id DESC';
  return `(application_name, machine_name, run_number) IN (
    SELECT latest.* FROM unnest(${params.add(filters.applications)}::text[]) AS wanted(name)
      CROSS JOIN LATERAL (${newest('application_name = wanted.name', order)}) AS latest)`;
}

/**
 * Times are printed to the millisecond, but LogWeaver stores microseconds: `--until` covers the whole
 * millisecond it names, so that a time printed by `runs`, `tail` or the viewer, typed back, finds its
 * row (issue 15). `--since` needs nothing: a printed time is never later than the stored one.
 */
function endOfMillisecond(until: Date): Date {
  return new Date(until.getTime() + 1);
}

/** LIKE treats % _ and \ specially; the text is searched for as it is. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

export function whereClause(conditions: string[]): string {
  return conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
}

/** One page of rows, newest or oldest first, after the cursor. */
export function pageQuery(shape: TableShape, filters: Filters, request: PageRequest): SqlQuery {
  const params = new Parameters();
  const conditions = filterConditions(filters, shape, params);
  const [before, beyond] = request.order === 'desc' ? ['<', '>='] : ['>', '<='];
  if (request.cursor !== undefined) conditions.push(`log_id ${before} ${params.add(request.cursor)}::bigint`);
  if (request.bound !== undefined) conditions.push(`log_id ${beyond} ${params.add(request.bound)}::bigint`);
  const text = `SELECT ${selectList(shape, request.withRecord)} FROM ${shape.qualified} ${whereClause(conditions)}
    ORDER BY log_id ${request.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${params.add(request.limit)}`;
  return { text, values: params.values };
}

export function rowByIdQuery(shape: TableShape, logId: number): SqlQuery {
  return {
    text: `SELECT ${selectList(shape, true)} FROM ${shape.qualified} WHERE log_id = $1::bigint`,
    values: [logId],
  };
}
