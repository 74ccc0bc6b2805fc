/**
 * COPY ... FROM STDIN (FORMAT binary): one COPY per batch, the fastest way into PostgreSQL (about 2x
 * an unnest INSERT and 20x one INSERT per row; DESIGN.md §4). The binary format needs no escaping
 * and no timestamp text on either side: measured in bench/README.md.
 *
 * Layout: signature, flags, extension length; per row a field count and, per field, a byte length
 * (-1 for NULL) and the value in the type's binary form; a -1 field count ends the data.
 */
import type { LogRow } from '../ingest/enrich.js';

/** The columns every LogWeaver table has, in the order rows are encoded. */
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

/** How each column's values are encoded, from the table's actual column types. */
export interface ColumnEncodings {
  runNumber: 'int4' | 'int8';
  /** Absent when the table has no record column (OpenClone's table). */
  record?: 'json' | 'jsonb' | 'text';
}

interface RunColumns {
  runNumber: number;
  application: string;
  machineName: string;
  ipAddress: string;
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO_TO_32 = 2 ** 32;
/** Row overhead besides strings: field count, 10 lengths, integers, boolean, timestamp. */
const FIXED_ROW_BYTES = 2 + 10 * 4 + 8 + 1 + 8 + 1;

/** Text columns cannot hold NUL, in any format: it becomes the replacement character. */
export function withoutNul(value: string): string {
  return value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
}

// \u0000 and unpaired surrogate escapes are valid json text but make ->> fail on the row; replace
// them so every stored record can be queried. Escapes are read left to right as a json parser does:
// an escaped backslash is consumed first, so the text `\\u0000` (a backslash, then "u0000") is kept.
const ESCAPES_TO_CHECK =
  /\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u0000|\\u[dD][89a-fA-F][0-9a-fA-F]{2}/g;

function queryableEscape(escape: string): string {
  return escape.length === 6 ? '\\ufffd' : escape; // \u0000 or a lone surrogate
}

function queryableJson(json: string): string {
  return json.includes('\\u') ? withoutNul(json).replace(ESCAPES_TO_CHECK, queryableEscape) : withoutNul(json);
}

/**
 * Encodes a batch as one binary COPY payload, into `reuse` when it is large enough (it must not be
 * in use: the payload overwrites it). The payload's ArrayBuffer is never shared with other code.
 */
export function encodeBatch(
  rows: readonly LogRow[],
  run: RunColumns,
  encodings: ColumnEncodings,
  reuse?: Buffer,
): Buffer {
  const constants = [run.application, run.machineName, run.ipAddress].map((text) => Buffer.from(withoutNul(text)));
  const [application, machine, ip] = constants as [Buffer, Buffer, Buffer];
  const writer = new BufferWriter(estimateBytes(rows, constants), reuse);
  writer.bytes(SIGNATURE);
  writer.int32(0);
  writer.int32(0);
  const fields = encodings.record ? 10 : 9;
  for (const row of rows) {
    writer.ensure(FIXED_ROW_BYTES + constants.reduce((sum, buffer) => sum + buffer.length, 0) + maxStringBytes(row));
    writer.int16(fields);
    const runNumber = row.run ?? run.runNumber;
    if (encodings.runNumber === 'int8') writer.int64Field(runNumber);
    else writer.int32Field(runNumber);
    writer.bytesField(application);
    writer.boolField(row.ownLog);
    writer.int64Field(Math.round((row.time - POSTGRES_EPOCH_MS) * 1000));
    writer.textField(withoutNul(row.message));
    writer.textField(withoutNul(row.tags));
    writer.textField(withoutNul(row.level));
    writer.bytesField(machine);
    writer.bytesField(ip);
    if (encodings.record) writer.recordField(row.record === null ? null : queryableJson(row.record), encodings.record);
  }
  writer.int16(-1);
  return writer.result();
}

function maxStringBytes(row: LogRow): number {
  return 3 * (row.message.length + row.tags.length + row.level.length + (row.record?.length ?? 0)) + 1;
}

function estimateBytes(rows: readonly LogRow[], constants: Buffer[]): number {
  const perRow = FIXED_ROW_BYTES + constants.reduce((sum, buffer) => sum + buffer.length, 0);
  let strings = 0;
  for (const row of rows)
    strings += row.message.length + row.tags.length + row.level.length + (row.record?.length ?? 0);
  return 32 + rows.length * perRow + Math.ceil(strings * 1.1);
}

/**
 * Appends binary COPY values to a growing buffer. Buffers come from allocUnsafeSlow, never from
 * Node's shared pool, so that a payload's memory can be reused for a later one.
 */
class BufferWriter {
  private buffer: Buffer;
  private offset = 0;

  constructor(initialBytes: number, reuse: Buffer | undefined) {
    this.buffer = reuse && reuse.length >= initialBytes ? reuse : Buffer.allocUnsafeSlow(initialBytes);
  }

  ensure(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.offset + bytes));
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  int16(value: number): void {
    this.ensure(2);
    this.offset = this.buffer.writeInt16BE(value, this.offset);
  }

  int32(value: number): void {
    this.offset = this.buffer.writeInt32BE(value, this.offset);
  }

  bytes(value: Buffer): void {
    this.ensure(value.length);
    this.offset += value.copy(this.buffer, this.offset);
  }

  int32Field(value: number): void {
    this.int32(4);
    this.int32(value);
  }

  /** An integer as int8 (run numbers, and timestamps in microseconds since 2000). */
  int64Field(value: number): void {
    this.int32(8);
    if (!Number.isSafeInteger(value)) {
      this.offset = this.buffer.writeBigInt64BE(BigInt(value), this.offset);
      return;
    }
    const high = Math.floor(value / TWO_TO_32);
    this.int32(high);
    this.offset = this.buffer.writeUInt32BE(value - high * TWO_TO_32, this.offset);
  }

  boolField(value: boolean): void {
    this.int32(1);
    this.offset = this.buffer.writeUInt8(value ? 1 : 0, this.offset);
  }

  bytesField(value: Buffer): void {
    this.int32(value.length);
    this.offset += value.copy(this.buffer, this.offset);
  }

  /** UTF-8 text; lone surrogates become U+FFFD in the encoding, so the server never sees bad bytes. */
  textField(value: string): void {
    const start = this.offset;
    const written = this.buffer.write(value, start + 4, 'utf8');
    this.buffer.writeInt32BE(written, start);
    this.offset = start + 4 + written;
  }

  recordField(value: string | null, type: 'json' | 'jsonb' | 'text'): void {
    if (value === null) {
      this.int32(-1);
      return;
    }
    if (type !== 'jsonb') {
      this.textField(value);
      return;
    }
    // jsonb's binary form is a version byte (1) followed by the text.
    const start = this.offset;
    this.buffer.writeUInt8(1, start + 4);
    const written = this.buffer.write(value, start + 5, 'utf8');
    this.buffer.writeInt32BE(written + 1, start);
    this.offset = start + 5 + written;
  }

  result(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }
}
