/**
 * Keeping passwords out of everything the package prints.
 *
 * Two layers. Connection strings that are echoed in a message are redacted where they are echoed
 * (redactCredentials): the password's place is found from the string's syntax, never by searching
 * for the password, which may also occur in the user name or the scheme. And every message that
 * comes from elsewhere (pg, Node: `getaddrinfo ENOTFOUND <host>`) passes through maskSecrets, which
 * masks every password this process was given, in whichever form it was given.
 */

/** URL schemes: `postgres://`, and any other a user may paste by mistake (`mysql://`). */
const SCHEME = /^[a-z][a-z\d+.-]*:\/\//i;

/**
 * Text with the password of every connection string in it replaced by ***: URLs (from the scheme
 * to the end of the line, since an unencoded password may hold spaces) and libpq keyword/value
 * strings (`host=db password='x y'`).
 */
export function redactCredentials(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const start = line.search(/[a-z][a-z\d+.-]*:\/\//i);
      return redactKeywords(start < 0 ? line : line.slice(0, start) + redactUrl(line.slice(start)));
    })
    .join('\n');
}

/**
 * The URL with its password replaced by ***. The user information ends at the last @: an unencoded
 * password may hold @ / ? or #, and whatever part of it a URL parser took for the host must not
 * show either. `password=` parameters are redacted up to the next &.
 */
function redactUrl(url: string): string {
  const scheme = SCHEME.exec(url)?.[0] ?? '';
  const rest = url.slice(scheme.length);
  const { user, password } = splitUserInfo(rest);
  const withoutUserInfo = password === undefined ? rest : `${user}:***${rest.slice(rest.lastIndexOf('@'))}`;
  return scheme + withoutUserInfo.replace(/([?&]password=)[^&]*/gi, '$1***');
}

/** The user name and password before the last @ of a URL without its scheme, as typed. */
function splitUserInfo(rest: string): { user: string; password: string | undefined } {
  const at = rest.lastIndexOf('@');
  const userInfo = at < 0 ? '' : rest.slice(0, at);
  const colon = userInfo.indexOf(':');
  if (colon < 0) return { user: userInfo, password: undefined };
  return { user: userInfo.slice(0, colon), password: userInfo.slice(colon + 1) };
}

/**
 * libpq's keyword/value syntax: `password = value`, the value either in single quotes (where \ escapes
 * the next character) or bare up to the next space. An unclosed quote runs to the end.
 */
const KEYWORD_PASSWORD = /((?:^|\s)password\s*=\s*)(?:'(?:[^'\\]|\\[\s\S]?)*'?|(?:[^\s\\]|\\[\s\S]?)*)/gi;

function redactKeywords(text: string): string {
  return text.replace(KEYWORD_PASSWORD, '$1***');
}

/** Every password in a connection string, as typed and as a parser reads it. */
export function secretsInConnectionString(text: string): string[] {
  const found: string[] = [];
  if (SCHEME.test(text)) {
    const password = splitUserInfo(text.replace(SCHEME, '')).password;
    if (password !== undefined) found.push(password);
    for (const match of text.matchAll(/[?&]password=([^&]*)/gi)) found.push(match[1] ?? '');
  }
  for (const match of text.matchAll(KEYWORD_PASSWORD)) found.push(keywordValue(match[0].slice(match[1]?.length)));
  return found;
}

/** A keyword value without its quotes and escapes. */
function keywordValue(raw: string): string {
  const quoted = raw.startsWith("'");
  const inner = quoted ? raw.slice(1, raw.endsWith("'") && raw.length > 1 ? -1 : undefined) : raw;
  return inner.replace(/\\([\s\S])/g, '$1');
}

/**
 * Shorter secrets are not masked: they occur inside ordinary words, so masking them would garble
 * every message, and a password that short hides nothing.
 */
const MIN_SECRET_LENGTH = 3;

const secrets = new Set<string>();
const names = new Set<string>();

/**
 * Remembers a password, as given, percent-encoded and percent-decoded (a URL may carry either),
 * so that maskSecrets hides it in messages made anywhere in this process.
 */
export function rememberSecret(secret: string | null | undefined): void {
  if (!secret) return;
  for (const form of [secret, encodeURIComponent(secret), decoded(secret)]) {
    if (form !== undefined && form.length >= MIN_SECRET_LENGTH) secrets.add(form);
  }
}

function decoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * Remembers a user, host or database name. Messages name them on purpose (`password authentication
 * failed for user "postgres"`), so a password that also occurs inside one (postgres:postgres) is
 * not masked there: the name stays readable, and what it shows is the name.
 */
export function rememberName(name: string | number | null | undefined): void {
  if (name !== undefined && name !== null && name !== '') names.add(String(name));
}

/** The text with every remembered password (and any connection string's password) replaced by ***. */
export function maskSecrets(text: string): string {
  let masked = redactCredentials(text);
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (masked.includes(secret)) masked = maskOne(masked, secret);
  }
  return masked;
}

/** Replaces the secret, except inside a remembered name that contains it. */
function maskOne(text: string, secret: string): string {
  const kept = [...names].filter((name) => name.includes(secret)).sort((a, b) => b.length - a.length);
  if (kept.length === 0) return text.split(secret).join('***');
  // At each position a name wins over the secret it contains: the first alternative is tried first.
  const pattern = new RegExp(`(${kept.map(escapeRegExp).join('|')})|${escapeRegExp(secret)}`, 'g');
  return text.replace(pattern, (_match, name: string | undefined) => name ?? '***');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
