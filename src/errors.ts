/** Error types and the one place that turns any thrown value into a printable, password-free line. */
import { maskSecrets, redactCredentials } from './secrets.js';

/**
 * An error whose message this package composed with every password already left out (connection
 * strings redacted where they are echoed): errorText prints it as it is, rather than masking words
 * of it that merely equal a password (the `postgres` of `postgres://`).
 */
export class PrintableError extends Error {}

/** A bad option value: thrown once, at start, naming the option and the value. */
export class OptionError extends PrintableError {
  override name = 'OptionError';
}

/**
 * A short, quoted rendering of a bad value for an error message, with the password of any
 * connection string in it masked (a URL typed after the wrong flag).
 */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    // Redacted before it is cut: the cut could drop the @ that shows where a URL's password ends.
    const masked = redactCredentials(value);
    return JSON.stringify(masked.length > 80 ? `${masked.slice(0, 80)}…` : masked);
  }
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/**
 * `message (SQLSTATE 28P01)` for database errors; the message alone for anything else. Messages
 * made elsewhere (pg, Node) have every known password masked: `getaddrinfo ENOTFOUND <host>` shows
 * whatever a URL parser took for the host.
 */
export function errorText(error: unknown): string {
  if (error instanceof PrintableError) return error.message;
  if (!(error instanceof Error)) return maskSecrets(String(error));
  const code = (error as { code?: unknown }).code;
  const message = maskSecrets(error.message);
  return typeof code === 'string' && code !== '' ? `${message} (${code})` : message;
}
