/**
 * What the reading commands (tail, runs, view) and the viewer's API accept, validated once and in
 * one place. The same parser serves CLI flags (`--since`) and query parameters (`since`), so a bad
 * value is refused the same way everywhere, with a message naming the flag or parameter and the
 * value. Where the database is comes from the writer's options (options.ts), so both agree.
 */
import { describe, OptionError } from '../errors.js';
import { booleanOption, resolveOptions, text, wholeNumber, type Picked, type ResolvedOptions } from '../options.js';
import { isSupportedInstant, parseTimeBound } from './time.js';
import { levelOf, LEVELS, type Level } from '../levels.js';

export interface Filters {
  /** Any of these applications (all when empty). */
  applications: string[];
  /** Any of these machines (all when empty). */
  machines: string[];
  /** A run number, or the latest run of each application (of the newest row when none is given). */
  run: number | 'latest' | undefined;
  /** Rows at this level or above; rows with levels outside LogWeaver's five are kept. */
  minLevel: Level | undefined;
  /** Rows carrying any of these tags. */
  tags: string[];
  /** Text in the message, ignoring case. */
  grep: string | undefined;
  since: Date | undefined;
  until: Date | undefined;
  /** true: only third-party rows; false: hide them; undefined: both. */
  thirdParty: boolean | undefined;
}

/** The filters as they arrive: CLI flags (commander's camelCase) or query parameters. */
export interface RawFilters {
  application?: unknown;
  machine?: unknown;
  run?: unknown;
  level?: unknown;
  tag?: unknown;
  grep?: unknown;
  since?: unknown;
  until?: unknown;
  thirdParty?: unknown;
}

/** `--third-party` on the command line, `thirdParty` in the viewer's API. */
type ParameterNaming = 'cli' | 'api';

