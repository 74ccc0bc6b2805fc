/**
 * Stored rows as pino-pretty lines:
 *
 *   [2026-11-28 09:00:00.000 -05:00] WARNING (SadTalker run 7 on gpu-box): face not found [render] #1234
 *       requestId: "r-17"
 *
 * Levels keep LogWeaver's names (WARNING, CRITICAL, custom labels); times are shown in the
 * configured time zone; the record's own fields (package table) follow as pino-pretty shows them.
 */
import { prettyFactory } from 'pino-pretty';
import type { StoredRow } from '../read/rows.js';
import { formatTimestampForPeople } from '../read/time.js';

type Colors = Record<string, (text: string) => string>;

/**
 * Control characters other than tab and newline, as pino-pretty strips them: logged text must not
 * move the cursor or recolour the terminal. (pino-pretty does not strip what messageFormat returns.)
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
const safe = (text: string) => text.replace(UNSAFE_CONTROL, '');

/** The fields prettyObject() adds, as the formatters receive them. */
interface PrettyRecord {
  msg: string;
  tags: string;
  thirdParty: boolean;
  log_id: number;
}

const LEVEL_COLORS: Record<string, string> = {
  DEBUG: 'blue',
  INFO: 'green',
  WARNING: 'yellow',
  ERROR: 'red',
  CRITICAL: 'bgRed',
};

/** Record keys already shown in the line itself (or, for err, inside the message). */
const SHOWN_KEYS = new Set([
  'level',
  'time',
  'msg',
  'message',
  'pid',
  'hostname',
  'name',
  'tags',
  'thirdParty',
  'err',
  'v',
]);

export function createPrettyPrinter(timezone: string, colorize: boolean): (row: StoredRow) => string {
  const pretty = prettyFactory({
    colorize,
    translateTime: false,
    messageKey: 'msg',
    // Shown inside the line by messageFormat (which sees them before they are ignored).
    ignore: 'log_id,tags,thirdParty',
    customPrettifiers: {
      level: (level, _key, _log, { colors }) => paint(colors as unknown as Colors, level as string),
    },
    messageFormat: (log, _messageKey, _label, { colors }) => {
      const { msg, tags, thirdParty, log_id } = log as unknown as PrettyRecord;
      const gray = (colors as unknown as Colors).gray ?? ((text: string) => text);
      // After the first line of the message: a stack trace may follow it.
      const [firstLine, ...more] = safe(msg).split('\n');
      const suffix = gray(`${tags ? ` [${safe(tags)}]` : ''}${thirdParty ? ' (third-party)' : ''} #${log_id}`);
      return [`${firstLine}${suffix}`, ...more].join('\n');
    },
  });
  return (row) => pretty(prettyObject(row, timezone));
}

function paint(colors: Colors, level: string): string {
  const color = LEVEL_COLORS[level];
  const paintWith = (color && colors[color]) || colors.white;
  return paintWith ? paintWith(safe(level)) : safe(level);
}

/** The shape pino-pretty expects: a Pino record. */
function prettyObject(row: StoredRow, timezone: string): Record<string, unknown> {
  return {
    ...recordFields(row.record),
    level: row.level,
    time: formatTimestampForPeople(new Date(row.timestamp), timezone),
    name: `${row.application_name} run ${row.run_number}`,
    hostname: row.machine_name,
    msg: row.message,
    tags: row.tags,
    thirdParty: !row.open_clone_log,
    log_id: row.log_id,
  };
}

function recordFields(record: unknown): Record<string, unknown> {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return {};
  return Object.fromEntries(Object.entries(record).filter(([key]) => !SHOWN_KEYS.has(key)));
}
