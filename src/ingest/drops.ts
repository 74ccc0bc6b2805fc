/**
 * Drops: a record is only ever lost where it is counted and reported. Losses are counted by reason
 * and, once writing works, become rows where the logs are, such as
 * `logweaver: 1234 records dropped (spool full) between T1 and T2` (WARNING, tag logweaver).
 * Also which records go first when the spool's disk budget runs low.
 */
import { isBelowWarning } from '../levels.js';
import type { QueuedLine } from './enrich.js';

/**
 * The share of the spool that DEBUG and INFO lines may fill: the rest is kept for WARNING, ERROR and
 * CRITICAL, so that when the disk budget runs out the least important records are shed first.
 */
const LOW_LEVEL_SPOOL_SHARE = 0.75;

/** Whether a line bound for the spool is shed rather than kept, with the spool this full. */
export function shedsFromSpool(line: string, spoolBytes: number, maxSpoolBytes: number): boolean {
  return spoolBytes >= maxSpoolBytes * LOW_LEVEL_SPOOL_SHARE && lineIsBelowWarning(line);
}

/** Judged from Pino's leading level, without parsing the line; text counts as INFO. */
function lineIsBelowWarning(line: string): boolean {
  const match = /^\{"level":(?:(\d+)|"(\w+)")/.exec(line);
  if (!match) return true;
  return isBelowWarning(match[1] !== undefined ? Number(match[1]) : (match[2] ?? ''));
}

export class DropLedger {
  /** Every record dropped since the start. */
  total = 0;
  private readonly unreported = new Map<string, { count: number; first: number; last: number }>();

  count(reason: string, lines = 1): void {
    if (lines === 0) return;
    this.total += lines;
    const now = Date.now();
    const drops = this.unreported.get(reason);
    if (drops) {
      drops.count += lines;
      drops.last = now;
    } else this.unreported.set(reason, { count: lines, first: now, last: now });
  }

  /** Whether some loss is not yet recorded as a row. */
  get unrecorded(): boolean {
    return this.unreported.size > 0;
  }

  /** The rows that record the losses so far, one per reason, as Pino lines; the ledger starts anew. */
  takeRows(messageKey: string): QueuedLine[] {
    const rows = [...this.unreported].map(([reason, { count, first, last }]) => {
      const between = `${new Date(first).toISOString()} and ${new Date(last).toISOString()}`;
      const message = `logweaver: ${count} records dropped (${reason}) between ${between}`;
      const line = JSON.stringify({ level: 40, time: last, [messageKey]: message, tags: ['logweaver'] });
      return { line, arrived: last };
    });
    this.unreported.clear();
    return rows;
  }
}