function parameterLabel(name: string, naming: ParameterNaming): string {
  if (naming === 'api') return name;
  return `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** Validates every filter; throws OptionError naming the flag (or parameter) and the value. */
export function parseFilters(raw: RawFilters, timezone: string, naming: ParameterNaming, now = new Date()): Filters {
  const pick = (name: keyof RawFilters): Picked => ({
    value: emptyToUndefined(raw[name]),
    source: parameterLabel(name, naming),
  });
  const since = timeBound(pick('since'), timezone, now);
  const until = timeBound(pick('until'), timezone, now);
  if (since && until && since > until) {
    throw new OptionError(
      `${parameterLabel('since', naming)} must be before ${parameterLabel('until', naming)}, got ${describe(raw.since)} and ${describe(raw.until)}`,
    );
  }
  return {
    applications: textList(pick('application')),
    machines: textList(pick('machine')),
    run: runNumber(pick('run')),
    minLevel: level(pick('level')),
    tags: textList(pick('tag')),
    grep: withoutNul(text(pick('grep')), pick('grep').source),
    since,
    until,
    thirdParty: pick('thirdParty').value === undefined ? undefined : booleanOption(pick('thirdParty'), true),
  };
}

function emptyToUndefined(value: unknown): unknown {
  if (value === '' || (Array.isArray(value) && value.length === 0)) return undefined;
  return value;
}

/** A repeatable flag or parameter: one string or several; each also split on commas. */
function textList({ value, source }: Picked): string[] {
  if (value === undefined) return [];
  const items = Array.isArray(value) ? (value as unknown[]) : [value];
  if (!items.every((item) => typeof item === 'string')) {
    throw new OptionError(`${source} must be text, got ${describe(value)}`);
  }
  const names = [...new Set(items.flatMap((item) => item.split(',')).map((item) => item.trim()))];
  return names.filter((item) => item !== '').map((item) => withoutNul(item, source));
}

/**
 * The stored text never holds NUL (PostgreSQL's text cannot; the writer replaces it), so asking for
 * one is a mistake, and as a query parameter it would fail the query.
 */
function withoutNul<T extends string | undefined>(value: T, source: string): T {
  if (value?.includes('\0')) {
    throw new OptionError(`${source} must not contain a NUL character, got ${describe(value)}`);
  }
  return value;
}

function runNumber(picked: Picked): number | 'latest' | undefined {
  const given = single(picked);
  if (given === undefined) return undefined;
  if (given.toLowerCase() === 'latest') return 'latest';
  if (!/^\d{1,9}$/.test(given)) {
    throw new OptionError(`${picked.source} must be a run number or "latest", got ${describe(given)}`);
  }
  return Number(given);
}

function level(picked: Picked): Level | undefined {
  const given = single(picked);
  if (given === undefined) return undefined;
  const found = levelOf(given);
  if (!found) {
    throw new OptionError(
      `${picked.source} must be one of ${LEVELS.join(', ')} (or trace, warn, fatal), got ${describe(given)}`,
    );
  }
  return found;
}

function timeBound(picked: Picked, timezone: string, now: Date): Date | undefined {
  const given = single(picked);
  if (given === undefined) return undefined;
  const bound = parseTimeBound(given, timezone, now);
  if (!bound) {
    throw new OptionError(
      `${picked.source} must be a duration such as 15m, 2h or 7d, or a date and time such as 2026-11-28T14:00 (read in ${timezone === 'system' ? 'the system time zone' : timezone}), got ${describe(given)}`,
    );
  }
  if (!isSupportedInstant(bound)) {
    throw new OptionError(`${picked.source} must be a time between the years 1 and 9999, got ${describe(given)}`);
  }
  return bound;
}

/** A flag that may be given once: the value, or a message naming the flag. */
function single({ value, source }: Picked): string | undefined {
  const scalar = typeof value === 'number' ? String(value) : value;
  if (scalar === undefined) return undefined;
  if (typeof scalar !== 'string') throw new OptionError(`${source} may be given once, got ${describe(value)}`);
  return scalar.trim() === '' ? undefined : scalar.trim();
}

/** The writer's options that say where the tables are and how to show times. */
export type ReadTarget = Pick<
  ResolvedOptions,
  'connection' | 'table' | 'schema' | 'metaSchema' | 'metaTables' | 'timezone'
>;

/** From commander's flags: --database-url, --table, --schema, --meta-schema, --timezone and their variables. */
export function resolveReadTarget(flags: Record<string, unknown>, env: Record<string, string | undefined>): ReadTarget {
  const { connection, table, schema, metaSchema, metaTables, timezone } = resolveOptions(
    {
      connectionString: flags.databaseUrl,
      table: flags.table,
      schema: flags.schema,
      metaSchema: flags.metaSchema,
      timezone: flags.timezone,
    },
    env,
    'cli',
  );
  return { connection, table, schema, metaSchema, metaTables, timezone };
}

/** `--limit`: how many rows (tail allows 0: with --follow, only new rows) or runs (at least 1). */
export function parseLimit(
  value: unknown,
  naming: ParameterNaming,
  range: { fallback: number; min: number; max: number },
): number {
  const source = parameterLabel('limit', naming);
  return wholeNumber({ value: emptyToUndefined(value), source }, range.fallback, range.min, range.max);
}

/** `--port`: 0 picks any free port. */
export function parsePort(value: unknown): number {
  return wholeNumber({ value, source: '--port' }, 7070, 0, 65_535);
}

/** `--host`: the address to listen on. */
export function parseHost(value: unknown): string {
  const host = text({ value, source: '--host' }) ?? '127.0.0.1';
  if (!/^[\w.:-]+$/.test(host))
    throw new OptionError(`--host must be a host name or an IP address, got ${describe(host)}`);
  return host;
}

/** The viewer API's `order`: newest first unless asked. */
export function parseOrder(value: unknown): 'asc' | 'desc' {
  if (value === undefined || value === '' || value === 'desc') return 'desc';
  if (value === 'asc') return 'asc';
  throw new OptionError(`order must be asc or desc, got ${describe(value)}`);
}

/** A log_id in the viewer's API (a cursor, or the row to go to). */
export function parseLogId(value: unknown, source: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) {
    throw new OptionError(`${source} must be a log id (a whole number), got ${describe(value)}`);
  }
  return Number(value);
}
