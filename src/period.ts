/** The retention period, `30d`, `12w`, `6h`: how long rows are kept (options.ts validates it once). */
import { describe, OptionError } from './errors.js';
import type { Picked } from './options.js';

export interface Period {
  /** As given, normalised: `30d`. */
  text: string;
  hours: number;
}

const HOURS_PER_UNIT: Record<string, number> = { h: 1, d: 24, w: 24 * 7 };
/** A pass runs at most once an hour, so a shorter period would not be kept to anyway. */
const MIN_HOURS = 1;
const MAX_HOURS = 100 * 366 * 24;

/** undefined: no retention (rows are kept for ever, the default). */
export function retentionPeriod({ value, source }: Picked): Period | undefined {
  if (value === undefined || value === null) return undefined;
  const match = typeof value === 'string' ? /^\s*(\d+)\s*([hdw])\s*$/i.exec(value) : null;
  const hours = match ? Number(match[1]) * (HOURS_PER_UNIT[(match[2] as string).toLowerCase()] as number) : NaN;
  if (!match || !(hours >= MIN_HOURS && hours <= MAX_HOURS)) {
    throw new OptionError(
      `${source} must be a number of hours, days or weeks such as 6h, 30d or 12w (at most 100 years), got ${describe(value)}`,
    );
  }
  return { text: `${match[1]}${(match[2] as string).toLowerCase()}`, hours };
}
