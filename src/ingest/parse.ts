/** Parse: one line of Pino output (or any text, in pipe mode) into a record, without throwing. */

export type LogRecord = Record<string, unknown>;

/** The record when the line is a JSON object; null for anything else (text, numbers, broken JSON). */
export function parseRecord(line: string): LogRecord | null {
  // Pino lines always start with '{'; skipping JSON.parse for the rest keeps text lines cheap.
  if (line.charCodeAt(0) !== 0x7b) return null;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as LogRecord) : null;
  } catch {
    return null;
  }
}
