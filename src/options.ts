/**
 * Every option of logweaver-pino, validated once and in one place.
 *
 * Options arrive as transport options (structured clones from the main thread), CLI flags (strings)
 * and environment variables (strings). Precedence: explicit option > LOGWEAVER_* variable > default.
 * Each bad value throws an OptionError that names the option and the value, never a password.
 */
import { IANAZone } from 'luxon';
import { resolveConnection, type ConnectionSettings } from './connection.js';
import { describe, OptionError } from './errors.js';
import { defaultApplicationName } from './identity.js';
import { retentionPeriod, type Period } from './period.js';

export interface LogweaverOptions {
  /** postgres:// URL. Otherwise LOGWEAVER_DATABASE_URL, DATABASE_URL, PG* or OpenClone_* variables. */
  connectionString?: string;
  /** Application name stored in every row (default: package.json name, else the script name). */
  application?: string;
  /** Table name (default `log`). */
  table?: string;
  /** Schema name (default `public`). */
  schema?: string;
  /** Milliseconds between flushes of a partly filled batch (default 1000). */
  flushInterval?: number | string;
  /** Rows per statement (default 2000). */
  batchSize?: number | string;
  /** Lines held in memory before they go to the disk spool (default 200000). */
  maxBufferedRows?: number | string;
  /** Bytes held in memory before lines go to the disk spool (default 64 MiB). */
  maxBufferedBytes?: number | string;
  /** Directory of the disk spool (default: ~/.local/state/logweaver-pino/<application>-<target>). */
  spoolDir?: string;
  /** Bytes the spool may hold on disk before records are dropped and counted (default 1 GiB). */
  maxSpoolBytes?: number | string;
  /** Longest line stored whole; longer ones are stored truncated, with a marker (default 1 MiB). */
  maxRecordBytes?: number | string;
  /**
   * machine_name column (default: os.hostname(); where OpenClone_* variables give the connection,
   * the reverse DNS name of ipAddress, as LogWeaver stores it, else the hostname).
   */
  machineName?: string;
  /** ip_address column (default: the machine's outward IPv4, else 127.0.0.1). */
  ipAddress?: string;
  /** Tags added to every row: an array or a comma-separated string. */
  tags?: string[] | string;
  /** IANA zone in which timestamps are written and read back (default: the system zone). */
  timezone?: string;
  /** Key of the message in a record (default: the logger's messageKey, else `msg`). */
  messageKey?: string;
  /** Key of a logged error (default: the logger's errorKey, else `err`). */
  errorKey?: string;
  /** Extra level names by number, e.g. `{ audit: 35 }` or `"audit:35"`, for pipe mode. */
  customLevels?: Record<string, number> | string;
  /** Processes that share this key share one run number (default: one run per process). */
  runKey?: string;
  /** Create the table and its indexes when missing (default true). */
  createTable?: boolean | string;
  /** Schema of the package's own `<table>_runs` and `<table>_batches` (default: the log table's). */
  metaSchema?: string;
  /**
   * Keep `<table>_runs` and `<table>_batches` (default true). Without them only the log table is
   * touched: a batch retried after an ambiguous failure may be stored twice, and runs have no end.
   */
  metaTables?: boolean | string;
  /** Milliseconds between `logweaver:stats` events (pipe mode: stderr lines); 0, the default, for none. */
  statsInterval?: number | string;
  /** Keep rows this long (`30d`, `12w`, `6h`); older ones are deleted hourly (write/retention.ts). Default: for ever. */
  retention?: string;
}

export interface ResolvedOptions {
  connection: ConnectionSettings;
  application: string;
  table: string;
  schema: string;
  flushInterval: number;
  batchSize: number;
  maxBufferedRows: number;
  maxBufferedBytes: number;
  spoolDir: string | undefined;
  maxSpoolBytes: number;
  maxRecordBytes: number;
  machineName: string | undefined;
  ipAddress: string | undefined;
  tags: string[];
  timezone: string;
  messageKey: string | undefined;
  errorKey: string | undefined;
  customLevels: Record<string, number>;
  runKey: string | undefined;
  createTable: boolean;
  metaSchema: string;
  metaTables: boolean;
  statsInterval: number;
  retention: Period | undefined;
}

