/** Error types and the one place that turns any thrown value into a printable, password-free line. */

/** A bad option value: thrown once, at start, naming the option and the value. */
export class OptionError extends Error {
  override name = 'OptionError';
}

/** A short, quoted rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** `message (SQLSTATE 28P01)` for database errors; the message alone for anything else. */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? `${error.message} (${code})` : error.message;
}
