/**
 * A stored row as JSON, keyed by the table's column names, in the table's column order: what
 * `tail --json` prints and what the viewer's API returns.
 */
import { formatTimestamp } from './time.js';

export interface StoredRow {
  log_id: number;
  run_number: number;
  application_name: string;
  open_clone_log: boolean;
  /** The instant in the configured time zone, with its offset. */
  timestamp: string;
  message: string;
  tags: string;
  level: string;
  machine_name: string;
  ip_address: string;
  /** Only on the package's table: the record as it arrived (null where none was kept). */
  record?: unknown;
}

/** What pg returns for the selected columns (bigint log_id arrives as a string). */
export type RawRow = Omit<StoredRow, 'log_id' | 'timestamp'> & { log_id: string | number; timestamp: Date };

export function toStoredRow(raw: RawRow, timezone: string): StoredRow {
  const row: StoredRow = {
    log_id: Number(raw.log_id),
    run_number: raw.run_number,
    application_name: raw.application_name,
    open_clone_log: raw.open_clone_log,
    timestamp: formatTimestamp(raw.timestamp, timezone),
    message: raw.message,
    tags: raw.tags,
    level: raw.level,
    machine_name: raw.machine_name,
    ip_address: raw.ip_address,
  };
  if ('record' in raw) row.record = raw.record ?? null;
  return row;
}
