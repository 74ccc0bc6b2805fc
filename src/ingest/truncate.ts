/**
 * A line over maxRecordBytes is kept as its first maxRecordBytes, marked: a cut JSON record is no
 * longer JSON, so it is stored as a third-party text row, and the cut is counted and reported.
 */

/** No UTF-8 character takes more than 3 bytes per UTF-16 unit: shorter lines need no byte count. */
const MAX_UTF8_BYTES_PER_UNIT = 3;

/**
 * The line as it is to be stored, and its size in bytes when it had to be cut (undefined when
 * not). `wholeBytes`: the size of the line as it was written, when the reader kept only its start.
 */
export function withinMaxBytes(line: string, max: number, wholeBytes?: number): { line: string; cutFrom?: number } {
  if (line.length <= max / MAX_UTF8_BYTES_PER_UNIT) return { line };
  const bytes = wholeBytes ?? Buffer.byteLength(line);
  if (bytes <= max) return { line };
  const kept = Buffer.from(line)
    .subarray(0, max)
    .toString('utf8')
    .replace(/\uFFFD$/, ''); // a character cut in half
  return { line: `${kept} …[truncated by logweaver-pino: ${bytes} bytes]`, cutFrom: bytes };
}