type Env = Record<string, string | undefined>;

const ENV_NAMES = {
  application: 'LOGWEAVER_APPLICATION',
  table: 'LOGWEAVER_TABLE',
  schema: 'LOGWEAVER_SCHEMA',
  flushInterval: 'LOGWEAVER_FLUSH_INTERVAL',
  batchSize: 'LOGWEAVER_BATCH_SIZE',
  maxBufferedRows: 'LOGWEAVER_MAX_BUFFERED_ROWS',
  maxBufferedBytes: 'LOGWEAVER_MAX_BUFFERED_BYTES',
  spoolDir: 'LOGWEAVER_SPOOL_DIR',
  maxSpoolBytes: 'LOGWEAVER_MAX_SPOOL_BYTES',
  maxRecordBytes: 'LOGWEAVER_MAX_RECORD_BYTES',
  machineName: 'LOGWEAVER_MACHINE_NAME',
  ipAddress: 'LOGWEAVER_IP_ADDRESS',
  tags: 'LOGWEAVER_TAGS',
  timezone: 'LOGWEAVER_TIMEZONE',
  messageKey: 'LOGWEAVER_MESSAGE_KEY',
  errorKey: 'LOGWEAVER_ERROR_KEY',
  customLevels: 'LOGWEAVER_CUSTOM_LEVELS',
  runKey: 'LOGWEAVER_RUN_KEY',
  createTable: 'LOGWEAVER_CREATE_TABLE',
  metaSchema: 'LOGWEAVER_META_SCHEMA',
  metaTables: 'LOGWEAVER_META_TABLES',
  statsInterval: 'LOGWEAVER_STATS_INTERVAL',
  retention: 'LOGWEAVER_RETENTION',
} as const satisfies Record<Exclude<keyof LogweaverOptions, 'connectionString'>, string>;

type OptionName = keyof LogweaverOptions;
const KNOWN_OPTIONS = new Set<string>(['connectionString', ...Object.keys(ENV_NAMES)]);
/** Keys pino and thread-stream add to every transport's options (thread-stream also adds `$context`). */
const ADDED_BY_PINO = new Set(['pinoWillSendConfig']);

/** How option names appear in messages: as transport options, or as the CLI's flags. */
type OptionNaming = 'transport' | 'cli';

export interface Picked {
  value: unknown;
  /** The option, flag or variable the value came from, for messages. */
  source: string;
}

