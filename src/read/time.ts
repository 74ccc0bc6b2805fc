/**
 * Times as a person types and reads them: `--since 15m`, `--until "2026-11-28 14:00"`, read in the
 * configured `timezone` option; timestamps printed in that zone with their offset (as LogWeaver's
 * US/Eastern timestamps were), so that what is printed can be typed back.
 */
import { DateTime } from 'luxon';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `15m`, `2h`, `1h30m`, `7d`: milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+[smhdw])+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) {
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return total;
}

/** luxon's name for the `timezone` option's value ('system' is the machine's zone). */
function zoneOf(timezone: string): string {
  return timezone === 'system' ? 'local' : timezone;
}

/**
 * A duration ago, or a date and time read in `timezone` (ISO 8601 or `2026-11-28 14:00`; a time
 * alone means today; an explicit offset or Z wins). Undefined when the text is neither.
 */
export function parseTimeBound(text: string, timezone: string, now: Date): Date | undefined {
  const ago = parseDuration(text);
  if (ago !== undefined) return new Date(now.getTime() - ago);
  const options = { zone: zoneOf(timezone) };
  const trimmed = text.trim();
  const parsed = [DateTime.fromISO(trimmed, options), DateTime.fromSQL(trimmed, options)].find((date) => date.isValid);
  return parsed?.toJSDate();
}

/** ISO 8601's four-digit years: inside both JavaScript's dates and PostgreSQL's timestamptz. */
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * Whether a bound can be asked for: `--since 99999999999999d` gives an Invalid Date, and a year
 * beyond PostgreSQL's range a failed query.
 */
export function isSupportedInstant(date: Date): boolean {
  const time = date.getTime();
  return time >= EARLIEST && time <= LATEST;
}

/** `2026-11-28T09:00:00.000-05:00`: the instant in `timezone`, with its offset. */
export function formatTimestamp(date: Date, timezone: string): string {
  return DateTime.fromJSDate(date, { zone: zoneOf(timezone) }).toISO() ?? date.toISOString();
}

/** `2026-11-28 09:00:00.000 -05:00`: the same, easier on the eye in a terminal. */
export function formatTimestampForPeople(date: Date, timezone: string): string {
  return DateTime.fromJSDate(date, { zone: zoneOf(timezone) }).toFormat('yyyy-MM-dd HH:mm:ss.SSS ZZ');
}

/** The IANA name of the `timezone` option's zone ('system' resolved), for the page to format times in. */
export function zoneName(timezone: string): string {
  return DateTime.local({ zone: zoneOf(timezone) }).zoneName ?? 'UTC';
}
