/**
 * COPY text format: one line per row, columns separated by tabs, \N for NULL. One COPY per batch is
 * the fastest way into PostgreSQL (about 2x an unnest INSERT, 20x one INSERT per row; DESIGN.md §4).
 */
import type { LogRow } from '../enrich.js';
import type { TimestampFormatter } from '../timestamp.js';

/** The columns every LogWeaver table has, in the order rows are serialised. */
export const LOGWEAVER_COLUMNS = [
  'run_number',
  'application_name',
  'open_clone_log',
  'timestamp',
  'message',
  'tags',
  'level',
  'machine_name',
  'ip_address',
] as const;

/** The column this package adds to its own table: the whole record, queryable as json. */
export const RECORD_COLUMN = 'record';

export interface RunColumns {
  runNumber: number;
  application: string;
  machineName: string;
  ipAddress: string;
}

const COPY_SPECIALS = /[\\\n\r\t\0]/;
const COPY_SPECIALS_ALL = /[\\\n\r\t\0]/g;
const COPY_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  // PostgreSQL text cannot hold NUL: it becomes the replacement character.
  '\0': '\uFFFD',
};

export function escapeCopyText(value: string): string {
  return COPY_SPECIALS.test(value) ? value.replace(COPY_SPECIALS_ALL, (char) => COPY_ESCAPES[char] ?? char) : value;
}

// \u0000 and unpaired surrogate escapes are valid json text but make ->> fail on the row; replace
// them so every stored record can be queried.
const UNQUERYABLE_ESCAPES =
  /\\u0000|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}/g;

export function queryableJson(json: string): string {
  return json.includes('\\u') ? json.replace(UNQUERYABLE_ESCAPES, '\\ufffd') : json;
}

/** The COPY payload for a batch; `withRecord` adds the record column after the LogWeaver columns. */
export function serialiseBatch(
  rows: readonly LogRow[],
  run: RunColumns,
  formatTime: TimestampFormatter,
  withRecord: boolean,
): string {
  const runPrefix = `${run.runNumber}\t${escapeCopyText(run.application)}\t`;
  const machineSuffix = `\t${escapeCopyText(run.machineName)}\t${escapeCopyText(run.ipAddress)}`;
  let text = '';
  for (const row of rows) {
    text += `${runPrefix}${row.ownLog ? 't' : 'f'}\t${formatTime(row.time)}\t${escapeCopyText(row.message)}\t${escapeCopyText(row.tags)}\t${escapeCopyText(row.level)}${machineSuffix}`;
    if (withRecord) text += row.record === null ? '\t\\N' : `\t${escapeCopyText(queryableJson(row.record))}`;
    text += '\n';
  }
  return text;
}