/** Validates raw options (any source) against the environment; throws OptionError. */
export function resolveOptions(
  raw: unknown,
  env: Env = process.env,
  naming: OptionNaming = 'transport',
): ResolvedOptions {
  const input = asOptionObject(raw, naming);
  const pick = (name: Exclude<OptionName, 'connectionString'>): Picked => {
    const given = input[name];
    if (given !== undefined && given !== null && given !== '')
      return { value: given, source: optionLabel(name, naming) };
    const envName = ENV_NAMES[name];
    return { value: env[envName] === '' ? undefined : env[envName], source: envName };
  };

  const explicitUrl = { value: input.connectionString, source: optionLabel('connectionString', naming) };
  const schema = identifier(pick('schema'), 'public', 63);
  return {
    connection: resolveConnection(text(explicitUrl), explicitUrl.source, env),
    application: text(pick('application')) ?? defaultApplicationName(),
    // 55 bytes leaves room for the `_batches` table beside it within PostgreSQL's 63.
    table: identifier(pick('table'), 'log', 55),
    schema,
    flushInterval: wholeNumber(pick('flushInterval'), 1000, 10, 3_600_000),
    batchSize: wholeNumber(pick('batchSize'), 2000, 1, 100_000),
    maxBufferedRows: wholeNumber(pick('maxBufferedRows'), 200_000, 1, 100_000_000),
    maxBufferedBytes: wholeNumber(pick('maxBufferedBytes'), 64 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
    spoolDir: text(pick('spoolDir')),
    maxSpoolBytes: wholeNumber(pick('maxSpoolBytes'), 1024 ** 3, 0, 2 ** 50),
    maxRecordBytes: wholeNumber(pick('maxRecordBytes'), 1024 ** 2, 1024, 256 * 1024 ** 2),
    machineName: text(pick('machineName')),
    ipAddress: text(pick('ipAddress')),
    tags: tagList(pick('tags')),
    timezone: timezone(pick('timezone')),
    messageKey: text(pick('messageKey')),
    errorKey: text(pick('errorKey')),
    customLevels: customLevels(pick('customLevels')),
    runKey: text(pick('runKey')),
    createTable: booleanOption(pick('createTable'), true),
    metaSchema: identifier(pick('metaSchema'), schema, 63),
    metaTables: booleanOption(pick('metaTables'), true),
    statsInterval: wholeNumber(pick('statsInterval'), 0, 0, 3_600_000),
    retention: retentionPeriod(pick('retention')),
  };
}

/** `flushInterval` for the transport, `--flush-interval` for the CLI (`--database-url` for the URL). */
function optionLabel(name: OptionName, naming: OptionNaming): string {
  if (naming === 'transport') return name;
  if (name === 'connectionString') return '--database-url';
  return `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

function asOptionObject(raw: unknown, naming: OptionNaming): Partial<Record<OptionName, unknown>> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new OptionError(`logweaver-pino options must be an object, got ${describe(raw)}`);
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_OPTIONS.has(key) && !ADDED_BY_PINO.has(key) && !key.startsWith('$')) {
      const known = [...KNOWN_OPTIONS].map((name) => optionLabel(name as OptionName, naming));
      throw new OptionError(`unknown option ${key}; known options: ${known.join(', ')}`);
    }
  }
  return raw;
}

export function text({ value, source }: Picked): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new OptionError(`${source} must be a string, got ${describe(value)}`);
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  return trimmed;
}

function identifier(picked: Picked, fallback: string, maxBytes: number): string {
  const name = text(picked) ?? fallback;
  const { source } = picked;
  if (Buffer.byteLength(name) > maxBytes || name.includes('\0')) {
    throw new OptionError(
      `${source} must be a PostgreSQL identifier of at most ${maxBytes} bytes, got ${describe(name)}`,
    );
  }
  return name;
}

export function wholeNumber({ value, source }: Picked, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new OptionError(`${source} must be a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return number;
}

export function booleanOption({ value, source }: Picked, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(lower)) return true;
    if (['false', '0', 'no', 'off'].includes(lower)) return false;
  }
  throw new OptionError(`${source} must be true or false, got ${describe(value)}`);
}

function tagList({ value, source }: Picked): string[] {
  if (value === undefined) return [];
  const items = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) {
    throw new OptionError(`${source} must be a list of strings or a comma-separated string, got ${describe(value)}`);
  }
  return items.map((tag) => tag.trim()).filter((tag) => tag !== '');
}

function timezone(picked: Picked): string {
  const zone = text(picked);
  const { source } = picked;
  if (zone === undefined) return 'system';
  if (zone !== 'system' && zone !== 'UTC' && !IANAZone.isValidZone(zone)) {
    throw new OptionError(`${source} must be an IANA time zone such as America/New_York, got ${describe(zone)}`);
  }
  return zone;
}

function customLevels({ value, source }: Picked): Record<string, number> {
  if (value === undefined) return {};
  const entries = typeof value === 'string' ? parseLevelList(value, source) : value;
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
    throw new OptionError(`${source} must map level names to numbers, got ${describe(value)}`);
  }
  const levels: Record<string, number> = {};
  for (const [name, number] of Object.entries(entries as Record<string, unknown>)) {
    if (typeof number !== 'number' || !Number.isInteger(number)) {
      throw new OptionError(`${source}: level ${name} must be a whole number, got ${describe(number)}`);
    }
    levels[name] = number;
  }
  return levels;
}

function parseLevelList(text: string, source: string): Record<string, number> {
  const levels: Record<string, number> = {};
  for (const pair of text.split(',').filter((item) => item.trim() !== '')) {
    const match = /^\s*([^:\s]+)\s*:\s*(\d+)\s*$/.exec(pair);
    if (!match?.[1] || !match[2]) {
      throw new OptionError(`${source} must look like "audit:35,notice:45", got ${describe(text)}`);
    }
    levels[match[1]] = Number(match[2]);
  }
  return levels;
}
