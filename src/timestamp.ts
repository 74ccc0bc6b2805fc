/**
 * Timestamps as PostgreSQL timestamptz literals in the configured zone, as LogWeaver wrote US/Eastern
 * times with their offset. Records arrive in time order, so the date, time and offset of the current
 * second are formatted once (luxon is the slow part) and only the milliseconds are added per row.
 */
import { DateTime } from 'luxon';

export type TimestampFormatter = (epochMillis: number) => string;

export function createTimestampFormatter(zone: string): TimestampFormatter {
  let cachedSecond = Number.NaN;
  let cachedPrefix = '';
  let cachedOffset = '';
  return (epochMillis) => {
    const second = Math.floor(epochMillis / 1000);
    if (second !== cachedSecond) {
      const time = DateTime.fromMillis(second * 1000, { zone });
      cachedSecond = second;
      cachedPrefix = time.toFormat('yyyy-MM-dd HH:mm:ss');
      cachedOffset = time.toFormat('ZZ');
    }
    const millis = Math.floor(epochMillis - second * 1000);
    return `${cachedPrefix}.${String(millis).padStart(3, '0')}${cachedOffset}`;
  };
}
