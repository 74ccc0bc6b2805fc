/**
 * Enrich: a line becomes a LogWeaver row, just before its batch is written (lines wait in the buffer
 * and the spool as they arrived, which keeps the worker's intake cheap). The columns that are the
 * same for every row of a run (application, machine, address, run number) are added by the writer.
 */
import { createLevelNamer, type LevelNamer } from '../levels.js';
import { parseRecord, type LogRecord } from './parse.js';

export interface LogRow {
  /** Epoch milliseconds: the record's own time, never the insert time. */
  time: number;
  message: string;
  /** Comma-joined; '' when none. */
  tags: string;
  level: string;
  /** false for third-party output: `thirdParty: true` records and lines that are not JSON. */
  ownLog: boolean;
  /** The whole record as it arrived (JSON text), or null for a line that was not a JSON object. */
  record: string | null;
  /** The run of a row that was spooled by an earlier run; absent for this run's own rows. */
  run?: number;
}

/** A line as it waits to be written: the text, when it arrived, and its run if an earlier one. */
export interface QueuedLine {
  line: string;
  /** Epoch ms of arrival: the time of a line that carries none. */
  arrived: number;
  run?: number;
}

export interface RowContext {
  levelName: LevelNamer;
  messageKey: string;
  errorKey: string;
  /** Tags from the options, added to every row. */
  staticTags: string[];
}

export type RowBuilder = (queued: QueuedLine) => LogRow;

/** What Pino tells its transports about the logger (its PINO_CONFIG message to the worker). */
export interface LoggerConfig {
  levels?: { values?: Record<string, number> } | Record<string, number>;
  messageKey?: string;
  errorKey?: string;
}

/** What the options say about rows; where they are silent, the logger's own settings apply. */
interface RowOptions {
  messageKey?: string;
  errorKey?: string;
  customLevels: Record<string, number>;
  tags: string[];
}

export function rowContext(options: RowOptions, config: LoggerConfig): RowContext {
  const levels = config.levels as { values?: Record<string, number> } | undefined;
  const loggerLevels = levels?.values ?? (config.levels as Record<string, number> | undefined) ?? {};
  return {
    levelName: createLevelNamer({ ...loggerLevels, ...options.customLevels }),
    messageKey: options.messageKey ?? config.messageKey ?? 'msg',
    errorKey: options.errorKey ?? config.errorKey ?? 'err',
    staticTags: options.tags,
  };
}

export function createRowBuilder(context: RowContext): RowBuilder {
  const staticTags = context.staticTags.join(',');
  return ({ line, arrived, run }) => {
    const record = parseRecord(line);
    if (record === null) return textRow(line, staticTags, arrived, run);
    return {
      time: recordTime(record.time, arrived),
      message: recordMessage(record, context),
      tags: joinTags(record.tags, context.staticTags, staticTags),
      level: context.levelName(record.level),
      ownLog: record.thirdParty !== true,
      record: line,
      run,
    };
  };
}

/** A line that is not a JSON object: third-party output, stored as an INFO message. */
export function textRow(line: string, tags: string, arrived: number, run?: number): LogRow {
  return {
    time: arrived,
    message: line,
    tags,
    level: 'INFO',
    ownLog: false,
    record: null,
    run,
  };
}

/** JavaScript's latest date; the earliest PostgreSQL stores is 4713 BC. */
const MAX_TIME_MS = 8.64e15;
const MIN_TIME_MS = -2.108e14;

/** The record's time in epoch ms; the time of arrival when it has none or one out of range. */
function recordTime(time: unknown, arrived: number): number {
  const value = typeof time === 'string' ? Date.parse(time) : time;
  if (typeof value === 'number' && value >= MIN_TIME_MS && value <= MAX_TIME_MS) return Math.round(value);
  return arrived;
}

/** The message, with the stack of a logged error appended: tracebacks travel inside the message. */
function recordMessage(record: LogRecord, context: RowContext): string {
  const value = record[context.messageKey];
  const message = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  const error = errorText(record[context.errorKey]);
  if (error === '') return message;
  return message === '' ? error : `${message}\n${error}`;
}

/**
 * What a logged error adds to the message: its stack (Pino's serializer always gives one); else
 * `type: message` of an error-shaped object; else the text of an error logged as a string.
 */
function errorText(error: unknown): string {
  if (typeof error === 'string') return error;
  if (typeof error !== 'object' || error === null) return '';
  const { stack, message, type } = error as { stack?: unknown; message?: unknown; type?: unknown };
  if (typeof stack === 'string' && stack !== '') return stack;
  if (typeof message !== 'string' || message === '') return '';
  return `${typeof type === 'string' && type !== '' ? type : 'Error'}: ${message}`;
}

function joinTags(tags: unknown, staticTags: string[], joinedStatic: string): string {
  // The common case, strings and no tags from the options, costs one join and no copies.
  if (staticTags.length === 0 && Array.isArray(tags) && tags.every(isString)) return tags.join(',');
  const own = (Array.isArray(tags) ? tags : [tags]).map(tagText).filter((tag) => tag !== '');
  if (own.length === 0) return joinedStatic;
  const extra = staticTags.filter((tag) => !own.includes(tag));
  return [...own, ...extra].join(',');
}

/** A tag as text: objects as JSON (not "[object Object]"), null and undefined as nothing. */
function tagText(tag: unknown): string {
  if (typeof tag === 'string') return tag;
  if (typeof tag === 'number' || typeof tag === 'boolean' || typeof tag === 'bigint') return String(tag);
  return tag === null ? '' : (JSON.stringify(tag) ?? ''); // undefined stringifies to undefined
}

const isString = (value: unknown): value is string => typeof value === 'string';
