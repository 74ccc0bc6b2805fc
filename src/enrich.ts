/**
 * Enrich: a parsed line becomes a LogWeaver row. The columns that are the same for every row of a
 * run (application, machine, address, run number) are added by the writer, not stored per row.
 */
import type { LevelNamer } from './levels.js';
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
  /** Approximate memory held by the row, for the buffer's byte cap. */
  bytes: number;
  /** The run of a row that was spooled by an earlier run; absent for this run's own rows. */
  run?: number;
}

export interface RowContext {
  levelName: LevelNamer;
  messageKey: string;
  errorKey: string;
  /** Tags from the options, added to every row. */
  staticTags: string[];
}

const ROW_OVERHEAD_BYTES = 96;

export function createRowBuilder(context: RowContext): (line: string) => LogRow {
  const staticTags = context.staticTags.join(',');
  return (line) => {
    const record = parseRecord(line);
    if (record === null) return textRow(line, staticTags);
    return {
      time: recordTime(record.time),
      message: recordMessage(record, context),
      tags: joinTags(record.tags, context.staticTags, staticTags),
      level: context.levelName(record.level),
      ownLog: record.thirdParty !== true,
      record: line,
      bytes: ROW_OVERHEAD_BYTES + line.length * 2,
    };
  };
}

/** A line that is not a JSON object: third-party output, stored as an INFO message. */
export function textRow(line: string, tags: string): LogRow {
  return {
    time: Date.now(),
    message: line,
    tags,
    level: 'INFO',
    ownLog: false,
    record: null,
    bytes: ROW_OVERHEAD_BYTES + line.length,
  };
}

/** JavaScript's own date range (±273,790 years), well inside PostgreSQL's. */
const MAX_TIME_MS = 8.64e15;

/** The record's time in epoch ms; the time of arrival when it has none or one out of range. */
function recordTime(time: unknown): number {
  const value = typeof time === 'string' ? Date.parse(time) : time;
  if (typeof value === 'number' && Math.abs(value) <= MAX_TIME_MS) return Math.round(value);
  return Date.now();
}

/** The message, with the stack of a logged error appended: tracebacks travel inside the message. */
function recordMessage(record: LogRecord, context: RowContext): string {
  const value = record[context.messageKey];
  const message = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  const error = record[context.errorKey];
  const stack = typeof error === 'object' && error !== null ? (error as { stack?: unknown }).stack : undefined;
  if (typeof stack !== 'string' || stack === '') return message;
  return message === '' ? stack : `${message}\n${stack}`;
}

function joinTags(tags: unknown, staticTags: string[], joinedStatic: string): string {
  const own = Array.isArray(tags) ? tags.map(String) : typeof tags === 'string' && tags !== '' ? [tags] : [];
  if (own.length === 0) return joinedStatic;
  const extra = staticTags.filter((tag) => !own.includes(tag));
  return [...own, ...extra].join(',');
}
